"""Max pooling over non-overlapping windows with a one-byte gradient mask (JAX).

``y[w] = max(x[i] for i in window w)``; the gradient goes to the first maximum
of each window in row-major order, ``dx[i] = dy[w]`` there and 0 elsewhere
(what TensorFlow's ``MaxPoolGrad`` and JAX's ``reduce_window`` gradient choose).

On JAX (jax 0.10, XLA CPU) the gradient of ``keras.ops.max_pool`` keeps the
pooled tensor and rebuilds the winners with four int32 index tensors and a
scatter, each the size of the input: on the tutorial CSNN's second pooling
(3200 maps of 8x8x64) about 0.24 GiB of the training step's 0.47 GiB of
temporary buffers (``--xla_dump_to`` buffer assignment). ``pool`` computes the
forward pass with ``keras.ops.max_pool`` itself and keeps only a boolean mask of
the winners (a quarter of a float32 input) for the backward pass, an
elementwise product: with it the CSNN's training step took 0.30 s instead of
0.42 s, with 0.31 GiB of XLA's temporary buffers instead of 0.47 GiB (2026-12-06,
``benchmarks/jax_training_step.py``).

Both ends pass through ``jax.lax.optimization_barrier``, so that XLA keeps what
this module means it to keep. Without the barrier on the output gradient, XLA
fused the ``where`` into each of its consumers and so materialised it twice (once
for the bias gradient of a convolution before the pooling, once for its input
gradient), keeping the convolution's float output alive to recompute the
winners: 0.28 instead of 0.33 GiB of temporaries on the CSNN (2026-12-06,
``--xla_dump_to`` buffer assignment). The barrier on the mask keeps the one-byte
mask, not the float input, as what the backward pass reads.

Used on JAX for Keras's own ``MaxPooling1D`` / ``MaxPooling2D`` (not a subclass)
with ``strides == pool_size``, ``padding="valid"``, ``channels_last`` and a
static shape whose spatial sizes the windows divide (``TimeFold`` calls it; other
pooling runs Keras's). ``keras_spiking.default.fused_kernels = False`` turns it
off with the other kernels. TensorFlow keeps its own ``MaxPool``, whose gradient
needs no index tensors.
"""

import keras
from keras import ops

from keras_spiking import config

POOLS = (keras.layers.MaxPooling1D, keras.layers.MaxPooling2D)


def applies(layer, x):
    """True if ``pool`` computes ``layer(x)`` here (see the module docstring)."""
    if not (config.default.fused_kernels and keras.backend.backend() == "jax"
            and type(layer) in POOLS):
        return False
    size = tuple(layer.pool_size)
    if (tuple(layer.strides) != size or layer.padding != "valid"
            or layer.data_format != "channels_last" or len(x.shape) != len(size) + 2):
        return False
    spatial = x.shape[1:-1]
    return all(n is not None and n % p == 0 for n, p in zip(spatial, size))


def _any_before(mask, axis):
    """``out[..., j, ...] = any(mask[..., :j, ...])`` along ``axis`` (short axes)."""
    size = mask.shape[axis]
    parts = ops.split(mask, size, axis=axis)
    seen = ops.zeros_like(parts[0])
    out = []
    for part in parts:
        out.append(seen)
        seen = ops.logical_or(seen, part)
    return ops.concatenate(out, axis=axis)


def pool(layer, x):
    """``layer(x)`` for a non-overlapping max pooling (``applies``), whose gradient
    is the winners' mask times the output gradient."""
    size = tuple(layer.pool_size)
    spatial = x.shape[1:-1]
    split = [-1]
    for n, p in zip(spatial, size):
        split += [n // p, p]
    split.append(x.shape[-1])
    window_axes = tuple(2 + 2 * i for i in range(len(size)))

    @ops.custom_gradient
    def window_max(x):
        out = ops.max_pool(x, size, size, "valid", "channels_last")
        windows = ops.reshape(x, split)
        maxima = ops.expand_dims(out, window_axes)
        winners = _materialized(first_maximum(windows, maxima, window_axes))

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            spread = ops.where(winners, ops.expand_dims(upstream, window_axes), 0)
            return _materialized(ops.reshape(ops.cast(spread, x.dtype), ops.shape(x)))

        return out, grad

    return window_max(x)


def _materialized(x):
    """``x``, computed once into a buffer of its own on JAX (an optimisation
    barrier); unchanged on the other backends, whose graphs ``pool`` also runs in."""
    if keras.backend.backend() != "jax":
        return x
    import jax

    return jax.lax.optimization_barrier(x)


def first_maximum(windows, maxima, axes):
    """Boolean mask, shaped like ``windows``, of the first element equal to
    ``maxima`` in each window (row-major over the window ``axes``)."""
    hit = ops.equal(windows, maxima)
    # a hit is the first if no hit comes before it; "before" in row-major
    # order: an earlier index on the outermost axis where they differ
    first = hit
    for k, axis in enumerate(axes):
        # hits anywhere in the rest of the window at an earlier index of this axis
        inner = axes[k + 1:]
        row_hit = ops.any(hit, axis=inner, keepdims=True) if inner else hit
        first = ops.logical_and(first, ops.logical_not(_any_before(row_hit, axis)))
    return first
