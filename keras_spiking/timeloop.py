"""Scanning neuron and synapse state over the time axis (axis 1).

Only state is scanned; everything stateless is applied to all timesteps at once
by the layers themselves. ``scan_time`` picks the fastest loop measured here
(../shared/TOOLCHAIN.md): a Python loop over ``ops.unstack`` when the number of
timesteps is static and small enough to unroll, ``keras.ops.scan`` otherwise.
"""

from keras import ops

#: Longest static time axis that is unrolled; longer (or unknown) ones use scan.
MAX_UNROLL = 64


def _flat(xs):
    return xs if isinstance(xs, (tuple, list)) else (xs,)


def scan_time(step, inputs, state, *, unroll=None):
    """Run ``step(x_t, state) -> (y_t, state)`` over axis 1 of ``inputs``.

    ``inputs`` is a tensor or a tuple of tensors shaped ``(batch, time, ...)``;
    ``x_t`` has the same structure with the time axis removed. ``y_t`` is a
    tensor or tuple of tensors; the result stacks them back on axis 1 and also
    returns the final state. ``unroll`` forces (True) or forbids (False) the
    unrolled Python loop; by default it is used up to ``MAX_UNROLL`` steps.
    """
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

    def body(carry, x_t):
        x_t = x_t if isinstance(inputs, (tuple, list)) else x_t[0]
        y_t, carry = step(x_t, carry)
        return carry, y_t

    state, ys = ops.scan(body, state, time_major)
    if isinstance(ys, (tuple, list)):
        return tuple(ops.moveaxis(y, 0, 1) for y in ys), state
    return ops.moveaxis(ys, 0, 1), state
