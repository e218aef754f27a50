"""Scanning neuron and synapse state over the time axis (axis 1).

Only state is scanned; everything stateless is applied to all timesteps at once
by the layers themselves. ``scan_time`` picks the fastest loop measured here
(../shared/TOOLCHAIN.md): a Python loop over ``ops.unstack`` when the number of
timesteps is static and small enough to unroll, ``keras.ops.scan`` otherwise.
"""

import keras
from keras import ops

#: Longest static time axis that is unrolled; longer (or unknown) ones use scan.
#: At 120 steps one unrolled spiking layer ran 15 % faster than the while loop
#: but took twice as long to build, and a whole converted network showed no
#: measurable gain (benchmarks/conversion.py), so longer runs keep the loop.
MAX_UNROLL = 64


def _flat(xs):
    return xs if isinstance(xs, (tuple, list)) else (xs,)


def scan_time(step, inputs, state, *, unroll=None, xla=False):
    """Run ``step(x_t, state) -> (y_t, state)`` over axis 1 of ``inputs``.

    ``inputs`` is a tensor or a tuple of tensors shaped ``(batch, time, ...)``;
    ``x_t`` has the same structure with the time axis removed. ``y_t`` is a
    tensor or tuple of tensors; the result stacks them back on axis 1 and also
    returns the final state. ``unroll`` forces (True) or forbids (False) the
    unrolled Python loop; by default it is used up to ``MAX_UNROLL`` steps.

    ``xla=True`` (TensorFlow; other backends ignore it) compiles the whole loop
    with XLA as one function (a symbolic loop unless ``unroll=True``): XLA
    fuses each step's elementwise ops into one kernel. Float results may differ
    in the last bit from the uncompiled loop (fused multiply-adds), so a voltage
    exactly at threshold may fire on one and not the other.
    """
    if xla and keras.backend.backend() == "tensorflow":
        return _xla_scan(step, inputs, state, bool(unroll))
    xs = _flat(inputs)
    steps = xs[0].shape[1]
    if unroll is None:
        unroll = steps is not None and steps <= MAX_UNROLL
    if unroll:
        if steps is None:
            raise ValueError(
                "scan_time(unroll=True) needs a static number of timesteps; "
                "got a time axis of unknown length. Pass unroll=False."
            )
        per_step = [ops.unstack(x, num=steps, axis=1) for x in xs]
        outputs = []
        for t in range(steps):
            x_t = tuple(p[t] for p in per_step)
            y_t, state = step(x_t if isinstance(inputs, (tuple, list)) else x_t[0], state)
            outputs.append(y_t)
        if isinstance(outputs[0], (tuple, list)):
            stacked = tuple(ops.stack(ys, axis=1) for ys in zip(*outputs))
        else:
            stacked = ops.stack(outputs, axis=1)
        return stacked, state

    time_major = tuple(ops.moveaxis(x, 1, 0) for x in xs)
    if keras.backend.backend() == "tensorflow":
        return _tf_scan(step, inputs, time_major, state)

    def body(carry, x_t):
        x_t = x_t if isinstance(inputs, (tuple, list)) else x_t[0]
        y_t, carry = step(x_t, carry)
        return carry, y_t

    state, ys = ops.scan(body, state, time_major)
    if isinstance(ys, (tuple, list)):
        return tuple(ops.moveaxis(y, 0, 1) for y in ys), state
    return ops.moveaxis(ys, 0, 1), state


def _tf_scan(step, inputs, time_major, state):
    """``tf.while_loop`` version of the scan for the TensorFlow backend.

    Keras' TensorFlow ``ops.scan`` (3.15) only accepts per-step outputs with
    the same structure and shapes as the carried state; neurons return spikes
    and carry (voltage, refractory time), so this writes outputs of any
    structure into their own ``TensorArray``s.
    """
    import tensorflow as tf

    steps = tf.shape(time_major[0])[0]
    per_step = [
        tf.TensorArray(x.dtype, size=steps, element_shape=x.shape[1:]).unstack(x)
        for x in time_major
    ]

    def x_at(t):
        x_t = tuple(p.read(t) for p in per_step)
        return x_t if isinstance(inputs, (tuple, list)) else x_t[0]

    # trace one step outside the loop to learn the outputs' structure
    y_0, state = step(x_at(0), state)
    flat_y0 = tf.nest.flatten(y_0)
    outputs = [
        tf.TensorArray(y.dtype, size=steps, element_shape=y.shape).write(0, y)
        for y in flat_y0
    ]

    def body(t, state, outputs):
        y_t, state = step(x_at(t), state)
        outputs = [o.write(t, y) for o, y in zip(outputs, tf.nest.flatten(y_t))]
        return t + 1, state, outputs

    _, state, outputs = tf.while_loop(
        lambda t, *_: t < steps, body, (tf.constant(1), state, outputs)
    )
    ys = [tf.experimental.numpy.moveaxis(o.stack(), 0, 1) for o in outputs]
    for y, y0 in zip(ys, flat_y0):
        y.set_shape(tf.TensorShape([y0.shape[0], time_major[0].shape[0]]).concatenate(y0.shape[1:]))
    return tf.nest.pack_sequence_as(y_0, ys), state


def _xla_scan(step, inputs, state, unroll):
    """``scan_time`` compiled by XLA (``tf.function(jit_compile=True)``). Unrolled
    loops stay out of it by default: XLA on an unrolled 50-step loop ran 4x
    slower than the graph here, its while loop 1.1-1.25x faster (CPU-seconds,
    converted 3-conv SNN, T = 30 and 120, 2026-12-02, under load)."""
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def compiled(inputs, state):
        return scan_time(step, inputs, state, unroll=unroll)

    return compiled(inputs, state)
