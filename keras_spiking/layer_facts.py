"""The one registry that classifies layers: what the package knows about a class.

``facts_of(layer)`` answers "is this layer a neuron? a synaptic filter? does it
need ``TimeFold`` over a time axis? which average pooling has the windows of
this max pooling?" for the converter, ``ModelEnergy``, the evaluation helpers
and ``SpikeMaxPool``, so that they all give the same answer. It returns a
frozen ``Facts`` record; ``classes(**facts)`` lists the registered classes
with some facts (the converter registers its rules from these lists) and
``register(cls, **facts)`` adds or replaces a class.

Matching is by exact class unless a class is registered with
``inherit=True``: a subclass of ``Dense`` may compute something else, so it is
unknown until registered itself, while every subclass of the package's base
classes (``SpikingNeuron``, ``LeakyNeuron``, ``SynapticFilter``,
``ContinuousLIF``, ``TimeStateLayer``) shares their facts. A class nobody
registered has the facts ``UNKNOWN`` (role ``"unknown"``).

The Keras classes the package handles and the package's layers are registered
here, except ``SpikeMaxPool``: layers/pooling.py registers it next to its
definition, because its argument check consults this registry (registering it
here would make an import cycle).
"""

import dataclasses

import keras

from keras_spiking.layers.base import TimeStateLayer
from keras_spiking.layers.continuous import ContinuousLIF
from keras_spiking.layers.filters import SynapticFilter
from keras_spiking.layers.leaky import LeakyNeuron
from keras_spiking.layers.quantized import QuantizedReLU
from keras_spiking.layers.rate import LIFRate, SoftLIF
from keras_spiking.layers.spiking import SpikingNeuron
from keras_spiking.layers.time import RepeatTime, RunningMean, TimeFold

#: The roles a layer can have, each with its meaning.
ROLES = {
    "neuron": "a neuron layer: a firing rate or spike train per unit ('face' says which)",
    "activation": "an elementwise nonlinearity, the neuron site of a rate model",
    "filter": "a linear synaptic filter over time (Lowpass, Alpha)",
    "linear": "weights connecting inputs to outputs (Dense, convolutions)",
    "normalization": "normalisation by fixed statistics at inference, no MACs counted",
    "pooling": "windows reduced to one value ('pool' says how)",
    "dropout": "training only: the identity at inference (dropout, noise)",
    "stateless": "acts on each sample (each step) alone: reshaping, padding, rescaling",
    "merge": "a linear combination of several inputs (sum, mean, concatenation)",
    "time": "adds the time axis or applies a layer at every step",
    "readout": "a running estimate over the steps so far (RunningMean), no MACs counted",
    "unknown": "nothing known about what it computes",
}
FACES = ("rate", "spiking", "surrogate", "continuous")
TIME_AXES = (None, "adds", "wraps", "scans")
CONNECTIONS = (None, "dense", "conv", "depthwise", "pool", "global_pool")
POOLS = (None, "average", "max", "spike")


@dataclasses.dataclass(frozen=True)
class Facts:
    """What is known about a layer class.

    Attributes:
        role: one of ``ROLES``.
        face: neurons: ``"rate"`` (``LIFRate``, ``SoftLIF``), ``"spiking"``
            (``SpikingNeuron``: the converter's neurons, each spike worth
            ``amplitude / dt``), ``"surrogate"`` (``LeakyNeuron``, trained with
            surrogate gradients) or ``"continuous"`` (``ContinuousLIF``, NIR's).
        activation: the name of the activation function the layer computes
            (a ``swap_activations`` key of the converter), if it is one.
        connections: how weights or windows connect inputs to outputs, for
            counting multiply-accumulates: ``"dense"`` (every input to every
            unit), ``"conv"``, ``"depthwise"``, ``"pool"`` (one per window
            element), ``"global_pool"`` (each input once) or None.
        pool: pooling: ``"average"``, ``"max"`` or ``"spike"`` (gated spikes).
        average: max pooling: the average pooling class with the same windows.
        time_axis: None (no time axis: acts on each sample), ``"adds"`` (tiles
            a static input over time), ``"wraps"`` (applies ``layer.layer`` at
            every step) or ``"scans"`` (takes ``(batch, time, ...)`` and
            carries state over the steps).
        leading_axes: acts on any number of leading axes (the last axis, or
            elementwise), so a time axis needs no ``TimeFold``.
        inherit: subclasses share these facts (otherwise: exact class only).
    """

    role: str = "unknown"
    face: str = None
    activation: str = None
    connections: str = None
    pool: str = None
    average: type = None
    time_axis: str = None
    leading_axes: bool = False
    inherit: bool = False


UNKNOWN = Facts()

_FACTS = {}


def register(cls, **facts):
    """Register (or replace) the ``Facts`` of layer class ``cls``; returns them.

    Example::

        register(MyDense, role="linear", connections="dense", leading_axes=True)
    """
    if not isinstance(cls, type) or not issubclass(cls, keras.layers.Layer):
        raise TypeError(f"layer_facts.register: cls must be a Keras layer class, got "
                        f"{cls!r}.")
    record = Facts(**facts)
    for name, value, allowed in (("role", record.role, ROLES),
                                 ("face", record.face, (None,) + FACES),
                                 ("time_axis", record.time_axis, TIME_AXES),
                                 ("connections", record.connections, CONNECTIONS),
                                 ("pool", record.pool, POOLS)):
        if value not in allowed:
            raise ValueError(f"layer_facts.register: {name} of {cls.__name__} must be one "
                             f"of {tuple(allowed)}, got {value!r}.")
    _FACTS[cls] = record
    return record


def facts_of(layer):
    """The ``Facts`` of a layer (or layer class): its own class's, else those of
    the nearest base class registered with ``inherit=True``, else ``UNKNOWN``."""
    cls = layer if isinstance(layer, type) else type(layer)
    for base in cls.__mro__:
        record = _FACTS.get(base)
        if record is not None and (base is cls or record.inherit):
            return record
    return UNKNOWN


def classes(**facts):
    """The registered classes whose facts have the given values, in the order
    they were registered, e.g. ``classes(role="dropout")``."""
    for name in facts:
        if name not in Facts.__dataclass_fields__:
            raise TypeError(f"layer_facts.classes: {name!r} is not a fact; the facts are "
                            f"{tuple(Facts.__dataclass_fields__)}.")
    return [cls for cls, record in _FACTS.items()
            if all(getattr(record, k) == v for k, v in facts.items())]


# -- Keras layers ------------------------------------------------------------------------
L = keras.layers

register(L.Dense, role="linear", connections="dense", leading_axes=True)
for _cls in (L.Conv1D, L.Conv2D, L.Conv3D):
    register(_cls, role="linear", connections="conv")
for _cls in (L.DepthwiseConv1D, L.DepthwiseConv2D):
    register(_cls, role="linear", connections="depthwise")
for _cls in (L.SeparableConv1D, L.SeparableConv2D):
    register(_cls, role="linear")  # two kernels: no counting rule

for _cls in (L.BatchNormalization, L.LayerNormalization):
    register(_cls, role="normalization")

register(L.Activation, role="activation", leading_axes=True)  # activation: its function
for _cls, _name in ((L.ReLU, "relu"), (L.LeakyReLU, "leaky_relu"), (L.ELU, "elu"),
                    (L.PReLU, None), (L.Softmax, "softmax")):
    register(_cls, role="activation", activation=_name, leading_axes=True)

for _cls in (L.AveragePooling1D, L.AveragePooling2D, L.AveragePooling3D):
    register(_cls, role="pooling", pool="average", connections="pool")
for _cls in (L.GlobalAveragePooling1D, L.GlobalAveragePooling2D,
             L.GlobalAveragePooling3D):
    register(_cls, role="pooling", pool="average", connections="global_pool")
for _cls, _average in ((L.MaxPooling1D, L.AveragePooling1D),
                       (L.MaxPooling2D, L.AveragePooling2D),
                       (L.MaxPooling3D, L.AveragePooling3D),
                       (L.GlobalMaxPooling1D, L.GlobalAveragePooling1D),
                       (L.GlobalMaxPooling2D, L.GlobalAveragePooling2D),
                       (L.GlobalMaxPooling3D, L.GlobalAveragePooling3D)):
    register(_cls, role="pooling", pool="max", average=_average)

for _cls in (L.Dropout, L.SpatialDropout1D, L.SpatialDropout2D, L.SpatialDropout3D,
             L.GaussianNoise, L.GaussianDropout, L.AlphaDropout, L.ActivityRegularization):
    register(_cls, role="dropout", leading_axes=True)

for _cls in (L.Flatten, L.Reshape, L.Permute, L.ZeroPadding1D, L.ZeroPadding2D,
             L.ZeroPadding3D, L.Cropping1D, L.Cropping2D, L.Cropping3D,
             L.UpSampling1D, L.UpSampling2D):
    register(_cls, role="stateless")
for _cls in (L.Rescaling, L.Normalization):  # elementwise affine
    register(_cls, role="stateless", leading_axes=True)

for _cls in (L.Add, L.Average, L.Subtract, L.Concatenate):
    register(_cls, role="merge", leading_axes=True)

register(L.TimeDistributed, role="time", time_axis="wraps")

# -- the package's layers (SpikeMaxPool: layers/pooling.py) --------------------------------
register(TimeStateLayer, time_axis="scans", inherit=True)
register(SpikingNeuron, role="neuron", face="spiking", time_axis="scans", inherit=True)
register(LeakyNeuron, role="neuron", face="surrogate", time_axis="scans", inherit=True)
register(ContinuousLIF, role="neuron", face="continuous", time_axis="scans", inherit=True)
register(SynapticFilter, role="filter", time_axis="scans", inherit=True)
register(LIFRate, role="neuron", face="rate", activation="lif", leading_axes=True)
register(SoftLIF, role="neuron", face="rate", activation="soft_lif", leading_axes=True)
register(QuantizedReLU, role="neuron", face="rate", activation="quantized_relu",
         leading_axes=True)
register(TimeFold, role="time", time_axis="wraps")
register(RepeatTime, role="time", time_axis="adds")
register(RunningMean, role="readout", time_axis="scans")

del L, _cls, _name, _average
