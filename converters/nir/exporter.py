"""The Keras -> NIR exporter's state, and the registry of its per-class rules.

A rule turns one Keras layer into NIR nodes::

    @exports(keras.layers.Dense)
    def _dense(exporter, layer, inputs, out_shape):
        ...
        return Port([exporter.add(layer.name, node, inputs)], out_shape)

``inputs`` are the ``Port``s of the layer's inputs and ``out_shape`` its
per-step output shape (without batch and time); the rule returns the
``Port`` of its output. Classes match exactly: a subclass may compute
something else, so it needs a rule of its own. Supporting a new layer is one
such function (in ``export_layers.py`` or ``export_neurons.py``).
"""

import collections

import numpy as np

from keras_spiking import layers as ks_layers

from .library import load_nir
from ..base import ConversionError
from keras_spiking.graph import Names

from .errors import export_error
from .layout import Port, to_first, unpermute_weight

nir = load_nir()

#: a registered rule: ``fn``; where it applies: ``timed`` directly on
#: ``(batch, time, ...)`` tensors, ``per_step`` inside a TimeFold; ``takes_pad``:
#: it may follow a ZeroPadding (which it takes over); ``several_inputs``: it
#: takes several inputs (else one is checked for)
Rule = collections.namedtuple("Rule", "fn timed per_step takes_pad several_inputs")

_RULES = {}


def exports(*classes, timed=True, per_step=True, takes_pad=False, several_inputs=False):
    """Register the decorated ``fn(exporter, layer, inputs, out_shape) -> Port``
    as the NIR export of exactly ``classes`` (see ``Rule`` for the flags)."""

    def register(fn):
        """Add ``fn`` for each class; return it unchanged."""
        for cls in classes:
            _RULES[cls] = Rule(fn, timed, per_step, takes_pad, several_inputs)
        return fn

    return register


def _supported():
    """The class names with a per-step rule, for the "no rule" message."""
    return ", ".join(cls.__name__ for cls, rule in _RULES.items() if rule.per_step)


class Exporter:
    """The NIR graph being built (``nodes``, ``edges``), the export's settings
    (``dt`` seconds, ``integration``, the accepted ``approximate`` names) and
    the approximations the current layer needs (``allow``/``check_allowed``)."""

    def __init__(self, dt, integration, approximate):
        self.dt = dt
        self.integration = integration
        self.approximate = approximate
        self.nodes = {}
        self.names = Names(first=1)  # node, node_1, node_2, ...
        self.edges = []
        self.missing = []  # approximations the current layer needs
        self.origin = {}  # node name -> (Keras layer name, class name), for error messages
        self.current = None  # the Keras layer being exported
        self.static_inputs = 0  # inputs given as one static step (see ``input``)

    # -- the graph ---------------------------------------------------------------------
    def add(self, name, node, inputs):
        """Add ``node`` under a free variant of ``name``, fed by the sources of the
        ``inputs`` ports; returns the name it got."""
        name = self.names(name)
        self.nodes[name] = node
        if self.current is not None:
            self.origin[name] = (self.current.name, type(self.current).__name__)
        for port in inputs:
            self.edges.extend((s, name) for s in port.sources)
        return name

    def connect(self, source, target):
        """Add the edge ``source -> target`` (e.g. closing a recurrent cycle)."""
        self.edges.append((source, target))

    def input(self, name, shape, static):
        """The Port of a model input of Keras ``shape`` (without batch): NIR's
        Input node is one step, so ``shape`` starts with time unless the input
        is ``static`` (repeated over time by a RepeatTime after the layers that
        compute on it once, ``convert(static_input=True)``): then the NIR input
        is the static input itself, given at every step, and those layers are
        exported per step (the same result at every step)."""
        per_step = shape if static else shape[1:]
        if not per_step or any(d is None for d in per_step):
            raise ConversionError(
                f"export_nir: input '{name}' has shape {shape}; NIR needs inputs shaped "
                "(time, *features) with known feature sizes, or a static input that a "
                "RepeatTime repeats over time."
            )
        node = nir.Input(input_type={"input": np.array(to_first(per_step))})
        self.static_inputs += bool(static)
        return Port([self.add(name, node, [])], per_step, static=static)

    def output(self, port, name):
        """Add the Output node ``name`` for ``port`` (a flattened output first goes
        back to Keras' flatten order through a Linear node)."""
        if port.pad:
            raise ConversionError("export_nir: the model's output is a ZeroPadding layer's, "
                                  "which NIR cannot express; remove it.")
        if port.order.ndim == 1 and not port.canonical:
            node = nir.Linear(weight=unpermute_weight(port.order))
            port = Port([self.add(f"{name}_unpermute", node, [port])], port.keras_shape)
        self.add(name, nir.Output(output_type={"output": np.array(port.order.shape)}), [port])

    # -- approximations ----------------------------------------------------------------
    def allow(self, what, why, fix=None):
        """Note that the current layer needs the approximation ``what`` (one of
        ``APPROXIMATIONS``) unless accepted; ``check_allowed`` raises for all."""
        if what not in self.approximate:
            self.missing.append((what, why, fix))

    def check_allowed(self, layer):
        """Raise one error naming every approximation ``layer`` needs and was not given."""
        missing, self.missing = self.missing, []
        if missing:
            names = tuple(what for what, _, _ in missing)
            fixes = [fix for _, _, fix in missing if fix]
            accept = f"pass approximate={names!r} to accept the difference"
            raise export_error(layer, "; ".join(why for _, why, _ in missing),
                               f"{' and '.join(fixes)}, or {accept}" if fixes else accept)

    # -- dispatch ----------------------------------------------------------------------
    def layer(self, layer, inputs, out_shape):
        """Export ``layer`` applied to ``(batch, time, ...)`` tensors (``out_shape``
        with batch and time); returns its output Port."""
        rule = _RULES.get(type(layer))
        self.current = layer
        if inputs and all(p.static for p in inputs):  # computed once on a static input
            if isinstance(layer, ks_layers.RepeatTime):
                (port,) = inputs
                return Port(port.sources, port.keras_shape, port.order, pad=port.pad)
            out = self.step(layer, inputs, out_shape[1:])
            out.static = True
            return out
        if any(p.static for p in inputs):
            raise export_error(layer, "it mixes a static input with timed ones",
                               "repeat the static input over time first (RepeatTime)")
        self._check_pad(layer, inputs, rule)
        if rule is not None and rule.timed:
            self._check_inputs(layer, inputs, rule)
            return rule.fn(self, layer, inputs, tuple(out_shape[2:]))
        if rule is not None:
            raise export_error(
                layer, "applied to (batch, time, ...) directly it does not act per timestep",
                "wrap it in keras_spiking.layers.TimeFold",
            )
        if isinstance(layer, ks_layers.TimeStateLayer):
            raise export_error(layer, "NIR export has no rule for this layer",
                               "replace it with a supported neuron or filter")
        return self.step(layer, inputs, out_shape[2:])  # raises: no rule

    def step(self, layer, inputs, out_shape, owner=None):
        """Export ``layer`` applied to one timestep (inside ``owner``, a TimeFold
        or TimeDistributed, if given); ``out_shape`` is per step."""
        rule = _RULES.get(type(layer))
        self._check_pad(owner or layer, inputs, rule)
        if rule is None or not rule.per_step:
            self._check_inputs(layer, inputs, None)
            raise export_error(
                layer, f"NIR export has no rule for this class (supported per step: "
                f"{_supported()}; over time: TimeFold, TimeDistributed, RepeatTime and the "
                "package's neurons and filters)",
                "replace it, or export the supported part of the model",
            )
        self._check_inputs(layer, inputs, rule)
        return rule.fn(self, layer, inputs, tuple(out_shape))

    @staticmethod
    def _check_pad(layer, inputs, rule):
        """Only a Conv can take over a pending ZeroPadding (NIR has no padding node)."""
        if any(p.pad for p in inputs) and not (rule is not None and rule.takes_pad):
            raise export_error(layer, "it follows a ZeroPadding layer; NIR has no padding node "
                               "and only a Conv can take the padding over",
                               "pad inside the Conv (padding='same')")

    @staticmethod
    def _check_inputs(layer, inputs, rule):
        """One input, unless the rule takes several (NIR sums edges only at Add)."""
        if len(inputs) != 1 and not (rule is not None and rule.several_inputs):
            raise export_error(layer, "it has several inputs", "use Add, or one input per layer")
