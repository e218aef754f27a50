"""``quantize(model, profile)``: a model on a chip's integer grid that still runs in Keras.

Per weight layer, with ``L = 2**(weight_bits - 1) - 1`` levels and the spike
value ``u`` of the neurons feeding it (1 for 0/1 spikes and for model inputs)::

    s = max|W| / L                    per layer, or per output channel
    W_q = s * clip(round(W / s), -L, L)
    b_q = (s u) * clip(round(b / (s u)), -B, B)          B from bias_bits

and per neuron layer after it, with its input gain ``g`` (1 for ``Leaky``,
``dt`` for ``SpikingIF``) the state quantum is ``q = g s u / 2**f`` (``f`` the
profile's ``state_fraction_bits``, 6 for Loihi as in lava-dl): the threshold
becomes ``q * round(threshold / q)``, a recurrent weight ``q * round(W_r / q)``,
and the layer runs with ``integer_state`` (see ``neurons.IntegerState``):
current and voltage are integers times ``q``, saturated to ``state_bits``. The
decays go to the profile's grid: ``"multiply"`` (Loihi, 12 bits):
``round(decay * 2**n) / 2**n``; ``"shift"`` (Xylo): ``1 - 2**-dash`` with
``dash = round(log2(1 / (1 - decay)))`` (``= round(log2(tau / dt))``).

Layers that have no integer form here (``SpikingLIF``'s refractory period and
relaxation form, ``ContinuousLIF``, synaptic filters, a neuron without a weight
layer before it) keep float state and are listed in ``report.skipped``.
"""

import dataclasses

import keras
import numpy as np

from keras_spiking import graph
from keras_spiking.hardware.check import inner, feeder
from keras_spiking.hardware.profiles import get_profile
from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.layers.leaky import IF, LeakyNeuron, Synaptic
from keras_spiking.layers.spiking import SpikingIF, SpikingLIF
from keras_spiking.validation import check_finite_weights


def levels(bits):
    """The largest magnitude of a ``bits``-bit signed integer grid (symmetric)."""
    return 2 ** (int(bits) - 1) - 1


def integer_grid(values, bits, *, per_channel=False, scale=None):
    """``(k, scale)``: integers ``k = clip(round(values / scale), -L, L)``,
    ``L = 2**(bits-1) - 1``, with ``scale = max|values| / L`` over the whole
    array or per slice along the last axis (``per_channel``), unless given.
    An all-zero array (or channel) gets scale 1."""
    values = np.asarray(values, "float64")
    top = levels(bits)
    if scale is None:
        axes = tuple(range(values.ndim - 1)) if per_channel else None
        scale = np.max(np.abs(values), axis=axes, keepdims=bool(per_channel)) / top
        scale = np.where(scale > 0, scale, 1.0)
    return np.clip(np.round(values / scale), -top, top), scale


def quantize_decay(decay, profile):
    """A decay per step on ``profile``'s grid (see the module docstring)."""
    profile = get_profile(profile)
    decay = np.clip(np.asarray(decay, "float64"), 0.0, 1.0)
    if profile.decay_mode == "multiply":
        n = 2.0 ** profile.decay_bits
        out = np.round(decay * n) / n
    else:
        with np.errstate(divide="ignore"):
            dash = np.round(np.log2(1.0 / np.maximum(1.0 - decay, 1e-300)))
        dash = np.clip(dash, 0, profile.state_bits - 1)
        out = np.where(decay >= 1.0, 1.0, 1.0 - 2.0 ** -dash)
    return float(out) if out.ndim == 0 else out


@dataclasses.dataclass
class Quantized:
    """One value put on the grid: ``layer``, ``what`` (kernel, bias, threshold,
    decay, ...), its integer ``bits``, the ``scale`` of one integer unit and the
    largest change made."""

    layer: str
    what: str
    bits: object
    scale: object
    max_error: float


@dataclasses.dataclass
class QuantizeReport:
    """What ``quantize`` did: ``values`` (``Quantized`` rows), ``skipped``
    (``(layer, reason)`` of layers left in float), and with data the
    accuracies before/after (labels given) and the agreement of the two
    models' predicted classes."""

    profile: str
    values: list = dataclasses.field(default_factory=list)
    skipped: list = dataclasses.field(default_factory=list)
    accuracy_before: float = None
    accuracy_after: float = None
    agreement: float = None

    def __str__(self):
        lines = [f"quantized for {self.profile}: {len(self.values)} values on the grid"]
        for row in self.values:
            scale = np.asarray(row.scale, "float64")
            scale = ("-" if row.scale is None else f"{float(scale):.4g}") if scale.size == 1 \
                else f"{scale.size} scales"
            lines.append(f"  {row.layer:<28} {row.what:<16} {row.bits!s:>5} bits  "
                         f"scale {scale}  max change {row.max_error:.3g}")
        for layer, reason in self.skipped:
            lines.append(f"  {layer:<28} left in float: {reason}")
        if self.accuracy_before is not None:
            lines.append(f"accuracy {self.accuracy_before:.4f} -> {self.accuracy_after:.4f}")
        if self.agreement is not None:
            lines.append(f"same predicted class: {self.agreement:.4f}")
        return "\n".join(lines)


class _Plan:
    """The quantised values of one model, computed from the original."""

    def __init__(self, model, profile, per_channel):
        self.p, self.per_channel = profile, per_channel
        self.report = QuantizeReport(profile.name)
        self.index = {id(v): i for i, v in enumerate(model.weights)}
        self.assign = {}  # weight index -> value
        self.config = {}  # layer name -> config changes
        self.calls = graph.calls(model, owner="quantize")
        self.producer = {i: c for c in self.calls for i in c.output_ids}
        self.grid = {}  # id(linear call) -> (scale per output, spike value of inputs)
        self.neuron_of = {}  # id(linear call) -> the neuron call it feeds
        for call in self.calls:
            if isinstance(call.layer, DynamicsLayer):
                source = self.upstream(call)
                if source is not None:
                    self.neuron_of[id(source)] = call

    def upstream(self, call):
        return feeder(call, self.producer)

    def put(self, layer, what, variable, value, bits, scale):
        old = np.asarray(keras.ops.convert_to_numpy(variable), "float64")
        value = np.broadcast_to(value, old.shape)
        self.assign[self.index[id(variable)]] = value
        self.report.values.append(Quantized(layer, what, bits, np.squeeze(scale),
                                            float(np.max(np.abs(value - old), initial=0.0))))

    def run(self):
        for call in self.calls:
            layer = inner(call.layer)
            name = "/".join(call.path + (call.layer.name,))
            if facts_of(layer).role == "linear":
                self.linear(call, layer, name)
            elif isinstance(layer, DynamicsLayer):
                self.neuron(call, layer, name)
        return self

    def linear(self, call, layer, name):
        kind = facts_of(layer).connections
        if kind not in ("dense", "conv", "depthwise"):
            self.report.skipped.append((name, f"{type(layer).__name__}: no integer rule"))
            return
        neuron = self.neuron_of.get(id(call))
        per_channel = self.per_channel and kind != "depthwise" and neuron is not None \
            and isinstance(neuron.layer, LeakyNeuron)
        kernel = layer.kernel  # Keras 3: DepthwiseConv too
        w = np.asarray(keras.ops.convert_to_numpy(kernel), "float64")
        check_finite_weights("quantize", name, "kernel", w)
        k, scale = integer_grid(w, self.p.weight_bits, per_channel=per_channel)
        self.put(name, "kernel", kernel, k * scale, self.p.weight_bits, scale)
        scale = np.squeeze(scale) if per_channel else float(scale)
        source = self.upstream(call)
        unit = 1.0
        if source is not None and isinstance(source.layer, DynamicsLayer):
            d = source.layer.dynamics()
            if d.spiking and np.ndim(d.amplitude) == 0:
                unit = float(d.amplitude)
        self.grid[id(call)] = (scale, unit)
        bias = getattr(layer, "bias", None) if getattr(layer, "use_bias", False) else None
        if bias is not None:
            step = np.asarray(scale) * unit
            b = np.asarray(keras.ops.convert_to_numpy(bias), "float64")
            bits = self.p.bias_bits or self.p.state_bits
            kb, _ = integer_grid(b, bits, scale=step)
            self.put(name, "bias", bias, kb * step, bits, step)

    def neuron(self, call, layer, name):
        p = self.p
        source = self.upstream(call)
        if not isinstance(layer, (LeakyNeuron, SpikingIF, SpikingLIF)):
            self.report.skipped.append((name, f"{type(layer).__name__}: no integer form"))
            return
        if source is None or id(source) not in self.grid:
            self.report.skipped.append((name, "no weight layer feeds it, so no grid"))
            return
        scale, unit = self.grid[id(source)]
        d = layer.dynamics()
        gain = 1.0 if d.gain is None else d.gain
        q = np.asarray(scale) * unit * gain / 2.0 ** p.state_fraction_bits
        changes = {}
        top = levels(p.threshold_limit_bits)
        threshold = np.asarray(d.threshold, "float64")
        k = np.clip(np.round(threshold / q), 1, top)
        new = k * q
        self.report.values.append(Quantized(name, "threshold", p.threshold_limit_bits, q,
                                            float(np.max(np.abs(new - threshold)))))
        changes["threshold"] = float(new) if new.ndim == 0 else new.tolist()
        if isinstance(layer, LeakyNeuron):
            if layer.threshold_variable is not None:
                self.assign[self.index[id(layer.threshold_variable)]] = np.broadcast_to(
                    new, layer.threshold_variable.shape)
            decays = [("beta", "beta_variable")] if not isinstance(layer, IF) else []
            if isinstance(layer, Synaptic):
                decays.append(("alpha", "alpha_variable"))
            for arg, var in decays:
                variable = getattr(layer, var)
                old = np.asarray(getattr(layer, arg) if variable is None else
                                 keras.ops.convert_to_numpy(variable), "float64")
                new_decay = quantize_decay(old, p)
                self.report.values.append(Quantized(name, arg, p.decay_bits if
                                                    p.decay_mode == "multiply" else "shift",
                                                    None, float(np.max(np.abs(new_decay - old)))))
                changes[arg] = new_decay if np.ndim(new_decay) == 0 else new_decay.tolist()
                if variable is not None:
                    self.assign[self.index[id(variable)]] = np.broadcast_to(new_decay,
                                                                            variable.shape)
            if getattr(layer, "recurrent_kernel", None) is not None:
                kr, _ = integer_grid(keras.ops.convert_to_numpy(layer.recurrent_kernel),
                                     p.weight_bits, scale=q)
                self.put(name, "recurrent_kernel", layer.recurrent_kernel, kr * q,
                         p.weight_bits, q)
        if isinstance(layer, SpikingLIF):
            decay = quantize_decay(d.decay, p)
            changes["tau_rc"] = float(-layer.dt / np.log(decay)) if 0 < decay < 1 \
                else layer.tau_rc
            changes["offset"] = float(np.round(layer.offset / q) * q)
            self.report.skipped.append((name, "SpikingLIF: refractory period and relaxation "
                                              "form keep float state (weights, threshold, "
                                              "decay and offset quantised)"))
        else:
            changes["integer_state"] = dict(
                quantum=float(q) if q.ndim == 0 else q.tolist(), bits=p.state_bits,
                decay_mode=p.decay_mode, decay_bits=p.decay_bits)
        self.config[call.layer.name] = changes


def _scores(model, x):
    out = model.predict(x, verbose=0)
    out = out[0] if isinstance(out, (list, tuple)) else np.asarray(out)
    return out.sum(axis=1) if out.ndim == 3 else out


def _labels(y, scores):
    y = np.asarray(y)
    return y.argmax(-1) if y.ndim == scores.ndim and y.shape[-1] == scores.shape[-1] else y


def quantize(model, profile, calibration_data=None, *, per_channel=None):
    """A copy of ``model`` on ``profile``'s integer grid, and a ``QuantizeReport``.

    Args:
        model: a Functional or Sequential model of package neurons (converted
            or surrogate-trained); weights, biases, thresholds, decays and state
            go on the grid (module docstring). The copy runs in Keras.
        profile: a profile name (``profiles()``) or a ``Profile``.
        calibration_data: None, inputs ``x`` or ``(x, y)``: the scales come
            from the weights; the data only measures the agreement of the two
            models' predicted classes (and their accuracies given labels ``y``,
            class indices or one-hot). Outputs ``(batch, time, classes)`` are
            summed over time.
        per_channel: one weight scale per output channel (None: the
            profile's ``per_channel``); used where the neuron after the layer
            takes per-unit thresholds (the ``Leaky`` family), else per layer.

    Returns ``(quantized_model, report)``.
    """
    profile = get_profile(profile)
    if not isinstance(model, keras.Model):
        raise TypeError(f"quantize: expected a keras.Model, got {type(model).__name__}.")
    per_channel = profile.per_channel if per_channel is None else bool(per_channel)
    plan = _Plan(model, profile, per_channel).run()

    def clone(layer):
        config = layer.get_config()
        config.update(plan.config.get(layer.name, {}))
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    for index, value in plan.assign.items():
        variable = copy.weights[index]
        variable.assign(np.asarray(value).astype(variable.dtype))
    report = plan.report
    if calibration_data is not None:
        x, y = calibration_data if isinstance(calibration_data, tuple) else (
            calibration_data, None)
        before, after = _scores(model, x), _scores(copy, x)
        report.agreement = float(np.mean(before.argmax(-1) == after.argmax(-1)))
        if y is not None:
            labels = _labels(y, before)
            report.accuracy_before = float(np.mean(before.argmax(-1) == labels))
            report.accuracy_after = float(np.mean(after.argmax(-1) == labels))
    return copy, report
