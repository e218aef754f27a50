"""``check(model, profile)``: every way a model does not fit a target.

The walk is ``keras_spiking.graph.calls`` (nested models inlined), each call
classified by ``keras_spiking.layer_facts`` (a ``TimeFold``/``TimeDistributed``
is judged by the layer it wraps) and each neuron read through its
``dynamics()``. The check judges structure and size; precision (weights,
thresholds, decays on the integer grid) is what ``quantize`` fixes. A layer
the check cannot judge is reported as a ``"judged"`` violation, never passed.

Speck's per-core memory (sinabs ``memory_summary``): a weight layer with ``c``
input channels, ``f`` output channels, ``kx * ky`` kernels and an ``fy * fx``
output needs ``c * 2**(ceil(log2(kx ky)) + ceil(log2 f))`` kernel entries and
``f * 2**(ceil(log2 fy) + ceil(log2 fx))`` neuron entries, in one core.
"""

import dataclasses
import math

import numpy as np

from keras_spiking import graph
from keras_spiking.hardware.profiles import get_profile
from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer

#: Roles that carry values through unchanged in structure (walked through).
PASS = ("stateless", "dropout", "time")


@dataclasses.dataclass(frozen=True)
class Violation:
    """One way the model breaks one constraint: which ``layer`` (or
    ``"<model>"``), the ``constraint`` (a ``Profile`` field, or ``"judged"``
    for a layer the check cannot judge), the model's ``value``, the profile's
    ``limit`` and ``fix``, what to change."""

    layer: str
    constraint: str
    value: object
    limit: object
    fix: str

    def __str__(self):
        return (f"{self.layer}: {self.constraint} = {self.value} (limit {self.limit}); "
                f"{self.fix}")


def _name(call, layer=None):
    return "/".join(call.path + ((layer or call.layer).name,))


def inner(layer):
    """The layer a ``TimeFold``/``TimeDistributed`` wraps, else the layer."""
    if facts_of(layer).time_axis == "wraps" and hasattr(layer, "layer"):
        return layer.layer
    return layer


def feeder(call, producer):
    """The call feeding ``call``'s first input through pass-through layers
    (reshaping, dropout, pooling, time wrappers, ``RepeatTime``), or None (a
    model input).
    ``producer`` maps value numbers to the calls that output them."""
    ids = list(call.input_ids)
    while ids:
        found = producer.get(ids[0])
        if found is None:
            return None
        if facts_of(inner(found.layer)).role in PASS + ("pooling",):
            ids = list(found.input_ids)
            continue
        return found
    return None


def _pairs(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _log2up(n):
    return math.ceil(math.log2(n)) if n > 1 else 0


def _fits_cores(needs, cores):
    """Can each (kernel, neuron) need get its own core? (backtracking match)"""
    order = sorted(range(len(needs)), key=lambda i: -needs[i][0] * needs[i][1])

    def place(k, free):
        if k == len(order):
            return True
        need = needs[order[k]]
        for c in list(free):
            if cores[c][0] >= need[0] and cores[c][1] >= need[1]:
                if place(k + 1, free - {c}):
                    return True
        return False

    return place(0, frozenset(range(len(cores))))


class _Checker:
    def __init__(self, model, profile):
        self.p = profile
        self.found = []
        self.calls = graph.calls(model, owner="check")
        self.producer = {i: c for c in self.calls for i in c.output_ids}
        self.neuron_counts = []  # (name, units)
        self.weights = 0
        self.core_needs = []  # (name, kernel entries, neuron entries)
        self.model = model

    def add(self, layer, constraint, value, limit, fix):
        self.found.append(Violation(layer, constraint, value, limit, fix))

    def limit(self, layer, constraint, value, fix):
        limit = getattr(self.p, constraint)
        if limit is not None and value > limit:
            self.add(layer, constraint, value, limit, fix.format(over=value - limit))

    def upstream(self, call):
        return feeder(call, self.producer)

    # -- per layer ---------------------------------------------------------------------
    def run(self):
        for call in self.calls:
            layer = inner(call.layer)
            facts = facts_of(layer)
            name = _name(call, call.layer)
            method = getattr(self, "_" + facts.role, None)
            if method is None:
                self.add(name, "judged", type(layer).__name__, "a layer the check knows",
                         "register its facts with keras_spiking.layer_facts.register, "
                         "or replace it")
            else:
                method(call, layer, facts, name)
        self._totals()
        return self.found

    def _stateless(self, call, layer, facts, name):
        pass

    _dropout = _time = _stateless

    def _readout(self, call, layer, facts, name):
        """A ``RunningMean`` after the output layer averages what the chip sends out:
        the host computes it (no neurons, no weights on chip); elsewhere it is judged."""
        if any(c is not call and facts_of(inner(c.layer)).role != "readout"
               and set(c.input_ids) & set(call.output_ids) for c in self.calls):
            self.add(name, "judged", type(layer).__name__, "a readout of the model's outputs",
                     "keep RunningMean at the outputs only (convert(..., readout='mean'))")

    def _merge(self, call, layer, facts, name):
        if not self.p.merges:
            self.add(name, "merges", type(layer).__name__, "no merge layers",
                     "use a single path (no Add/Concatenate)")

    def _normalization(self, call, layer, facts, name):
        self.add(name, "judged", type(layer).__name__, "no normalisation on chip",
                 "fold it into the previous weights (converters.convert does)")

    def _activation(self, call, layer, facts, name):
        self.add(name, "judged", "a rate activation", "spiking neurons",
                 "convert the model to spikes first (keras_spiking.converters.convert)")

    def _pooling(self, call, layer, facts, name):
        if facts.pool in ("max", "spike") and not self.p.max_pooling:
            self.add(name, "max_pooling", type(layer).__name__, "average/sum pooling only",
                     "use average pooling (convert(..., max_pool='average'))")
        size = getattr(layer, "pool_size", None)
        if size is not None and self.p.pool_sizes is not None:
            bad = [s for s in _pairs(size) if s not in self.p.pool_sizes]
            if bad:
                self.add(name, "pool_sizes", tuple(_pairs(size)), self.p.pool_sizes,
                         f"use a pool size in {self.p.pool_sizes}")

    def _filter(self, call, layer, facts, name):
        if not self.p.synapse:
            self.add(name, "synapse", type(layer).__name__, "no synaptic filters",
                     "remove the filter or fold it into the neuron")

    def _neuron(self, call, layer, facts, name):
        if facts.face == "rate":
            self.add(name, "judged", "a rate neuron", "spiking neurons",
                     "convert the model to spikes first (keras_spiking.converters.convert)")
            return
        shape = call.outputs[0].shape
        units = int(np.prod(shape[2:]))
        self.neuron_counts.append((name, units))
        d = layer.dynamics()
        leaky = d.gain is None or np.any(np.asarray(d.decay) < 1)
        if leaky and not self.p.leak:
            self.add(name, "leak", f"decay {np.min(d.decay):.4g}", "no leak (IAF only)",
                     "use integrate-and-fire neurons (IF, SpikingIF: decay 1)")
        if d.synaptic and not self.p.synapse:
            self.add(name, "synapse", "a synaptic current", "no synaptic current",
                     "use a first-order neuron (Leaky/IF instead of Synaptic)")
        if d.recurrent is not None:
            if not self.p.recurrence:
                self.add(name, "recurrence", d.recurrent, "no recurrence",
                         "use a feed-forward neuron (Leaky instead of RLeaky)")
            if d.recurrent != "one_to_one" and d.recurrent_kernel is not None:
                self.weights += int(np.size(d.recurrent_kernel))
        if d.graded and not self.p.graded_spikes:
            self.add(name, "graded_spikes", "graded spikes", "binary spikes",
                     "use binary spikes (graded=False)")

    def _linear(self, call, layer, facts, name):
        p = self.p
        kind = facts.connections
        if kind not in ("dense", "conv", "depthwise"):
            self.add(name, "judged", type(layer).__name__, "dense/conv/depthwise",
                     "replace it by a Dense or Conv layer")
            return
        if p.connections is not None and kind not in p.connections:
            self.add(name, "connections", kind, p.connections,
                     f"use only {'/'.join(p.connections)} layers")
        kernel = layer.kernel  # Keras 3: DepthwiseConv too
        shape = tuple(kernel.shape)
        self.weights += int(np.prod(shape))
        spatial = shape[:-2] if kind != "dense" else ()
        fan_in = int(np.prod(shape[:-2] if kind == "depthwise" else shape[:-1]))
        features = shape[-1] * (shape[-2] if kind == "depthwise" else 1)
        self.limit(name, "max_fan_in", fan_in,
                   "fewer inputs per neuron (by {over}): a smaller kernel or fewer units before")
        self.limit(name, "max_features", features, "fewer output channels (by {over})")
        if spatial:
            self.limit(name, "max_kernel_size", max(spatial),
                       "a smaller kernel (by {over} per side)")
            strides = _pairs(layer.strides)
            if p.strides is not None and any(s not in p.strides for s in strides):
                self.add(name, "strides", tuple(strides), p.strides,
                         f"use strides in {p.strides}")
            padding = (0,) if layer.padding == "valid" else [k // 2 for k in spatial]
            self.limit(name, "max_padding", max(padding), "less padding (by {over})")
        if getattr(layer, "use_bias", False) and not p.bias:
            self.add(name, "bias", "use_bias=True", "no biases",
                     "use_bias=False (or a constant input neuron)")
        feeder = self.upstream(call)
        if not p.consecutive_weights and feeder is not None \
                and facts_of(inner(feeder.layer)).role == "linear":
            self.add(name, "consecutive_weights", f"after {_name(feeder, feeder.layer)}",
                     "a neuron layer between weight layers", "put a neuron layer between them")
        if p.cores is not None:
            out = tuple(call.outputs[0].shape)
            grid = tuple(out[-3:-1]) if kind != "dense" and len(out) >= 4 else (1, 1)
            k_entries = (shape[-2] if kind != "depthwise" else 1) * 2 ** (
                _log2up(int(np.prod(spatial or (1,)))) + _log2up(features))
            n_entries = features * 2 ** (_log2up(grid[0]) + _log2up(grid[1]))
            self.core_needs.append((name, k_entries, n_entries))

    # -- the whole model ------------------------------------------------------------------
    def _totals(self):
        p = self.p
        shape = tuple(self.model.inputs[0].shape)
        self.limit("<model>", "max_inputs", int(shape[-1]),
                   "fewer input channels (by {over})")
        if p.max_input_size is not None and len(shape) >= 4:
            size = max(int(s) for s in shape[-3:-1] if s is not None)
            self.limit("<model>", "max_input_size", size, "a smaller input (by {over} pixels)")
        total = sum(n for _, n in self.neuron_counts)
        last = self._output_call()
        if last is not None:
            # the output layer: a neuron layer, or a linear readout (output neurons on chip)
            units = int(np.prod(last.outputs[0].shape[2:]))
            name = _name(last, last.layer)
            self.limit(name, "max_outputs", units, "fewer output neurons (by {over})")
            hidden = total - units if isinstance(last.layer, DynamicsLayer) else total
            self.limit("<model>", "max_hidden_neurons", hidden,
                       "fewer hidden neurons (by {over})")
        self.limit("<model>", "max_neurons", total, "fewer neurons (by {over})")
        self.limit("<model>", "max_weights", self.weights, "fewer weights (by {over})")
        if p.cores is not None:
            self._cores()

    def _output_call(self):
        """The neuron or weight layer whose values the model outputs (through
        pass-through layers and synaptic filters), or None."""
        call = self.calls[-1] if self.calls else None
        while call is not None:
            role = facts_of(inner(call.layer)).role
            if role == "linear" or (role == "neuron" and facts_of(call.layer).face != "rate"):
                return call
            if role not in PASS + ("pooling", "filter", "readout"):
                return None
            found = self.producer.get(call.input_ids[0]) if call.input_ids else None
            call = found
        return None

    def _cores(self):
        cores = self.p.cores
        big_k, big_n = max(c[0] for c in cores), max(c[1] for c in cores)
        fit = True
        for name, k, n in self.core_needs:
            if k > big_k:
                fit = False
                self.add(name, "cores", f"{k} kernel entries", f"{big_k} in the largest core",
                         f"{k / big_k:.3g}x too many (by {k - big_k}): fewer input or "
                         "output channels, or a smaller kernel")
            if n > big_n:
                fit = False
                self.add(name, "cores", f"{n} neuron entries", f"{big_n} in the largest core",
                         f"{n / big_n:.3g}x too many (by {n - big_n}): fewer output channels "
                         "or a smaller output")
        if len(self.core_needs) > len(cores):
            self.add("<model>", "cores", f"{len(self.core_needs)} weight layers",
                     f"{len(cores)} cores", "fewer layers (one weight layer per core)")
        elif fit and not _fits_cores([c[1:] for c in self.core_needs], cores):
            self.add("<model>", "cores", "no assignment of layers to cores",
                     "the per-core memories", "smaller layers")


def check(model, profile):
    """Every violation of ``profile`` (a name or a ``Profile``) by ``model``.

    Returns a list of ``Violation`` (empty: the model fits as far as the
    profile's published constraints tell). A layer the check cannot judge
    (unknown class, a rate activation, normalisation) is a violation too.
    """
    return _Checker(model, get_profile(profile)).run()


def format_violations(violations, profile_name=""):
    """A short text report: one line per violation, or that the model fits."""
    if not violations:
        return f"fits {profile_name}".rstrip() + ": no violations"
    lines = [f"{len(violations)} violation(s) of {profile_name}".rstrip() + ":"]
    lines += [f"  {v}" for v in violations]
    return "\n".join(lines)
