"""A threshold neuron's whole time loop as one TensorFlow op (``threshold_scan.cc``).

For the first-order faces of the dynamics core (``neurons.step`` with binary
spikes or no threshold, and no synapse, refractory period, recurrence, voltage
floor or integer state: snnTorch's ``Leaky`` and ``IF``, Nengo-style spiking
IF/LIF without refractory period, the converter's IF neurons, the first-order
``Lowpass`` filter), ``scan`` runs every
step in one C++ kernel and the backward pass in another, instead of a
``keras.ops`` loop of ~6 kernels per step forward and ~12 backward, each a pass
over one step's tensor plus the time axis' unstack and stack. The spikes and
voltages are the loop's bit for bit (same operations in the same order); the
gradients are the loop's with the reset detached, up to float rounding of the
surrogate's derivative.

Used on TensorFlow on CPU, float32, outside XLA (the op has no XLA or GPU
kernel), for the surrogates of ``keras_spiking.surrogates`` (``SURROGATES``
below; a custom surrogate keeps the loop) and a detached reset (or no
gradient at all: the Heaviside spike function). ``keras_spiking.default.
fused_kernels = False`` or ``KERAS_SPIKING_FUSED=0`` turns it off.
"""

import math

import keras
import numpy as np

from keras_spiking import config, neurons, surrogates
from keras_spiking.kernels import build


#: surrogate class -> its code in threshold_scan.cc and two parameters, computed
#: as ``surrogates``' ``derivative`` computes them
SURROGATES = {
    surrogates.StraightThrough: lambda s: (1, 0.0, 0.0),
    surrogates.FastSigmoid: lambda s: (2, s.slope, 0.0),
    surrogates.ATan: lambda s: (3, 0.5 * s.alpha, math.pi * (0.5 * s.alpha)),
    surrogates.Sigmoid: lambda s: (4, s.slope, 0.0),
    surrogates.Triangular: lambda s: (5, s.width, 0.0),
    surrogates.SpikeRateEscape: lambda s: (6, s.beta, s.slope),
}


def surrogate_code(spike_fn):
    """``(code, p, q)`` of a spike function for the kernel, or None if it has none."""
    if spike_fn is neurons.heaviside:  # no surrogate: spikes carry no gradient
        return 0, 0.0, 0.0
    make = SURROGATES.get(type(spike_fn))
    return None if make is None else make(spike_fn)


def _is(value, number):
    return isinstance(value, (int, float)) and value == number


def applies(d, x):
    """True if ``scan`` computes ``d`` (the dynamics of a loop over ``x``) here."""
    if not (config.default.fused_kernels and keras.backend.backend() == "tensorflow"
            and keras.backend.standardize_dtype(x.dtype) == "float32"
            and len(x.shape) >= 3 and all(n is not None for n in x.shape[2:])):
        return False  # the units' shape must be known to lay them out
    if not d.spiking:  # a synaptic filter: the scan without threshold
        code = (0, 0.0, 0.0) if d.reset == "none" else None
    else:
        code = surrogate_code(d.spike_fn)
    if (code is None or d.graded or d.gain is None
            or not _is(d.offset, 0) or d.synaptic or d.refractory is not None
            or d.recurrent is not None or d.min_voltage is not None or d.integer is not None
            or d.current_gain is not None or not _is(d.reset_value, 0)
            or (code[0] != 0 and not d.reset_detached and d.reset != "none")):
        return False
    return build.runs_here("threshold_scan")


def _library():
    return build.load("threshold_scan")


def _per_unit(value, unit_shape):
    """A parameter as a float32 vector of 1 or prod(unit_shape) values."""
    import tensorflow as tf

    value = tf.convert_to_tensor(value, tf.float32)
    if value.shape.rank == 0:
        return tf.reshape(value, [1])
    return tf.reshape(tf.broadcast_to(value, unit_shape), [-1])


def scan(d, x, state, voltage=True, training=True, static=None):
    """``(spikes, voltage, state)`` of ``neurons.step(d, ...)`` scanned over axis 1
    of ``x`` ``(batch, time, *units)`` from ``state`` (a 1-tuple: the voltage);
    ``voltage`` is after each step's reset, as the loop's.

    The input gain and the spike amplitude are products the kernel takes itself
    when they are numbers (as ``neurons.hoist`` takes them: the same roundings),
    two passes fewer over all steps; a learned one is multiplied outside.
    ``voltage=False``: the caller does not read the voltage (None is returned);
    without ``training`` the kernel then does not write it either, and a gradient
    asked for anyway recomputes it. ``static``: the tensor ``(batch, *units)`` that
    ``x`` repeats at each of its (known number of) steps, read instead of ``x``
    (``RepeatTime``'s input: the repeat is then never made, and its gradient is
    summed over time inside the backward kernel)."""
    import tensorflow as tf

    lib = _library()
    unit_shape = tuple(x.shape[2:])
    units = int(np.prod(unit_shape))
    shape = tf.shape(x)
    batch, steps = shape[0], shape[1]
    repeats = 0  # the kernel's static-input steps (0: x has its time axis)
    if static is not None and x.shape[1] is not None:
        x, repeats = static, int(x.shape[1])
    gain = 1.0
    if _number(d.gain) and _is(d.bias, 0):
        gain = float(d.gain)
    elif not _is(d.gain, 1):
        x = d.gain * x  # the drive gain x + bias, as neurons.charge adds them
    if not _is(d.bias, 0):
        x = x + d.bias
    flat_x = tf.reshape(x, [batch, units] if repeats else [batch, steps, units])
    flat_v0 = tf.reshape(state[0], [batch, units])
    decay = _per_unit(d.decay, unit_shape)
    spiking = d.spiking
    # no threshold: never fires (the backward pass of reset "none" then has no spike term)
    threshold = _per_unit(d.threshold if spiking else float("inf"), unit_shape)
    code, p, q = surrogate_code(d.spike_fn) if spiking else (0, 0.0, 0.0)
    delayed = bool(d.reset_delayed) and spiking
    attrs = dict(reset=d.reset, delayed=delayed, steps=repeats)
    folded, factor = 1.0, None  # the spikes' amplitude, in the kernel or after it
    if spiking and _number(d.amplitude):
        folded = float(d.amplitude)
    elif spiking and not _is(d.amplitude, 1):
        factor = d.amplitude
    keep_u = voltage or bool(training) or not spiking

    @tf.custom_gradient
    def run(flat_x, flat_v0, decay, threshold):
        spikes, u, v_last = lib.keras_spiking_threshold_scan(
            flat_x, flat_v0, decay, threshold, spiking=spiking, gain=gain, amplitude=folded,
            voltage=keep_u, **attrs)

        def grad(ds, du, dv_last):
            empty = tf.zeros([0], tf.float32)
            u_all = u
            if not keep_u:  # recomputed: the forward pass did not keep it
                _, u_all, _ = lib.keras_spiking_threshold_scan(
                    flat_x, flat_v0, decay, threshold, spiking=spiking, gain=gain, **attrs)
            dx, dv0, ddecay, dthreshold = lib.keras_spiking_threshold_scan_grad(
                empty if ds is None or not spiking else ds,
                empty if du is None or not keep_u else du,
                empty if dv_last is None else dv_last, u_all, flat_v0, decay, threshold,
                surrogate=code, p=float(p), q=float(q), gain=gain, amplitude=folded, **attrs)
            return (dx, dv0, _summed(ddecay, decay), _summed(dthreshold, threshold))

        return (spikes, u, v_last), grad

    spikes, u, v_last = run(flat_x, flat_v0, decay, threshold)
    state = (tf.reshape(v_last, tf.shape(state[0])),)
    if not spiking:
        return None, tf.reshape(u, shape), state
    out = tf.reshape(spikes, shape)
    if factor is not None:
        out = out * factor
    if not voltage:
        return out, None, state
    if delayed or d.reset == "none":
        potential = u
    else:  # the reset, as neurons.reset takes it (detached: no gradient through spikes)
        s = tf.stop_gradient(spikes if folded == 1.0 else spikes / folded)  # exact: 0 or 1
        potential = u - threshold * s if d.reset == "subtract" else u * (1 - s)
    return out, tf.reshape(potential, shape), state


def _number(value):
    """A finite nonzero Python/numpy number (a factor the kernel can write)."""
    return (isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
            and math.isfinite(value) and value != 0)


def _summed(per_row, like):
    """A ``(batch, units)`` gradient summed to the shape of the parameter ``like``."""
    import tensorflow as tf

    total = tf.reduce_sum(per_row, axis=0)
    return tf.reduce_sum(total, keepdims=True) if like.shape[0] == 1 else total
