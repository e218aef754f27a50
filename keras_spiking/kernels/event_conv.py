"""Event-driven ``Conv2D`` over spikes (``event_conv.h``): work per nonzero value.

A convolution applied to a spiking layer's output (``TimeFold(Conv2D)``) sees
mostly zeros, and when a max pooling follows it, its output gradient is at
least three quarters zeros. ``conv2d`` computes each pass of a sparse batch by
visiting only the nonzero values: the forward pass (``out[n, oy, ox] +=
x[n, y, x, c] * w[ky, kx, c]`` for each nonzero input) and the filter gradient
while the inputs' density is at most ``MAX_DENSITY["forward"]`` /
``MAX_DENSITY["filter"]``, the input gradient (``dx[n, y, x] += dout[n, oy, ox, o]
* w[ky, kx, :, o]`` for each nonzero output gradient) while the output gradient's density
is at most ``MAX_DENSITY["input"]`` (that op also sums the output gradient for
the bias gradient while it reads it); a denser batch takes the backend's dense
kernel for that pass (TensorFlow's, or XLA's on JAX). Results equal ``keras.layers.Conv2D``'s up to float32
rounding (the sums run in another order).

Measured on the tutorial CSNN's second convolution (3200 folded 12x12x12
spike maps, 64 5x5 filters, 2 cores, ``benchmarks/event_conv.py``, 2026-12-04
20:49 UTC): at the first ``Leaky``'s ~9 % density the forward pass took about
0.46x and the filter gradient 0.51x the dense kernels' time, the input gradient
at the pooling's 25 % 0.41x; they break even at about 35 %, 30 % and 80 %. A bfloat16
convolution (``mixed_bfloat16``) stays dense: the event-driven kernels in
float32 plus the casts were slower than it (0.86x in training, before the
input gradient was event-driven).

Used for ``keras.layers.Conv2D`` itself (not a subclass) in float32 with
``channels_last``, no dilation and one group: on TensorFlow on CPU outside XLA
(the ops of ``event_conv.cc``), and on JAX on CPU, also under ``jit``, for
the two gradients through XLA's FFI (the handlers of ``event_conv_xla.cc``, the
same C++ passes of ``event_conv.h``; ``jax.custom_vjp``, and ``lax.cond`` for the
density test). On JAX the forward pass stays XLA's convolution: event-driven
behind a ``lax.cond`` it made the CSNN's inference slower (60 against 51 ms per
batch at the first ``Leaky``'s 19 % density, 2026-12-07; XLA copied the spikes
into the custom call's row-major layout twice, and the condition kept its
operands apart), although the pass alone took 27 against 34 ms. The gradients
took the CSNN's JAX training step from 303 to 167 ms
(``benchmarks/jax_training_step.py``, "XLA conv").
``keras_spiking.default.event_conv = False`` turns it off (Keras's own
``Conv2D`` then runs), as do ``keras_spiking.default.fused_kernels = False`` and
``KERAS_SPIKING_FUSED=0`` with the other kernels.
"""

import keras

from keras_spiking import config
from keras_spiking.kernels import build

#: largest share of nonzero values in a batch for which each pass is event-driven:
#: of the inputs for the forward pass and the filter gradient, of the output
#: gradient for the input gradient
MAX_DENSITY = {"forward": 0.3, "filter": 0.3, "input": 0.7}


#: the FFI handlers of event_conv_xla.cc (JAX): filter and input gradient
HANDLERS = ("KerasSpikingEventConv2DFilterGrad", "KerasSpikingEventConv2DInputGrad")


def _library():
    return build.load("event_conv")


def _runs_here():
    if keras.backend.backend() == "jax":
        return build.runs_here_xla("event_conv", HANDLERS)
    return build.runs_here("event_conv")


def applies(layer, x):
    """True if ``conv2d`` computes ``layer(x)`` here (see the module docstring)."""
    if not (config.default.fused_kernels and config.default.event_conv
            and keras.backend.backend() in ("tensorflow", "jax")
            and type(layer) is keras.layers.Conv2D and layer.built):
        return False
    if (layer.data_format != "channels_last" or tuple(layer.dilation_rate) != (1, 1)
            or layer.groups != 1 or layer.padding not in ("valid", "same")):
        return False
    if not (layer.compute_dtype == "float32" and layer.variable_dtype == "float32"
            and keras.backend.standardize_dtype(x.dtype) == "float32"):
        return False
    if len(x.shape) != 4 or any(n is None for n in x.shape[1:]):
        return False
    return _runs_here()


#: samples of a batch whose nonzeros are counted to estimate its density
DENSITY_SAMPLES = 64


def _density(x):
    """The share of nonzero values in ``DENSITY_SAMPLES`` samples spread evenly over
    the batch of ``x`` (counting all of a large batch cost about what the
    convolution saved: the converted 3-conv SNN at T = 30 ran 0.95x as fast as with
    Keras's own Conv2D, and 1.32x with the 64 samples)."""
    if keras.backend.backend() == "jax":
        import jax.numpy as jnp

        sample = x[::max(1, x.shape[0] // DENSITY_SAMPLES)]
        return jnp.count_nonzero(sample) / sample.size
    import tensorflow as tf

    batch = tf.shape(x)[0]
    step = tf.maximum(1, batch // DENSITY_SAMPLES)
    sample = x[::step]
    return tf.math.count_nonzero(sample, dtype=tf.float32) / tf.cast(tf.size(sample), tf.float32)


def conv2d(layer, x):
    """``layer(x)`` for a ``keras.layers.Conv2D`` (``applies(layer, x)``), with the
    event-driven kernels for a sparse batch."""
    out = (_conv2d_jax if keras.backend.backend() == "jax" else _conv2d_tensorflow)(layer, x)
    return out if layer.activation is None else layer.activation(out)


def _conv2d_tensorflow(layer, x):
    import tensorflow as tf

    lib = _library()
    strides = [int(s) for s in layer.strides]
    conv_strides = [1] + strides + [1]
    padding = layer.padding.upper()
    kernel = tf.convert_to_tensor(layer.kernel)
    bias = tf.convert_to_tensor(layer.bias) if layer.use_bias else tf.zeros([0], tf.float32)
    density = _density(x)
    sparse = {k: density <= limit for k, limit in MAX_DENSITY.items()}

    @tf.custom_gradient
    def run(x, kernel, bias):
        def dense():
            out = tf.nn.conv2d(x, kernel, conv_strides, padding)
            return tf.nn.bias_add(out, bias) if layer.use_bias else out

        def events():
            return lib.keras_spiking_event_conv2d(x, kernel, bias, strides=strides,
                                                  padding=padding)

        out = tf.cond(sparse["forward"], events, dense)

        def grad(dout):
            def dense_input_grad():
                dx = tf.raw_ops.Conv2DBackpropInput(
                    input_sizes=tf.shape(x), filter=kernel, out_backprop=dout,
                    strides=conv_strides, padding=padding)
                dbias = (tf.reduce_sum(dout, axis=[0, 1, 2]) if layer.use_bias
                         else tf.zeros([layer.filters]))
                return dx, dbias

            # the event-driven op also sums dout for the bias gradient on its way
            dx, dbias = tf.cond(
                _density(dout) <= MAX_DENSITY["input"],
                lambda: tuple(lib.keras_spiking_event_conv2d_input_grad(
                    tf.shape(x), kernel, dout, strides=strides, padding=padding)),
                dense_input_grad)
            sizes = tf.shape(kernel)
            dkernel = tf.cond(
                sparse["filter"],
                lambda: lib.keras_spiking_event_conv2d_filter_grad(
                    x, sizes, dout, strides=strides, padding=padding),
                lambda: tf.raw_ops.Conv2DBackpropFilter(
                    input=x, filter_sizes=sizes, out_backprop=dout, strides=conv_strides,
                    padding=padding))
            return dx, dkernel, dbias if layer.use_bias else tf.zeros([0])

        return out, grad

    return run(x, kernel, bias)


def _conv2d_jax(layer, x):
    import jax
    import jax.numpy as jnp
    import numpy as np

    if build.load_xla("event_conv", HANDLERS) is None:  # registers the handlers
        raise RuntimeError("event_conv.conv2d: the FFI library is not available here "
                           "(event_conv.applies says so first)")

    strides = [int(s) for s in layer.strides]
    attrs = dict(stride_rows=np.int64(strides[0]), stride_cols=np.int64(strides[1]),
                 same=np.int64(layer.padding == "same"))
    padding = layer.padding.upper()
    numbers = ("NHWC", "HWIO", "NHWC")
    kernel = keras.ops.convert_to_tensor(layer.kernel)
    bias = (keras.ops.convert_to_tensor(layer.bias) if layer.use_bias
            else jnp.zeros([0], jnp.float32))

    def dense(x, kernel):
        return jax.lax.conv_general_dilated(x, kernel, strides, padding, dimension_numbers=numbers)

    def forward(x, kernel, bias):
        out = dense(x, kernel)
        return out + bias if layer.use_bias else out

    @jax.custom_vjp
    def run(x, kernel, bias):
        return forward(x, kernel, bias)

    def run_forward(x, kernel, bias):
        return forward(x, kernel, bias), (x, kernel)

    def run_backward(saved, dout):
        x, kernel = saved
        dense_grads = jax.vjp(dense, x, kernel)[1]
        bias_shape = jax.ShapeDtypeStruct((kernel.shape[-1],), jnp.float32)

        def events_input_grad(dout):
            return tuple(jax.ffi.ffi_call(HANDLERS[1], (jax.ShapeDtypeStruct(x.shape, x.dtype),
                                                        bias_shape))(kernel, dout, **attrs))

        def dense_input_grad(dout):
            return dense_grads(dout)[0], jnp.sum(dout, axis=(0, 1, 2))

        def events_filter_grad(dout):
            return jax.ffi.ffi_call(HANDLERS[0], jax.ShapeDtypeStruct(kernel.shape, kernel.dtype))(
                x, dout, **attrs)

        def dense_filter_grad(dout):
            return dense_grads(dout)[1]

        dx, dbias = jax.lax.cond(_density(dout) <= MAX_DENSITY["input"], events_input_grad,
                                 dense_input_grad, dout)
        dkernel = jax.lax.cond(_density(x) <= MAX_DENSITY["filter"], events_filter_grad,
                               dense_filter_grad, dout)
        return dx, dkernel, dbias if layer.use_bias else jnp.zeros([0], jnp.float32)

    run.defvjp(run_forward, run_backward)
    return run(x, kernel, bias)
