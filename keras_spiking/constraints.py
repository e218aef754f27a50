"""Weight constraints: ``Mean`` ties a weight's entries to their mean."""

import keras
from keras import ops


def _check_axis(owner, axis):
    """An int or a non-empty tuple of distinct ints (lists become tuples)."""
    if isinstance(axis, (list, tuple)):
        axes = tuple(axis)
        if (not axes or len(set(axes)) != len(axes)
                or any(isinstance(a, bool) or not isinstance(a, int) for a in axes)):
            raise ValueError(
                f"{owner}: axis must be an int or a non-empty tuple of distinct ints, "
                f"got {axis!r}."
            )
        return axes
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{owner}: axis must be an int or a tuple of ints, got {axis!r}.")
    return axis


@keras.saving.register_keras_serializable(package="keras_spiking")
class Mean(keras.constraints.Constraint):
    """Replaces a weight by its mean along ``axis``, broadcast back to its shape.

    ``w'[..., i, ...] = mean_j w[..., j, ...]`` over the entries along ``axis``:
    after every optimizer step the entries share one value. For example, one
    time constant shared by all units of a layer that keeps a ``tau`` per unit::

        self.tau = self.add_weight(
            shape=(units,), constraint=keras_spiking.constraints.Mean())

    Args:
        axis: the axis (or tuple of axes) to average over; -1 is the last.
    """

    def __init__(self, axis=-1):
        self.axis = _check_axis("Mean", axis)

    def __call__(self, w):
        w = ops.convert_to_tensor(w)
        mean = ops.mean(w, axis=self.axis, keepdims=True)
        return ops.broadcast_to(mean, ops.shape(w))

    def get_config(self):
        axis = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return {"axis": axis}
