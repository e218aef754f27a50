"""Layers that handle the time axis: ``TimeFold`` and ``RepeatTime``.

A spiking network applies the same stateless layers (Dense, Conv, pooling,
Flatten, ...) at every timestep. ``TimeFold`` does it in one call on the time
axis folded into the batch, ``(batch * time, ...)``, instead of one call per
step like ``keras.layers.TimeDistributed`` (benchmarks/time_folding.py
measures the difference). ``RepeatTime`` tiles a static input over time.
"""

import numbers

import keras
from keras import ops


def _dim(static, dynamic, i):
    """Dimension ``i`` of a tensor: the static int if known, else a tensor."""
    return static[i] if static[i] is not None else dynamic[i]


@keras.saving.register_keras_serializable(package="keras_spiking")
class TimeFold(keras.layers.Wrapper):
    """Apply a stateless layer to every timestep at once.

    ``(batch, time, ...) -> reshape (batch * time, ...) -> layer ->
    reshape (batch, time, ...)``: the same result as
    ``keras.layers.TimeDistributed(layer)``, in a single call of ``layer``.
    The layer must treat the samples of a batch independently (Dense, Conv,
    pooling, Flatten, Reshape, BatchNormalization in inference, Dropout, ...),
    not carry state over time. Batch and time may be unknown (``None``).

    Args:
        layer: the ``keras.layers.Layer`` to apply per timestep.

    Example::

        x = keras.Input((None, 28, 28, 1))                 # any number of steps
        y = keras_spiking.layers.TimeFold(keras.layers.Conv2D(8, 3))(x)
    """

    def __init__(self, layer, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "TimeFold: layer must be a keras.layers.Layer instance, got "
                f"{layer!r}. Wrap a layer, e.g. TimeFold(keras.layers.Dense(10))."
            )
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) < 3:
            raise ValueError(
                f"{self.name}: expected inputs shaped (batch, time, features...), "
                f"got shape {input_shape}. Add a time axis first (e.g. RepeatTime)."
            )
        batch, steps = input_shape[:2]
        folded = None if batch is None or steps is None else batch * steps
        return (folded,) + input_shape[2:]

    def build(self, input_shape):
        super().build(self._child_shape(input_shape))

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return tuple(input_shape[:2]) + tuple(child[1:])

    def call(self, inputs, training=None, mask=None):
        static, dynamic = inputs.shape, ops.shape(inputs)
        trailing = tuple(_dim(static, dynamic, i) for i in range(2, len(static)))
        folded = ops.reshape(inputs, (-1,) + trailing)
        kwargs = {}
        if self.layer._call_has_training_arg:
            kwargs["training"] = training
        if mask is not None and self.layer._call_has_mask_arg:
            kwargs["mask"] = ops.reshape(mask, (-1,) + tuple(mask.shape[2:]))
        outputs = self.layer(folded, **kwargs)
        out_static, out_dynamic = outputs.shape, ops.shape(outputs)
        out_trailing = tuple(
            _dim(out_static, out_dynamic, i) for i in range(1, len(out_static))
        )
        if static[1] is not None:
            lead = (-1, static[1])
        else:
            lead = (_dim(static, dynamic, 0), -1)
        return ops.reshape(outputs, lead + out_trailing)

    def compute_mask(self, inputs, mask=None):
        return mask


@keras.saving.register_keras_serializable(package="keras_spiking")
class RepeatTime(keras.layers.Layer):
    """Tile a static input over time: ``(batch, ...) -> (batch, timesteps, ...)``.

    ``y[:, t] = x`` for every ``t``: how an image is presented to a spiking
    network as a constant input current.

    Args:
        timesteps: number of steps, an integer >= 1.
    """

    def __init__(self, timesteps, **kwargs):
        super().__init__(**kwargs)
        if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral):
            raise TypeError(
                f"{self.name}: timesteps must be an integer >= 1, got {timesteps!r}."
            )
        if timesteps < 1:
            raise ValueError(
                f"{self.name}: timesteps must be an integer >= 1, got {timesteps!r}."
            )
        self.timesteps = int(timesteps)

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.timesteps, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["timesteps"] = self.timesteps
        return config
