"""Conversion rules: one small rule per Keras layer family.

Each rule declares the layer arguments it does not support (``unsupported``)
and rebuilds the layer in the converted graph with ``Converter`` helpers:
``apply`` (a stateless copy over all timesteps), ``activation``/``neuron``
(a spiking neuron site) and ``timed``. Add your own with
``keras_spiking.converters.register``. Which Keras classes a family rule
covers comes from ``keras_spiking.layer_facts`` (e.g. every class with role
"dropout"), read when this module is imported.

Also here: how an activation of the original model maps onto a spiking
neuron (``spiking_layer``) and onto its rate (``rate_layer``) under a firing
rate scale ``k`` that leaves the mean output unchanged:

* ReLU -> ``SpikingIF(threshold=1/k, amplitude=1/k, reset="subtract")``:
  rate ``k * relu(x)`` Hz, each spike worth ``1/k``, mean output ``relu(x)``.
* LIF(tau_rc, tau_ref, threshold, amplitude) -> ``SpikingLIF(tau_rc/k,
  tau_ref/k, threshold, amplitude/k)``: ``lif_rate`` with both time constants
  divided by ``k`` is exactly ``k`` times faster.
* ``QuantizedReLU(L, theta)`` -> ``SpikingIF(threshold=theta dt, amplitude=
  theta dt, initial_voltage="half")``: each spike worth ``theta``, no ``k``
  (the trained threshold is kept), so ``T = L`` steps reproduce its ``L``
  levels on constant input.

Graded spikes (``convert(spikes="graded", spike_bits=n)``) send up to
``M = 2**n - 1`` spikes per step: ReLU -> ``SpikingIF(threshold=1/(k M),
amplitude=1/(k M), graded=True, max_spikes=M)`` (the calibrated rate gives
``M`` spikes per step); ``QuantizedReLU(L, theta)`` -> threshold and
amplitude ``theta dt / L``, at most ``min(L, M)`` per step, exact at ``T = 1``
when ``M >= L``.
"""

import dataclasses

import keras
import numpy as np

from keras_spiking import layers
from keras_spiking.layer_facts import classes, facts_of
from keras_spiking.layers.rate import DEFAULT_AMPLITUDE, LIFRate, SoftLIF

from keras_spiking.layers.quantized import QuantizedReLU

from .base import ConversionError, NeuronSource, Rule, Signal, register


def _lif_source(key, tau_rc=0.02, tau_ref=0.002, threshold=1.0,
                amplitude=DEFAULT_AMPLITUDE, sigma=None, offset=1.0):
    params = dict(tau_rc=tau_rc, tau_ref=tau_ref, threshold=threshold,
                  amplitude=amplitude, sigma=sigma, offset=offset)
    return NeuronSource("lif", key, tuple(sorted(params.items())))


RELU = NeuronSource("relu", "relu")


def quantized_source(layer):
    """The ``NeuronSource`` of a ``QuantizedReLU`` (its levels and current threshold)."""
    params = dict(levels=layer.levels, threshold=layer.threshold_value())
    return NeuronSource("qcfs", "quantized_relu", tuple(sorted(params.items())))


def activation_source(activation):
    """The ``NeuronSource`` of an activation function (or name), or None."""
    if type(activation) is QuantizedReLU:
        return quantized_source(activation)
    fn = keras.activations.get(activation)
    name = getattr(fn, "__name__", "")
    if name == "relu":
        return RELU
    if name == "soft_lif":
        return _lif_source("soft_lif", sigma=0.05)
    if name == "lif":
        return _lif_source("lif")
    return None


def layer_source(layer):
    """The ``NeuronSource`` of a ``LIFRate``/``SoftLIF`` layer."""
    key = facts_of(layer).activation  # "soft_lif" or "lif"
    sigma = getattr(layer, "sigma", None) if key == "soft_lif" else None
    return _lif_source(key, layer.tau_rc, layer.tau_ref, layer.threshold,
                       layer.amplitude, sigma, layer.offset)


def rate_layer(source, k, name):
    """The rate activation a neuron with scale ``k`` approximates (rate mode)."""
    if source.family == "relu":
        return keras.layers.ReLU(name=name)
    p = source.kwargs
    if source.family == "qcfs":
        return QuantizedReLU(p["levels"], p["threshold"], learn_threshold=False, name=name)
    common = dict(tau_rc=p["tau_rc"] / k, tau_ref=p["tau_ref"] / k,
                  threshold=p["threshold"], amplitude=p["amplitude"] / k,
                  offset=p["offset"], name=name)
    if p["sigma"] is None:
        return LIFRate(**common)
    return SoftLIF(sigma=p["sigma"], **common)


def spiking_layer(converter, source, k, name, site=None, constant_input=False):
    """The spiking neuron layer for ``source`` at firing-rate scale ``k`` (of the
    neuron ``site``, whose calibrated reset-to-zero threshold it reads);
    ``constant_input``: its input is a static one repeated over time (an IF
    neuron with binary spikes, reset by subtraction and no carried state then
    computes its spikes in closed form)."""
    c = converter
    common = dict(dt=c.dt, stateful=c.stateful, name=name)
    if c.initial_voltage != "zeros":
        common["initial_voltage"] = c.initial_voltage
        if c.initial_voltage == "uniform":
            common["seed"] = c.seed
    graded = c.spikes == "graded"
    most = 2 ** c.spike_bits - 1
    if source.family == "relu":
        unit = 1.0 / (k * most) if graded else 1.0 / k
        spikes = dict(graded=True, max_spikes=most) if graded else {}
        if c.reset == "zero":  # the threshold fitted to the lost residuals (calibrate)
            factor = c.zero_reset_factors.get(site, 1.0)
            return layers.SpikingIF(threshold=unit * factor, amplitude=unit, reset="zero",
                                    **common)
        closed = constant_input and not graded and not c.stateful
        return layers.SpikingIF(threshold=unit, amplitude=unit, reset="subtract",
                                **spikes, **common, **({"constant_input": True} if closed else {}))
    p = source.kwargs
    if source.family == "qcfs" and c.reset == "zero":
        raise ConversionError(
            f"convert: reset='zero' is for ReLU sites; '{name}' is a QuantizedReLU, whose "
            "levels are spike counts kept by reset by subtraction. To fix: pass "
            "reset='subtract' (the default).")
    if source.family == "qcfs":  # the trained threshold, theta / 2 to start, no k
        common["initial_voltage"] = "half"
        levels, unit = p["levels"], p["threshold"] * c.dt
        if graded:
            spikes = dict(graded=True, max_spikes=min(levels, most))
            unit = unit / levels
        else:
            spikes = {}
        return layers.SpikingIF(threshold=unit, amplitude=unit, reset="subtract",
                                **spikes, **common)
    if graded:
        raise ConversionError(
            f"convert: spikes='graded' is for IF neurons (relu, leaky_relu, QuantizedReLU); "
            f"'{name}' is a LIF neuron, whose reset to 0 cannot send a count. To fix: "
            "pass spikes='binary', or train with relu / QuantizedReLU.")
    return layers.SpikingLIF(tau_rc=p["tau_rc"] / k, tau_ref=p["tau_ref"] / k,
                             threshold=p["threshold"], amplitude=p["amplitude"] / k,
                             offset=p["offset"], **common)


def _linear_only(value):
    """the value 'linear'"""
    return value in (None, "linear")


# -- linear layers ----------------------------------------------------------------------
class LinearRule(Rule):
    """Dense and convolutions: a linear copy (time folded), then the activation.

    The copy always has a bias so that a following BatchNormalization can be
    folded into it.
    """

    unsupported = {"data_format": lambda v: v in (None, "channels_last")}

    def takes_channel_scale(self, layer, signal):
        """Per-input-channel factors fold into the kernel of the Keras Dense and
        convolutions (their first weight's axis -2 is the input channel)."""
        return type(layer) in KERNEL_IN_AXIS_M2 and getattr(layer, "groups", 1) == 1

    def convert(self, layer, inputs, converter):
        weights = layer.get_weights()
        signal = inputs[0]
        if signal.channel_scale is not None:  # x * s then W  ==  x then W * s (per row)
            weights = [weights[0] * signal.channel_scale[:, None]] + weights[1:]
            inputs = [dataclasses.replace(signal, channel_scale=None, site=None)]
        if not layer.use_bias:
            weights = weights + [np.zeros(self.channels(layer, weights), "float32")]
        # Dense acts on any leading axes: no fold needed.
        fold = not facts_of(layer).leading_axes
        copy = converter.clone(layer, activation="linear", use_bias=True)
        out = converter.apply(copy, inputs[0], weights=weights, fold=fold, copy=False)
        activation = layer.get_config().get("activation", "linear")
        out = dataclasses.replace(out, producer=copy)
        if _linear_only(activation):
            return dataclasses.replace(out, linear=copy)
        return converter.activation(out, layer.activation, layer.name, layer)

    @staticmethod
    def channels(layer, weights):
        """The number of output channels (the size of the bias)."""
        if facts_of(layer).connections == "depthwise":
            return weights[0].shape[-2] * weights[0].shape[-1]
        return weights[-1].shape[-1]


for _cls in classes(role="linear"):
    register(_cls, LinearRule)

#: Keras linear layers whose first weight has the input channel on axis -2
#: (Dense (in, out); Conv (..., in, out); Depthwise and Separable (..., in, multiplier)).
KERNEL_IN_AXIS_M2 = (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D,
                     keras.layers.Conv3D, keras.layers.DepthwiseConv1D,
                     keras.layers.DepthwiseConv2D, keras.layers.SeparableConv1D,
                     keras.layers.SeparableConv2D)


def fold_batch_norm(linear, scale, shift):
    """Fold ``y = scale * z + shift`` (per output channel) into ``linear``."""
    weights = linear.get_weights()
    kernel, bias = weights[-2], weights[-1]
    if facts_of(linear).connections == "depthwise":
        kernel = kernel * scale.reshape(kernel.shape[-2:])
    else:
        kernel = kernel * scale
    linear.set_weights(weights[:-2] + [kernel, bias * scale + shift])


@register(keras.layers.BatchNormalization)
class BatchNormalizationRule(Rule):
    """Folded into the Dense/Conv before it when that is its only consumer
    (exact); otherwise a fixed affine (the layer in inference mode)."""

    unsupported = {}

    def convert(self, layer, inputs, converter):
        signal = inputs[0]
        ndim = len(signal.tensor.shape) - (1 if signal.timed else 0)
        last = layer.axis in (-1, ndim - 1)
        if signal.linear is not None and last:
            mean, var, gamma, beta = (
                None if w is None else keras.ops.convert_to_numpy(w)
                for w in (layer.moving_mean, layer.moving_variance, layer.gamma,
                          layer.beta))
            gamma = np.ones_like(mean) if gamma is None else gamma
            beta = np.zeros_like(mean) if beta is None else beta
            scale = gamma / np.sqrt(var + layer.epsilon)
            fold_batch_norm(signal.linear, scale, beta - scale * mean)
            return dataclasses.replace(signal, linear=None)
        return converter.apply(layer, signal, trainable=False)


# -- activations ----------------------------------------------------------------------
@register(keras.layers.Activation)
class ActivationRule(Rule):
    """relu -> SpikingIF, soft_lif/lif -> SpikingLIF, linear/softmax kept."""

    def convert(self, layer, inputs, converter):
        return converter.activation(inputs[0], layer.activation, layer.name, layer)


def _relu_args_ok(value):
    """None / 0 (threshold and max_value are not supported)"""
    return value in (None, 0, 0.0)


@register(keras.layers.ReLU)
class ReLURule(Rule):
    """ReLU -> SpikingIF; with a negative slope, a pair of IF neurons."""

    unsupported = {"max_value": _relu_args_ok, "threshold": _relu_args_ok}

    def convert(self, layer, inputs, converter):
        slope = float(layer.negative_slope)
        if slope:
            return leaky_pair(converter, inputs[0], slope, layer.name)
        return converter.neuron(inputs[0], RELU, layer.name)


@register(keras.layers.LeakyReLU)
class LeakyReLURule(Rule):
    """LeakyReLU(a) -> IF(x) - a * IF(-x): two IF neurons, exact in rate."""

    def convert(self, layer, inputs, converter):
        return leaky_pair(converter, inputs[0], float(layer.negative_slope), layer.name)


def leaky_pair(converter, signal, slope, site):
    """``relu(x) - slope * relu(-x)`` from two IF neuron sites (rate-exact)."""
    source = dataclasses.replace(RELU, key="leaky_relu")
    signal = dataclasses.replace(signal, producer=None)  # used twice: nothing to fold into
    positive = converter.neuron(signal, source, site)
    flipped = converter.apply(keras.layers.Rescaling(-1.0, name=f"{site}_flip"),
                              signal, fold=False, copy=False)
    negative = converter.neuron(flipped, source, f"{site}_negative")
    negative = converter.apply(
        keras.layers.Rescaling(-slope, name=converter.unique(f"{site}_slope")),
        negative, fold=False, copy=False)
    return converter.apply(keras.layers.Add(name=converter.unique(f"{site}_sum")),
                           [positive, negative], fold=False, copy=False)


class LIFRateRule(Rule):
    """LIFRate / SoftLIF -> SpikingLIF with the same parameters."""

    def convert(self, layer, inputs, converter):
        return converter.neuron(inputs[0], layer_source(layer), layer.name)


for _cls in classes(role="neuron", face="rate"):
    register(_cls, LIFRateRule)


@register(QuantizedReLU)
class QuantizedReLURule(Rule):
    """QuantizedReLU -> SpikingIF with its threshold, initial voltage theta / 2."""

    def convert(self, layer, inputs, converter):
        return converter.neuron(inputs[0], quantized_source(layer), layer.name)


# -- stateless layers ---------------------------------------------------------------------
class StatelessRule(Rule):
    """A layer that acts on each sample alone: copied, all steps in one call
    (applied directly when it acts on any leading axes, e.g. elementwise).

    Layers that act on each channel alone and linearly (average pooling,
    padding, cropping, upsampling) pass pending channel factors on; Flatten
    passes them on repeated over the positions it flattens."""

    def takes_channel_scale(self, layer, signal):
        shape = signal.tensor.shape[2 if signal.timed else 1:]
        return (type(layer) in CHANNELWISE
                and getattr(layer, "data_format", "channels_last") == "channels_last"
                and all(d is not None for d in shape))

    def convert(self, layer, inputs, converter):
        signal = inputs[0]
        scale = signal.channel_scale
        if scale is not None:
            inputs = [dataclasses.replace(signal, channel_scale=None, site=None)]
        out = converter.apply(layer, inputs[0], fold=not facts_of(layer).leading_axes)
        if scale is None:
            return out
        if isinstance(layer, keras.layers.Flatten):  # channels last: channel is fastest
            positions = signal.tensor.shape[2 if signal.timed else 1:-1]
            scale = np.tile(scale, int(np.prod(positions, dtype=np.int64)))
        return converter.pending(out, scale, signal.site)


for _cls in classes(role="stateless") + classes(role="pooling", pool="average"):
    register(_cls, StatelessRule)

#: Stateless layers that act on each channel (last axis) alone and linearly,
#: so that per-channel factors commute with them (Flatten: repeated per position).
CHANNELWISE = tuple(classes(role="pooling", pool="average")) + tuple(
    getattr(keras.layers, name) for name in (
        "Flatten", "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D",
        "Cropping2D", "Cropping3D", "UpSampling1D", "UpSampling2D"))


class IdentityRule(Rule):
    """Training-only layers (dropout, noise): removed."""

    def takes_channel_scale(self, layer, signal):
        return True

    def convert(self, layer, inputs, converter):
        return inputs[0]


for _cls in classes(role="dropout"):
    register(_cls, IdentityRule)


class MaxPoolingRule(Rule):
    """Max pooling: an error by default, or average pooling, or a max over the
    synapse-filtered traces, or gated spike pooling (``Converter(max_pool=...)``)."""

    def convert(self, layer, inputs, converter):
        mode = converter.max_pool
        if mode == "error":
            raise converter.error(
                layer,
                "spiking neurons have no exact max pooling (the max of spike "
                "trains is not the max of rates)",
                "pass max_pool='avg' to convert it to average pooling (retrain with "
                "AveragePooling for the best accuracy), max_pool='spike' to pass on "
                "the spikes of each window's most active input, or max_pool='max' "
                "for a max over the synapse-filtered traces (not spikes)",
            )
        if mode == "avg":
            config = layer.get_config()
            config.pop("name")
            average = facts_of(layer).average
            avg = average(name=converter.unique(layer.name), **config)
            return converter.apply(avg, inputs[0], copy=False)
        spikes = inputs[0].spikes
        if mode == "max" and converter.mode_now != "rate":
            return converter.apply(layer, converter.trace(inputs[0], layer.name))
        if mode == "max" or converter.mode_now == "rate" or not inputs[0].timed:
            return converter.apply(layer, inputs[0])  # a plain max
        if spikes is None:
            raise converter.error(
                layer,
                "max_pool='spike' pools spikes, but its input is not the output of "
                "a spiking neuron",
                "put the max pooling right after an activation (relu, SoftLIF, ...), "
                "or use max_pool='max' or 'avg'",
            )
        inner = converter.clone(layer)
        pool = layers.SpikeMaxPool(inner, stateful=converter.stateful, name=inner.name)
        return Signal(converter.synapse_of(pool(spikes), inner.name), True)


for _cls in classes(role="pooling", pool="max"):
    register(_cls, MaxPoolingRule)


# -- merges -----------------------------------------------------------------------------
class MergeRule(Rule):
    """Add, Average, Subtract: linear, elementwise over any leading axes."""

    def convert(self, layer, inputs, converter):
        return converter.apply(layer, list(inputs), fold=False)


for _cls in classes(role="merge"):
    register(_cls, MergeRule)  # Concatenate: replaced below


@register(keras.layers.Concatenate)
class ConcatenateRule(Rule):
    """Concatenate: a positive axis moves by one when a time axis is added."""

    def convert(self, layer, inputs, converter):
        axis = layer.axis
        timed = any(s.timed for s in inputs)
        if timed and axis >= 0:
            axis += 1
        return converter.apply(layer, list(inputs), fold=False, axis=axis)
