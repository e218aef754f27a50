"""Scanning neuron and synapse state over the time axis (axis 1).

Only state is scanned; everything stateless is applied to all timesteps at once
by the layers themselves. ``scan_time`` picks the fastest loop measured here
(../shared/TOOLCHAIN.md): a Python loop over ``ops.unstack`` when the number of
timesteps is static and small enough to unroll, ``keras.ops.scan`` otherwise.
"""

import keras
from keras import ops

#: Longest static time axis that is unrolled on TensorFlow; longer (or unknown)
#: ones use a symbolic loop. The converted 3-conv SNN at T = 120 ran 1.19-1.30x
#: the images/s unrolled than with the while loop (1.26-1.35x per CPU-second)
#: and its first call took no longer (2.8-5.0 s vs 4.5-6.0 s); A/B under load
#: average 4-5, 2026-12-02, ``benchmarks/conversion_vs_peers.py --loop-ab``.
MAX_UNROLL = 128

#: The same limit on JAX, whose jit hands the whole loop to XLA either way. There
#: ``lax.scan`` beat the unrolled loop from about a dozen steps on: the converted
#: 3-conv SNN's neurons all stepped ran unrolled at 1.44x / 1.11x / 0.98-1.03x /
#: 0.83-0.87x / 0.77-0.79x / 0.54x the scan's images/s at T = 8 / 10 / 12 / 16 / 20 /
#: 30; with its
#: first layer in closed form (the default) the rest unrolled ran at 1.03x / 1.01x /
#: 0.89x at T = 12 / 16 / 20. The tutorial CSNN (T = 25) trained 1.80x faster
#: scanned, with 0.31 instead of 0.58 GiB of XLA temporaries, and compiled in
#: 1.0 s instead of 4.6 s (2026-12-06, ``conversion_vs_peers.py --loop-ab
#: --backend jax``, ``benchmarks/jax_training_step.py``).
MAX_UNROLL_JAX = 12

#: Steps unrolled inside each iteration of the symbolic loop of a static time
#: axis longer than ``MAX_UNROLL`` (``unroll=None``); a last partial chunk is
#: unrolled after the loop (on JAX: ``lax.scan(unroll=CHUNK)``). None (default):
#: one step per iteration. Chunks of 16-60 steps ran the converted 3-conv SNN at
#: T = 120 only 1.00-1.04x faster than the plain loop on TensorFlow (its cost is
#: the loop's copies of every step's tensors, not the per-step bookkeeping),
#: where unrolling all 120 steps gave 1.19-1.24x (``MAX_UNROLL``).
CHUNK = None


def max_unroll():
    """The longest static time axis unrolled on the current backend."""
    return MAX_UNROLL_JAX if keras.backend.backend() == "jax" else MAX_UNROLL


def _flat(xs):
    return xs if isinstance(xs, (tuple, list)) else (xs,)


def scan_time(step, inputs, state, *, unroll=None, xla=False):
    """Run ``step(x_t, state) -> (y_t, state)`` over axis 1 of ``inputs``.

    ``inputs`` is a tensor or a tuple of tensors shaped ``(batch, time, ...)``;
    ``x_t`` has the same structure with the time axis removed. ``y_t`` is a
    tensor or tuple of tensors; the result stacks them back on axis 1 and also
    returns the final state. ``unroll`` forces (True) or forbids (False) the
    unrolled Python loop; by default it is used up to ``max_unroll()`` steps,
    and a longer static time axis runs a symbolic loop over chunks of
    ``CHUNK`` steps, each chunk unrolled (the same ops in the same order, so
    the same numbers as either loop on TensorFlow; on JAX, XLA compiles each
    form on its own and may contract products and sums differently, so a
    voltage at threshold can fire in one form and not the other: the converted
    3-conv SNN's outputs differed between them at T = 10 and 30, 2026-12-06).
    ``unroll=False`` and time axes of unknown length step one step per iteration.

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
    auto = unroll is None
    if auto:
        unroll = steps is not None and steps <= max_unroll()
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

    chunk = min(CHUNK, steps) if auto and steps is not None and CHUNK else 1
    time_major = tuple(ops.moveaxis(x, 1, 0) for x in xs)
    if keras.backend.backend() == "tensorflow":
        if chunk > 1:
            return _tf_chunked_scan(step, inputs, time_major, state, chunk)
        return _tf_scan(step, inputs, time_major, state)

    def body(carry, x_t):
        x_t = x_t if isinstance(inputs, (tuple, list)) else x_t[0]
        y_t, carry = step(x_t, carry)
        return carry, y_t

    state, ys = ops.scan(body, state, time_major, unroll=chunk)
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


def _tf_chunked_scan(step, inputs, time_major, state, chunk):
    """``tf.while_loop`` over chunks of ``chunk`` steps of a static time axis,
    each chunk's steps unrolled in the loop body: a chunk's elementwise kernels
    run back to back without the loop's per-step bookkeeping (TensorArray
    reads and writes, the loop condition). The first chunk runs before the loop
    (to learn the outputs' structure), the last ``steps % chunk`` steps after it."""
    import tensorflow as tf

    sequence = isinstance(inputs, (tuple, list))
    steps = time_major[0].shape[0]
    loops, tail = divmod(steps, chunk)
    heads, tails = [], []
    for x in time_major:
        head, rest = tf.split(x, [loops * chunk, tail], axis=0) if tail else (x, None)
        shape = tf.concat([[loops, chunk], tf.shape(head)[1:]], axis=0)
        element = tf.TensorShape([chunk]).concatenate(head.shape[1:])
        heads.append(tf.TensorArray(head.dtype, size=loops, element_shape=element)
                     .unstack(tf.reshape(head, shape)))
        tails.append(rest)

    def run(per_input, count, state):
        """``count`` unrolled steps; returns the outputs stacked on axis 0 (flat),
        the structure of one step's output and the state."""
        per_step = [tf.unstack(x, num=count, axis=0) for x in per_input]
        outputs = []
        for t in range(count):
            x_t = tuple(p[t] for p in per_step)
            y_t, state = step(x_t if sequence else x_t[0], state)
            outputs.append(tf.nest.flatten(y_t))
        return [tf.stack(ys, axis=0) for ys in zip(*outputs)], y_t, state

    ys0, template, state = run([h.read(0) for h in heads], chunk, state)
    outputs = [tf.TensorArray(y.dtype, size=loops, element_shape=y.shape).write(0, y)
               for y in ys0]

    def body(i, state, outputs):
        ys, _, state = run([h.read(i) for h in heads], chunk, state)
        return i + 1, state, [o.write(i, y) for o, y in zip(outputs, ys)]

    _, state, outputs = tf.while_loop(
        lambda i, *_: i < loops, body, (tf.constant(1), state, outputs))
    ys = []
    for o in outputs:
        y = o.stack()
        ys.append(tf.reshape(y, tf.concat([[loops * chunk], tf.shape(y)[2:]], axis=0)))
    if tail:
        tail_ys, _, state = run(tails, tail, state)
        ys = [tf.concat([y, t], axis=0) for y, t in zip(ys, tail_ys)]
    out = []
    for y, y0 in zip(ys, tf.nest.flatten(template)):
        y = tf.experimental.numpy.moveaxis(y, 0, 1)
        y.set_shape(tf.TensorShape([y0.shape[0], steps]).concatenate(y0.shape[1:]))
        out.append(y)
    return tf.nest.pack_sequence_as(template, out), state


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
