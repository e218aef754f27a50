"""The event-driven convolution (keras_spiking/kernels/event_conv) against a plain
numpy convolution and against Keras's own ``Conv2D``.

The kernels visit only nonzero inputs, so every case uses sparse inputs with
arbitrary (also negative) values, geometries where taps fall off the edges
(strides, "same" padding, non-square kernels) and channel counts that are not
multiples of the 16-float vectors. ``TimeFold(Conv2D)`` must take the kernels in
a TensorFlow graph and give Keras's results, forward and gradients, to float32
rounding.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conv_reference import (GEOMETRIES, numpy_conv, numpy_filter_grad, numpy_input_grad,
                            sparse_values)
from conv_reference import close as _close
from kernel_helpers import library_or_skip, op_types

import keras_spiking
from keras_spiking.kernels import event_conv
from keras_spiking.layers import Leaky, TimeFold

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the event-driven kernels are TensorFlow ops")

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

@pytest.fixture(scope="module")
def lib():
    return library_or_skip("event_conv")


@pytest.mark.parametrize("shape,kernel_size,filters,strides,padding", GEOMETRIES)
def test_forward_and_both_gradients_match_numpy(lib, shape, kernel_size, filters, strides,
                                                 padding):
    rng = np.random.default_rng(len(shape) + filters)
    x = sparse_values(rng, shape, 0.2)
    w = rng.normal(0, 0.3, kernel_size + (shape[3], filters)).astype("float32")
    b = rng.normal(0, 1, filters).astype("float32")
    expected = numpy_conv(x.astype(float), w.astype(float), b.astype(float), strides, padding)
    out = lib.keras_spiking_event_conv2d(x, w, b, strides=list(strides), padding=padding.upper())
    assert tuple(out.shape) == expected.shape
    _close(out.numpy(), expected)
    # no bias: the empty vector
    out = lib.keras_spiking_event_conv2d(x, w, np.zeros([0], "float32"), strides=list(strides),
                                         padding=padding.upper())
    _close(out.numpy(), expected - b)

    dout = sparse_values(rng, expected.shape, 0.3)
    dx, dbias = lib.keras_spiking_event_conv2d_input_grad(
        np.array(shape, "int32"), w, dout, strides=list(strides), padding=padding.upper())
    _close(dx.numpy(), numpy_input_grad(shape, w.astype(float), dout.astype(float), strides,
                                        padding))
    _close(dbias.numpy(), dout.astype(float).sum(axis=(0, 1, 2)))  # summed on the way
    dout = rng.normal(0, 1, expected.shape).astype("float32")
    dw = lib.keras_spiking_event_conv2d_filter_grad(
        x, np.array(w.shape, "int32"), dout, strides=list(strides), padding=padding.upper())
    _close(dw.numpy(), numpy_filter_grad(x.astype(float), dout.astype(float), kernel_size,
                                         strides, padding))


def test_all_zero_and_all_nonzero_inputs(lib):
    rng = np.random.default_rng(3)
    w = rng.normal(0, 1, (3, 3, 4, 8)).astype("float32")
    b = rng.normal(0, 1, 8).astype("float32")
    zeros = np.zeros((2, 6, 6, 4), "float32")
    out = lib.keras_spiking_event_conv2d(zeros, w, b, strides=[1, 1], padding="VALID").numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(b, (2, 4, 4, 8)))
    dw = lib.keras_spiking_event_conv2d_filter_grad(
        zeros, np.array(w.shape, "int32"), np.ones((2, 4, 4, 8), "float32"), strides=[1, 1],
        padding="VALID").numpy()
    np.testing.assert_array_equal(dw, 0)
    full = rng.normal(0, 1, (2, 6, 6, 4)).astype("float32")
    out = lib.keras_spiking_event_conv2d(full, w, b, strides=[1, 1], padding="VALID")
    _close(out.numpy(), numpy_conv(full.astype(float), w.astype(float), b.astype(float), (1, 1),
                                   "valid"))


def test_bad_shapes_raise(lib):
    x = np.zeros((2, 6, 6, 4), "float32")
    with pytest.raises(tf.errors.InvalidArgumentError, match="filter must be"):
        lib.keras_spiking_event_conv2d(x, np.zeros((3, 3, 5, 8), "float32"),
                                       np.zeros([0], "float32"), strides=[1, 1], padding="VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="bias must have"):
        lib.keras_spiking_event_conv2d(x, np.zeros((3, 3, 4, 8), "float32"),
                                       np.zeros([3], "float32"), strides=[1, 1], padding="VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="out_backprop has shape"):
        lib.keras_spiking_event_conv2d_filter_grad(
            x, np.array([3, 3, 4, 8], "int32"), np.zeros((2, 3, 3, 8), "float32"),
            strides=[1, 1], padding="VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="out_backprop has shape"):
        lib.keras_spiking_event_conv2d_input_grad(
            np.array([2, 6, 6, 4], "int32"), np.zeros((3, 3, 4, 8), "float32"),
            np.zeros((2, 4, 4, 7), "float32"), strides=[1, 1], padding="VALID")
    with pytest.raises(tf.errors.InvalidArgumentError, match="input_sizes must have 4"):
        lib.keras_spiking_event_conv2d_input_grad(
            np.array([2, 6, 6], "int32"), np.zeros((3, 3, 4, 8), "float32"),
            np.zeros((2, 4, 4, 8), "float32"), strides=[1, 1], padding="VALID")


def _fold_run(layer, x, fused):
    """TimeFold(layer)(x) in a graph, the gradients of a weighted sum w.r.t. x and the
    layer's weights, and the graph's op types."""
    with keras_spiking.default(fused_kernels=fused):
        fold = TimeFold(layer)

        @tf.function(autograph=False)
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = fold(x)
                loss = tf.reduce_sum(y * tf.sin(y + 0.3))
            return y, tape.gradient(loss, [x] + layer.trainable_weights)

        concrete = run.get_concrete_function(x)
        return run(x), op_types(concrete.graph)


@pytest.mark.parametrize("density", [0.08, 0.25, 0.6])
@pytest.mark.parametrize("activation,use_bias", [(None, True), ("relu", False)])
def test_time_fold_conv2d_takes_the_kernels_and_matches_keras(lib, density, activation,
                                                              use_bias):
    rng = np.random.default_rng(int(density * 100))
    x = tf.constant((rng.random((3, 4, 10, 10, 6)) < density).astype("float32"))  # spikes
    conv = keras.layers.Conv2D(20, 3, padding="same", activation=activation, use_bias=use_bias)
    conv.build((None, 10, 10, 6))
    if use_bias:
        conv.bias.assign(rng.normal(0, 0.5, 20).astype("float32"))
    (y, grads), types = _fold_run(conv, x, fused=True)
    (y_ref, grads_ref), types_ref = _fold_run(conv, x, fused=False)
    assert {"KerasSpikingEventConv2D", "KerasSpikingEventConv2DFilterGrad",
            "KerasSpikingEventConv2DInputGrad"} <= types
    assert not any(t.startswith("KerasSpikingEvent") for t in types_ref)
    assert y.shape == (3, 4, 10, 10, 20)
    _close(y.numpy(), y_ref.numpy())
    for g, g_ref in zip(grads, grads_ref):
        _close(g.numpy(), g_ref.numpy())


def test_the_density_limits_pick_the_kernels(lib, monkeypatch):
    """Above a limit the dense kernel runs (Keras's numbers bit for bit); below it
    the event-driven one (the same numbers to rounding, here not bit for bit). The
    output gradient is that of a 2x2 max pooling: one in four nonzero."""
    rng = np.random.default_rng(5)
    folded = tf.constant(sparse_values(rng, (16, 12, 12, 12), 0.1))
    conv = keras.layers.Conv2D(64, 5)
    conv.build((None, 12, 12, 12))
    conv.bias.assign(rng.normal(0, 0.5, 64).astype("float32"))
    upstream = tf.constant(rng.normal(0, 1, (16, 4, 4, 64)), tf.float32)

    def run(call):
        with tf.GradientTape() as tape:
            tape.watch(folded)
            out = call(folded)
            loss = tf.reduce_sum(tf.nn.max_pool2d(out, 2, 2, "VALID") * upstream)
        return [out] + tape.gradient(loss, [folded, conv.kernel, conv.bias])

    expected = [v.numpy() for v in run(conv)]
    for limit, same in ((0.5, False), (0.05, True)):
        monkeypatch.setattr(event_conv, "MAX_DENSITY",
                            {"forward": limit, "filter": limit, "input": limit})
        results = tf.function(lambda: run(lambda v: event_conv.conv2d(conv, v)))()
        for name, got, want in zip(("out", "dx", "dkernel", "dbias"), results, expected):
            _close(got.numpy(), want)
            if name == "dbias":  # a sum of the output gradient either way (in another order)
                continue
            assert np.array_equal(got.numpy(), want) == same, name


def test_applies_only_where_it_computes_the_same(lib):
    x = tf.zeros((2, 8, 8, 4))

    def built(layer, shape=(None, 8, 8, 4)):
        layer.build(shape)
        return layer

    assert event_conv.applies(built(keras.layers.Conv2D(8, 3)), x)

    class Custom(keras.layers.Conv2D):
        pass

    for layer in (
        built(keras.layers.Conv2D(8, 3, dilation_rate=2)),
        built(keras.layers.Conv2D(8, 3, groups=2)),
        built(keras.layers.Conv2D(8, 3, dtype="mixed_bfloat16")),
        built(Custom(8, 3)),
        keras.layers.Conv2D(8, 3),  # not built
        built(keras.layers.DepthwiseConv2D(3)),
    ):
        assert not event_conv.applies(layer, x), layer
    assert not event_conv.applies(built(keras.layers.Conv2D(8, 3)), tf.zeros((2, 8, 8, 4),
                                                                               tf.float64))
    for setting in ({"fused_kernels": False}, {"event_conv": False}):
        with keras_spiking.default(**setting):
            assert not event_conv.applies(built(keras.layers.Conv2D(8, 3)), x)

    conv = built(keras.layers.Conv2D(8, 3))
    seen = []

    @tf.function(jit_compile=True)
    def in_xla(x):
        seen.append(event_conv.applies(conv, x))
        return x

    in_xla(x)
    assert seen == [False]


def test_spiking_model_trains_the_same_with_and_without_the_kernels(lib):
    """Leaky -> TimeFold(Conv2D) -> Leaky, one epoch of fit: the weights after
    training agree with the dense run to float32 rounding."""
    rng = np.random.default_rng(7)
    x = rng.normal(0.4, 1.0, (32, 6, 10, 10, 3)).astype("float32")
    y = rng.normal(0, 1, (32, 6, 8, 8, 8)).astype("float32")
    weights = []
    for fused in (True, False):
        with keras_spiking.default(fused_kernels=fused):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((6, 10, 10, 3)),
                Leaky(0.8, surrogate=keras_spiking.surrogates.FastSigmoid(5.0)),
                TimeFold(keras.layers.Conv2D(8, 3)),
                Leaky(0.8, surrogate=keras_spiking.surrogates.FastSigmoid(5.0),
                      output="membrane"),
            ])
            model.compile(keras.optimizers.SGD(0.1), "mse")
            model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
            weights.append([w.numpy() for w in model.weights])
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_density_is_estimated_from_samples_spread_over_the_batch():
    rng = np.random.default_rng(11)
    small = sparse_values(rng, (10, 6, 6, 3), 0.3)  # fewer samples than counted: exact
    assert float(event_conv._density(tf.constant(small))) == pytest.approx(
        np.count_nonzero(small) / small.size)
    # 640 samples: every 10th is counted, spread over the batch (early samples all
    # zero, as the first steps of a converted SNN, do not decide it)
    large = sparse_values(rng, (640, 6, 6, 3), 0.2)
    large[:320] = 0
    estimate = float(event_conv._density(tf.constant(large)))
    assert estimate == pytest.approx(np.count_nonzero(large) / large.size, abs=0.02)
    assert estimate == pytest.approx(
        np.count_nonzero(large[::10]) / large[::10].size, rel=1e-6)


def test_nan_and_inf_inputs_propagate_as_in_the_dense_convolution(lib):
    """A NaN or Inf input is nonzero: the event-driven kernels visit it, so the
    outputs it reaches are NaN / Inf as with TensorFlow's convolution, never a
    plausible number."""
    x = np.zeros((1, 6, 6, 2), "float32")
    x[0, 2, 3, 1], x[0, 0, 0, 0] = np.nan, np.inf
    w = np.ones((3, 3, 2, 4), "float32")
    b = np.zeros([4], "float32")
    out = lib.keras_spiking_event_conv2d(x, w, b, strides=[1, 1], padding="VALID").numpy()
    dense = tf.nn.conv2d(x, w, 1, "VALID").numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(dense))
    np.testing.assert_array_equal(np.isinf(out), np.isinf(dense))
    assert np.isnan(out).any() and np.isinf(out).any()
    finite = np.isfinite(dense)
    np.testing.assert_array_equal(out[finite], dense[finite])


GENERIC_CHECK = r"""
import subprocess, sys
import numpy as np, tensorflow as tf
from keras_spiking.kernels import build
target = sys.argv[1]
command = ["g++", *build.FLAGS, "-mno-avx512f", str(build.HERE / "event_conv.cc"), "-o", target,
           *tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]
subprocess.run(command, check=True, capture_output=True)
lib = tf.load_op_library(target)
rng = np.random.default_rng(0)
for shape, k, o, st, pad in [((3, 12, 12, 12), (5, 5), 70, (1, 1), "VALID"),
                             ((2, 9, 11, 3), (3, 3), 5, (2, 2), "SAME")]:
    x = ((rng.random(shape) < 0.2) * rng.normal(size=shape)).astype("float32")
    w = rng.normal(size=k + (shape[3], o)).astype("float32")
    b = rng.normal(size=o).astype("float32")
    s4 = [1, *st, 1]
    ref = tf.nn.conv2d(x, w, s4, pad) + b
    dout = ((rng.random(ref.shape) < 0.25) * rng.normal(size=ref.shape)).astype("float32")
    pairs = [
        (lib.keras_spiking_event_conv2d(x, w, b, strides=list(st), padding=pad), ref),
        (lib.keras_spiking_event_conv2d_filter_grad(x, np.array(w.shape, "int32"), dout,
                                                    strides=list(st), padding=pad),
         tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=w.shape, out_backprop=dout,
                                         strides=s4, padding=pad)),
    ]
    dx, dbias = lib.keras_spiking_event_conv2d_input_grad(np.array(x.shape, "int32"), w, dout,
                                                          strides=list(st), padding=pad)
    pairs += [
        (dx, tf.raw_ops.Conv2DBackpropInput(input_sizes=x.shape, filter=w, out_backprop=dout,
                                            strides=s4, padding=pad)),
        (dbias, tf.reduce_sum(dout, axis=[0, 1, 2])),
    ]
    for got, want in pairs:
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-4 * float(np.abs(want).max()))
print("generic build ok")
"""


def test_the_build_without_avx512_computes_the_same(lib, tmp_path):
    """On a CPU without AVX-512 the kernels compile their plain loops: built here with
    ``-mno-avx512f`` (in a child process: one process cannot load two libraries that
    register the same ops), they match TensorFlow's convolution and its gradients."""
    done = subprocess.run(
        [sys.executable, "-c", GENERIC_CHECK, str(tmp_path / "event_conv_generic.so")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "generic build ok" in done.stdout
