"""Counting: the connections and neuron updates of one layer call, per sample and step.

* ``connections`` (also ``macs``): multiply-accumulates of the synapses, i.e.
  connections from input elements to output elements (Dense: ``in * out``;
  Conv: ``output elements * kernel size * in_channels / groups``; depthwise
  conv and average pooling: ``output elements * kernel size``), plus a
  neuron's recurrent weight (read from its ``dynamics()``);
* ``neurons``: neuron updates (one per input unit of a neuron layer, one per
  output element of a nonlinear activation: ``Activation`` layers and
  ``activation=`` arguments; ``SpikingActivation`` is a spiking neuron);
* ``spiking``: whether the layer runs on a spiking device as it is (False for
  non-spiking nonlinearities such as ReLU or a rate LIF, which a spiking
  device would have to replace by spiking neurons).

The rules come from ``keras_spiking.layer_facts``; ``register_layer(cls)``
adds a stats function for a user's own layer class (and its subclasses),
which then takes precedence. Wrappers (``TimeDistributed``, ``TimeFold``)
count their inner layer per step, whatever the length of the time axis.

A stats function receives a ``Node`` (the layer and its per-step input and
output shapes, batch axis first as ``None``, time axis removed) and returns a
dict with any of ``connections`` (default 0), ``neurons`` (0) and ``spiking``
(True)::

    @ModelEnergy.register_layer(keras.layers.UpSampling2D)
    def upsampling_stats(node):
        return dict(connections=int(np.prod(node.output_shapes[1:])), neurons=0)
"""

import dataclasses
import numbers

import keras
import numpy as np

from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.layers.spiking import SpikingActivation

STATS_KEYS = ("connections", "neurons", "spiking")


@dataclasses.dataclass
class LayerEnergy:
    """Counts of one layer call (or of its recurrent weight), per step and sample.

    ``macs`` (also ``connections``): multiply-accumulates; ``neurons``: neuron
    updates; ``spiking``: runs on a spiking device as it is. ``once``: the
    layer acts on a static input before ``RepeatTime`` (a converted model's
    first layer with ``static_input=True``), so it runs once per inference,
    not once per step. Measured on ``example_data`` (None: not measured):
    ``activity``, the events per input element per step (see ``ModelEnergy``),
    and ``rate``, the input's firing rate in Hz where it has one. ``synops`` =
    ``macs * activity`` (``macs`` if not measured).
    """

    name: str
    type: str
    macs: int
    neurons: int
    once: bool = False
    activity: float = None
    spiking: bool = True
    rate: float = None
    kind: str = None  # what the input is: "spikes", "rates" or "values"
    layer: object = dataclasses.field(default=None, repr=False, compare=False)
    output_shape: tuple = None
    recurrent: bool = False

    @property
    def connections(self):
        """KerasSpiking's name for ``macs``."""
        return self.macs

    @property
    def synops(self):
        """Synaptic events per step (``macs`` if the activity was not measured)."""
        return self.macs * (1.0 if self.activity is None else self.activity)

    def events(self, dt=None):
        """Events per input element per step on a device stepping ``dt`` seconds.

        ``dt=None``: as measured (``activity``). With ``dt``: spikes of a layer
        with a known rate and activations read as rates give ``rate * dt``;
        other inputs (model inputs, linear layers) stay one event per nonzero
        element per step. 1 if nothing was measured.
        """
        if self.activity is None:
            return 1.0
        if dt is None or self.rate is None or self.kind == "values":
            return self.activity
        return self.rate * dt


@dataclasses.dataclass(frozen=True)
class Node:
    """One call of a layer, as a stats function sees it.

    ``input_shapes``/``output_shapes``: per sample and per step, with the batch
    axis first (``None``) and the time axis removed; a tuple for one tensor, a
    list of tuples for several (as tf.keras's ``Node``). ``in_shape`` and
    ``out_shape``: the first input's and output's feature shape (no batch).
    """

    layer: object
    input_shapes: object
    output_shapes: object

    @property
    def in_shape(self):
        """The first input's per-step feature shape (no batch, no time)."""
        shapes = self.input_shapes
        return tuple((shapes[0] if isinstance(shapes, list) else shapes)[1:])

    @property
    def out_shape(self):
        """The first output's per-step feature shape (no batch, no time)."""
        shapes = self.output_shapes
        return tuple((shapes[0] if isinstance(shapes, list) else shapes)[1:])


def _size(shape):
    if any(d is None for d in shape):
        raise ValueError(
            f"ModelEnergy: cannot count a layer with unknown dimensions {shape}; "
            "give the model fixed feature shapes (only batch and time may be None).")
    return int(np.prod(shape, dtype=np.int64))


def is_nonlinear(activation):
    """Whether a layer's ``activation`` (None: it has none) is a nonlinearity."""
    return activation is not None and getattr(activation, "__name__", "") != "linear"


def _channels(layer, shape):
    first = getattr(layer, "data_format", "channels_last") == "channels_first"
    return shape[0] if first else shape[-1]


def layer_counts(layer, in_shape, out_shape):
    """``(macs, neurons)`` of one call of ``layer`` per sample and timestep.

    ``in_shape``/``out_shape`` exclude batch (and time). The layer's
    ``layer_facts`` decide: neurons update once per input unit, nonlinear
    activations once per output element, ``connections`` give the MACs.
    Returns None for a layer with weights this function does not know (its
    cost is not counted).
    """
    facts = facts_of(layer)
    out_size = _size(out_shape)
    if facts.pool == "spike":
        return 0, 0  # comparisons and gating, no multiply-accumulates
    if facts.time_axis == "wraps":
        return layer_counts(layer.layer, in_shape, out_shape)
    if facts.role == "neuron":
        return 0, _size(in_shape)  # one update per unit (also without return_sequences)
    if facts.role == "filter":
        return 0, 0  # a synaptic current: part of the next neurons' update on hardware
    if facts.role == "activation":  # keras.layers.Activation: only a nonlinear one
        linear = hasattr(layer, "activation") and not is_nonlinear(layer.activation)
        return 0, 0 if linear else out_size
    neurons = out_size if is_nonlinear(getattr(layer, "activation", None)) else 0
    if facts.connections == "dense":
        return _size(in_shape) * layer.units, neurons
    if facts.connections == "depthwise":
        return out_size * _size(layer.kernel_size), neurons
    if facts.connections == "conv":
        groups = getattr(layer, "groups", 1)
        per_output = _size(layer.kernel_size) * _channels(layer, in_shape) // groups
        return out_size * per_output, neurons
    if facts.connections == "pool":
        return out_size * _size(layer.pool_size), 0
    if facts.connections == "global_pool":
        return _size(in_shape), 0
    if layer.weights and facts.role != "normalization":
        return None
    return 0, neurons


def recurrent_macs(layer, units_shape):
    """Multiply-accumulates per step of a neuron's recurrent weight, read from
    its dynamics (``neurons.Dynamics.recurrent``; 0 without one): ``units *
    units`` per position for a dense weight (times the kernel size if
    convolutional), one per unit for a one-to-one weight."""
    if not isinstance(layer, DynamicsLayer):
        return 0
    d = layer.dynamics()
    if d.recurrent is None:
        return 0
    size = _size(units_shape)
    if d.recurrent == "one_to_one":
        return size
    kernel = np.shape(d.recurrent_kernel)[:-2]  # the spatial extent of a "conv" kernel
    return size * units_shape[-1] * _size(kernel)


def is_spiking(layer):
    """Whether ``layer`` runs on a spiking device as it is: False for a
    non-spiking nonlinearity (a nonlinear activation, a rate neuron), else True."""
    facts = facts_of(layer)
    if facts.time_axis == "wraps":
        return is_spiking(layer.layer)
    if isinstance(layer, DynamicsLayer):
        return True
    if facts.role == "neuron":
        return facts.face != "rate"
    if facts.role == "activation":
        return hasattr(layer, "activation") and not is_nonlinear(layer.activation)
    return not is_nonlinear(getattr(layer, "activation", None))


_STATS = {}  # layer class -> stats function(node) -> dict


def register_layer(layer_class):
    """Decorator: register a stats function for ``layer_class`` (and its subclasses).

    The function receives a ``Node`` and returns a dict with any of
    ``connections`` (default 0), ``neurons`` (default 0) and ``spiking``
    (default True); it replaces the built-in rule for that class. Returns
    the function unchanged.
    """
    owner = "ModelEnergy.register_layer"
    if not isinstance(layer_class, type) or not issubclass(layer_class, keras.layers.Layer):
        raise TypeError(f"{owner}: layer_class must be a Keras layer class, got "
                        f"{layer_class!r}; use it as @{owner}(MyLayer).")

    def decorator(function):
        if not callable(function):
            raise TypeError(f"{owner}({layer_class.__name__}): the decorated object must "
                            f"be a function of a Node, got {function!r}.")
        _STATS[layer_class] = function
        return function

    return decorator


def registered_stats(layer_class):
    """The stats function registered for ``layer_class`` or its nearest base, or None."""
    for base in layer_class.__mro__:
        if base in _STATS:
            return _STATS[base]
    return None


def _checked(result, function, layer):
    """A stats function's result with the defaults filled in, or a clear error."""
    name = getattr(function, "__name__", repr(function))
    if not isinstance(result, dict) or set(result) - set(STATS_KEYS):
        raise ValueError(
            f"ModelEnergy: the stats function {name} registered for "
            f"{type(layer).__name__} must return a dict with keys among {STATS_KEYS}, "
            f"got {result!r}.")
    stats = {"connections": 0, "neurons": 0, "spiking": True, **result}
    for key in ("connections", "neurons"):
        value = stats[key]
        if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)) \
                or value < 0:
            raise ValueError(
                f"ModelEnergy: the stats function {name} registered for "
                f"{type(layer).__name__} returned {key}={value!r}; it must be an "
                "integer >= 0 (a count per sample and step).")
        stats[key] = int(value)
    if not isinstance(stats["spiking"], (bool, np.bool_)):
        raise ValueError(f"ModelEnergy: the stats function {name} returned "
                         f"spiking={stats['spiking']!r}; it must be True or False.")
    stats["spiking"] = bool(stats["spiking"])
    return stats


def node_stats(node):
    """``{"connections", "neurons", "spiking"}`` of one call (recurrent weights
    not included), or None for a layer with weights and no counting rule."""
    function = registered_stats(type(node.layer))
    if function is not None:
        return _checked(function(node), function, node.layer)
    if facts_of(node.layer).time_axis == "wraps":  # the inner layer, per step
        return node_stats(dataclasses.replace(node, layer=node.layer.layer))
    counts = layer_counts(node.layer, node.in_shape, node.out_shape)
    if counts is None:
        return None
    return {"connections": counts[0], "neurons": counts[1],
            "spiking": is_spiking(node.layer)}


@register_layer(SpikingActivation)
def spikingactivation_stats(node):
    """A ``SpikingActivation`` is a spiking neuron per unit: one update per input
    element and step, no connections. Its events downstream are its spikes,
    graded ones counted by number (see ``ModelEnergy``)."""
    return dict(connections=0, neurons=_size(node.in_shape), spiking=True)


def _shapes(tensors, timed):
    shapes = [(None,) + tuple(t.shape[2:] if timed else t.shape[1:]) for t in tensors]
    return shapes[0] if len(shapes) == 1 else shapes


def call_node(layer, inputs, outputs, in_timed, out_timed):
    """The ``Node`` of a call of ``layer`` on the KerasTensors ``inputs`` ->
    ``outputs``; ``in_timed``/``out_timed``: whether they carry a time axis."""
    return Node(layer, _shapes(inputs, in_timed), _shapes(outputs, out_timed))


def compute_layer_stats(layer, node=None):
    """``{"connections", "neurons", "spiking"}`` of one call of ``layer``, recurrent
    weights included, on its own (outside a model).

    ``node``: which call: None (the first), an index into the layer's calls, a
    Keras graph node or a ``Node``. The time axis is the axis after batch when
    the layer needs one (``TimeDistributed``, ``TimeFold``, the package's
    layers over ``(batch, time, ...)``) or when it is ``None``;
    ``ModelEnergy`` instead decides from the model's graph. A layer with
    weights and no counting rule counts zero.
    """
    owner = "ModelEnergy.compute_layer_stats"
    if not isinstance(layer, keras.layers.Layer):
        raise TypeError(f"{owner}: layer must be a Keras layer, got {layer!r}.")
    if not isinstance(node, Node):
        calls = getattr(layer, "_inbound_nodes", [])
        if node is None or isinstance(node, numbers.Integral):
            index = 0 if node is None else int(node)
            if not calls:
                raise ValueError(f"{owner}: layer '{layer.name}' has not been called on an "
                                 "input yet; call it on a keras.Input first (or pass node=).")
            if not -len(calls) <= index < len(calls):
                raise ValueError(f"{owner}: layer '{layer.name}' has {len(calls)} call(s), "
                                 f"so node must be in [0, {len(calls)}), got {node!r}.")
            node = calls[index]
        if not hasattr(node, "input_tensors") or not hasattr(node, "outputs"):
            raise TypeError(f"{owner}: node must be None, a call index, a Keras node or a "
                            f"keras_spiking.energy.Node, got {node!r}.")
        inputs, outputs = list(node.input_tensors), list(node.outputs)
        timed = facts_of(layer).time_axis in ("wraps", "scans") or (
            len(inputs[0].shape) > 2 and inputs[0].shape[1] is None)
        out_timed = timed and (facts_of(layer).time_axis != "scans"
                               or getattr(layer, "return_sequences", True))
        node = call_node(layer, inputs, outputs, timed, out_timed)
    stats = node_stats(node) or {"connections": 0, "neurons": 0, "spiking": True}
    stats["connections"] += recurrent_macs(layer, node.in_shape)
    return stats
