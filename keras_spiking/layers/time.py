"""Layers that handle the time axis: ``TimeFold``, ``RepeatTime`` and the
``RunningMean`` readout.

A spiking network applies the same stateless layers (Dense, Conv, pooling,
Flatten, ...) at every timestep. ``TimeFold`` does it in one call on the time
axis folded into the batch, ``(batch * time, ...)``, instead of one call per
step like ``keras.layers.TimeDistributed`` (benchmarks/time_folding.py
measures the difference). ``RepeatTime`` tiles a static input over time.
"""

import keras
from keras import ops

from keras_spiking.kernels import event_conv, window_max
from keras_spiking.layers.base import checked_inputs, mark_static
from keras_spiking.validation import RefusesText, check_positive_integer


def _dim(static, dynamic, i):
    """Dimension ``i`` of a tensor: the static int if known, else a tensor."""
    return static[i] if static[i] is not None else dynamic[i]


@keras.saving.register_keras_serializable(package="keras_spiking")
class TimeFold(RefusesText, keras.layers.Wrapper):
    """Apply a stateless layer to every timestep at once.

    ``(batch, time, ...) -> reshape (batch * time, ...) -> layer ->
    reshape (batch, time, ...)``: the same result as
    ``keras.layers.TimeDistributed(layer)``, in a single call of ``layer``.
    The layer must treat the samples of a batch independently (Dense, Conv,
    pooling, Flatten, Reshape, BatchNormalization in inference, Dropout, ...),
    not carry state over time. Batch and time may be unknown (``None``).

    ``steps_per_call`` folds that many timesteps at a time instead of all of
    them (one call of ``layer`` per chunk; needs a static number of steps,
    otherwise everything is folded): smaller folded batches stay in cache,
    more calls cost more overhead. ``benchmarks/time_folding.py`` compares
    the options (and ``TimeDistributed``) for your shapes.

    Args:
        layer: the ``keras.layers.Layer`` to apply per timestep.
        steps_per_call: None (all steps in one call) or an integer >= 1.

    Example::

        x = keras.Input((None, 28, 28, 1))                 # any number of steps
        y = keras_spiking.layers.TimeFold(keras.layers.Conv2D(8, 3))(x)
    """

    def __init__(self, layer, steps_per_call=None, **kwargs):
        if not isinstance(layer, keras.layers.Layer):
            raise TypeError(
                "TimeFold: layer must be a keras.layers.Layer instance, got "
                f"{layer!r}. Wrap a layer, e.g. TimeFold(keras.layers.Dense(10))."
            )
        super().__init__(layer, **kwargs)
        if steps_per_call is not None:
            check_positive_integer(self.name, "steps_per_call", steps_per_call)
        self.steps_per_call = steps_per_call
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
        child = self._child_shape(input_shape)
        specs = self.layer.input_spec
        for spec in specs if isinstance(specs, (list, tuple)) else [specs]:
            ndim, min_ndim = getattr(spec, "ndim", None), getattr(spec, "min_ndim", None)
            if (ndim is not None and len(child) != ndim) or (
                    min_ndim is not None and len(child) < min_ndim):
                need = ndim if ndim is not None else f">= {min_ndim}"
                raise ValueError(
                    f"{self.name}: inputs of shape {tuple(input_shape)} give '"
                    f"{self.layer.name}' per-step inputs of rank {len(child)}, but it "
                    f"takes rank {need}; pass (batch, time) + its per-step shape.")
        super().build(child)

    def compute_output_shape(self, input_shape):
        child = self.layer.compute_output_shape(self._child_shape(input_shape))
        return tuple(input_shape[:2]) + tuple(child[1:])

    def call(self, inputs, training=None, mask=None):
        # NaN flows through a stateless layer: not checked here
        inputs = checked_inputs(self, inputs, check_finite=False)
        steps, chunk = inputs.shape[1], self.steps_per_call
        if chunk is None or steps is None or steps <= chunk:
            return self._fold_call(inputs, training, mask)
        # split, not slices: the gradient of a slice is a full-size padded
        # tensor per slice, which made the backward pass 3x slower (measured)
        boundaries = list(range(chunk, steps, chunk))
        pieces = ops.split(inputs, boundaries, axis=1)
        masks = [None] * len(pieces) if mask is None else ops.split(mask, boundaries, axis=1)
        outputs = [self._fold_call(p, training, m) for p, m in zip(pieces, masks)]
        return ops.concatenate(outputs, axis=1)

    def _fold_call(self, inputs, training, mask):
        static, dynamic = inputs.shape, ops.shape(inputs)
        trailing = tuple(_dim(static, dynamic, i) for i in range(2, len(static)))
        folded = ops.reshape(inputs, (-1,) + trailing)
        kwargs = {}
        if self.layer._call_has_training_arg:
            kwargs["training"] = training
        if mask is not None and self.layer._call_has_mask_arg:
            kwargs["mask"] = ops.reshape(mask, (-1,) + tuple(mask.shape[2:]))
        if event_conv.applies(self.layer, folded):  # a Conv2D over spikes: skip the zeros
            outputs = event_conv.conv2d(self.layer, folded)
        elif window_max.applies(self.layer, folded):  # JAX: a gradient without index tensors
            outputs = window_max.pool(self.layer, folded)
        else:
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

    def get_config(self):
        config = super().get_config()
        config["steps_per_call"] = self.steps_per_call
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class RepeatTime(RefusesText, keras.layers.Layer):
    """Tile a static input over time: ``(batch, ...) -> (batch, timesteps, ...)``.

    ``y[:, t] = x`` for every ``t``: how an image is presented to a spiking
    network as a constant input current.

    Args:
        timesteps: number of steps, an integer >= 1.
    """

    def __init__(self, timesteps, **kwargs):
        super().__init__(**kwargs)
        self.timesteps = check_positive_integer(self.name, "timesteps", timesteps)

    def call(self, inputs):
        inputs = checked_inputs(self, inputs, check_finite=False)
        repeated = ops.repeat(ops.expand_dims(inputs, 1), self.timesteps, axis=1)
        mark_static(repeated, inputs)
        return repeated

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config["timesteps"] = self.timesteps
        return config


def window_steps(steps, fraction):
    """Steps averaged by a readout after ``steps`` steps: ``max(1, round(fraction * steps))``
    (numpy/Python rounding, half to even)."""
    return max(1, int(round(fraction * steps)))


@keras.saving.register_keras_serializable(package="keras_spiking")
class RunningMean(RefusesText, keras.layers.Layer):
    """Readout: at every step, the mean of the last ``fraction`` of the steps so far.

    ``y[t] = mean(x[t - k(t) + 1 .. t])`` with ``k(t) = max(1, round(fraction *
    t))`` for step ``t = 1, 2, ...`` (time is axis 1): ``fraction = 1`` is the
    running mean since the first step; ``0.5`` skips the first half, the
    warm-up of synapses and deep layers. Each output step is thus the best
    estimate so far, and the last step of a run of ``T`` steps equals the mean
    of the last ``k(T)`` steps (``converters.evaluate_timesteps``' ``mean``
    readout with ``mean_fraction = fraction``). Computed from one cumulative sum
    over the whole sequence (not for ``stateful`` chunked runs).

    Args:
        fraction: share of the steps averaged, in (0, 1].
    """

    def __init__(self, fraction=1.0, **kwargs):
        super().__init__(**kwargs)
        fraction = float(fraction)
        if not 0 < fraction <= 1:
            raise ValueError(f"{self.name}: fraction must be in (0, 1], got {fraction!r}.")
        self.fraction = fraction

    def call(self, inputs):
        wide = keras.backend.standardize_dtype(inputs.dtype) == "float64"
        x = inputs if wide else ops.cast(inputs, "float32")  # sums stay accurate
        total = ops.cumsum(x, axis=1)
        padded = ops.concatenate([ops.zeros_like(total[:, :1]), total], axis=1)
        steps = inputs.shape[1]
        if steps is not None:
            k = [window_steps(t, self.fraction) for t in range(1, steps + 1)]
            start = ops.convert_to_tensor([t + 1 - kt for t, kt in enumerate(k)], "int32")
            k = ops.convert_to_tensor(k, x.dtype)
        else:
            t = ops.arange(1, ops.shape(inputs)[1] + 1, dtype=x.dtype)
            k = ops.maximum(ops.round(self.fraction * t), 1.0)
            start = ops.cast(t - k, "int32")
        k = ops.reshape(k, (1, -1) + (1,) * (len(inputs.shape) - 2))
        mean = (total - ops.take(padded, start, axis=1)) / k
        return ops.cast(mean, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config["fraction"] = self.fraction
        return config
