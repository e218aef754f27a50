"""The event-driven convolution's gradients on JAX: ``kernels/event_conv_xla.cc``'s
FFI handlers, called by ``event_conv.conv2d`` under ``jax.custom_vjp``, against a
plain numpy convolution and against XLA's own (what Keras's ``Conv2D`` runs).

The density limits are forced to 1 (always event-driven) or -1 (always dense),
and ``ran`` records each FFI handler as it runs (a ``jax.debug.callback`` beside
the call, inside the ``lax.cond`` branch), so that each test knows which path ran.
"""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from conv_reference import (GEOMETRIES, close, numpy_conv, numpy_filter_grad, numpy_input_grad,
                            sparse_values)

import keras_spiking
from keras_spiking.kernels import build, event_conv
from keras_spiking.layers import Leaky, TimeFold

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax",
                                reason="the FFI handlers are for the JAX backend")

if keras.backend.backend() == "jax":
    import jax


@pytest.fixture(scope="module", autouse=True)
def library():
    if not build.runs_here_xla("event_conv", event_conv.HANDLERS):
        pytest.skip("the FFI library cannot be built here (no C++ compiler)")


@pytest.fixture
def limits(monkeypatch):
    """``limits(value)``: both gradients event-driven (1.0) or dense (-1.0)."""
    def set_to(value):
        for key in event_conv.MAX_DENSITY:
            monkeypatch.setitem(event_conv.MAX_DENSITY, key, value)
    return set_to


@pytest.fixture
def ran(monkeypatch):
    """The FFI handlers that ran since the test began, in order."""
    calls = []
    real = jax.ffi.ffi_call

    def recorded(name, *args, **kwargs):
        call = real(name, *args, **kwargs)

        def run(*a, **k):
            jax.debug.callback(lambda: calls.append(name))
            return call(*a, **k)
        return run

    monkeypatch.setattr(jax.ffi, "ffi_call", recorded)
    return calls


def conv_layer(shape, kernel_size, filters, strides, padding, seed=0, **kwargs):
    layer = keras.layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, **kwargs)
    layer.build((None,) + tuple(shape[1:]))
    rng = np.random.default_rng(seed)
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights])
    return layer


def passes(layer, x, dout):
    """The output of ``event_conv.conv2d`` and the gradients of ``sum(out * dout)``
    w.r.t. the input, the kernel and the bias, jit-compiled."""
    def f(x, kernel, bias):
        with keras.StatelessScope(state_mapping=[(layer.kernel, kernel), (layer.bias, bias)]):
            return event_conv.conv2d(layer, x)

    def run(x, kernel, bias):
        out, pull = jax.vjp(f, x, kernel, bias)
        return out, pull(dout)

    out, grads = jax.jit(run)(x, layer.kernel.value, layer.bias.value)
    return np.asarray(out), [np.asarray(g) for g in grads]


@pytest.mark.parametrize("shape,kernel_size,filters,strides,padding", GEOMETRIES)
def test_ffi_passes_match_numpy(limits, ran, shape, kernel_size, filters, strides, padding):
    limits(1.0)
    rng = np.random.default_rng(1)
    layer = conv_layer(shape, kernel_size, filters, strides, padding)
    x = sparse_values(rng, shape, 0.15)
    w, b = (v.numpy() for v in layer.weights)
    want = numpy_conv(x, w, b, strides, padding)
    dout = sparse_values(rng, want.shape, 0.3)
    out, (dx, dw, db) = passes(layer, x, dout)
    assert sorted(ran) == sorted(event_conv.HANDLERS)
    close(out, want)
    close(dx, numpy_input_grad(x.shape, w, dout, strides, padding))
    close(dw, numpy_filter_grad(x, dout, kernel_size, strides, padding))
    close(db, dout.sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("density", [0.05, 0.5, 1.0])
def test_event_driven_and_dense_paths_agree(limits, ran, density):
    shape = (4, 12, 12, 12)
    rng = np.random.default_rng(2)
    layer = conv_layer(shape, (5, 5), 64, (1, 1), "valid")
    x = sparse_values(rng, shape, density)
    dout = sparse_values(rng, (4, 8, 8, 64), 0.25)
    limits(1.0)
    events = passes(layer, x, dout)
    assert len(ran) == 2
    limits(-1.0)
    dense = passes(layer, x, dout)
    assert len(ran) == 2  # none ran
    for got, want in zip([events[0], *events[1]], [dense[0], *dense[1]]):
        close(got, want)


def test_the_measured_density_picks_the_path(ran):
    """Default limits: the filter gradient of a sparse batch runs the FFI handler,
    that of a dense batch XLA's (Keras's numbers to float32 rounding), in the same compiled
    function; the forward pass is XLA's convolution either way."""
    shape = (64, 8, 8, 16)
    layer = conv_layer(shape, (3, 3), 32, (1, 1), "same")
    rng = np.random.default_rng(3)
    dout = sparse_values(rng, (64, 8, 8, 32), 0.9)  # dense: the input gradient is XLA's
    sparse = passes(layer, sparse_values(rng, shape, 0.1), dout)
    assert ran == [event_conv.HANDLERS[0]]
    x = sparse_values(rng, shape, 0.9)
    out, grads = passes(layer, x, dout)
    assert ran == [event_conv.HANDLERS[0]]

    def keras_loss(x, kernel, bias):
        with keras.StatelessScope(state_mapping=[(layer.kernel, kernel), (layer.bias, bias)]):
            return layer(x)

    want_out, pull = jax.vjp(keras_loss, x, layer.kernel.value, layer.bias.value)
    close(out, np.asarray(want_out))
    close(grads[1], np.asarray(pull(dout)[1]))
    assert np.isfinite(sparse[1][1]).all()


def test_nan_and_inf_propagate_as_in_the_dense_convolution(limits, ran):
    """A NaN or Inf input is nonzero: the filter gradient's visit reaches it."""
    limits(1.0)
    shape = (2, 6, 6, 3)
    layer = conv_layer(shape, (3, 3), 4, (1, 1), "same")
    x = np.zeros(shape, "float32")
    x[0, 2, 3, 1], x[1, 0, 0, 2] = np.nan, np.inf
    dout = np.ones((2, 6, 6, 4), "float32")
    events = passes(layer, x, dout)[1][1]
    assert sorted(ran) == sorted(event_conv.HANDLERS)
    limits(-1.0)
    dense = passes(layer, x, dout)[1][1]
    np.testing.assert_array_equal(np.isnan(events), np.isnan(dense))
    np.testing.assert_array_equal(np.isinf(events), np.isinf(dense))


def test_bad_shapes_raise_with_the_handlers_name():
    x = np.zeros((2, 6, 6, 3), "float32")
    dout = np.zeros((2, 5, 5, 5), "float32")  # a 3x3 valid convolution gives 4x4
    call = jax.ffi.ffi_call(event_conv.HANDLERS[0], jax.ShapeDtypeStruct((3, 3, 3, 5), np.float32))
    with pytest.raises(Exception, match="event_conv2d_filter_grad: output gradient has shape"):
        jax.block_until_ready(call(x, dout, stride_rows=np.int64(1), stride_cols=np.int64(1),
                                   same=np.int64(0)))


def test_applies_on_jax_only_where_it_computes_the_same():
    x = keras.ops.zeros((2, 6, 6, 3))
    assert event_conv.applies(conv_layer((2, 6, 6, 3), 3, 4, 1, "valid"), x)
    assert not event_conv.applies(conv_layer((2, 6, 6, 3), 3, 4, 1, "valid", dilation_rate=2), x)
    assert not event_conv.applies(conv_layer((2, 6, 6, 3), 3, 4, 1, "valid", dtype="float16"), x)
    keras_spiking.default.event_conv = False
    try:
        assert not event_conv.applies(conv_layer((2, 6, 6, 3), 3, 4, 1, "valid"), x)
    finally:
        keras_spiking.default.event_conv = True


def test_spiking_model_trains_the_same_with_and_without_the_handlers(limits, ran):
    """Leaky -> TimeFold(Conv2D) -> Leaky, two epochs of ``fit`` on JAX: the
    weights with the FFI handlers (all three passes ran, limits forced to 1) equal
    those with XLA's convolution to float32 rounding."""
    limits(1.0)
    rng = np.random.default_rng(4)
    x = rng.normal(0.6, 0.6, (32, 6, 8, 8, 3)).astype("float32")
    y = rng.random((32, 6, 6, 6, 8)).astype("float32")

    def train(kernels):
        keras_spiking.default.event_conv = kernels
        try:
            keras.utils.set_random_seed(0)
            inputs = keras.Input((6, 8, 8, 3))
            h = Leaky(beta=0.8)(inputs)
            h = TimeFold(keras.layers.Conv2D(8, 3))(h)
            model = keras.Model(inputs, Leaky(beta=0.8, output="membrane")(h))
            model.compile(keras.optimizers.SGD(0.1), "mse")
            model.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
            return [w.numpy() for w in model.weights]
        finally:
            keras_spiking.default.event_conv = True

    with_handlers = train(True)
    jax.effects_barrier()
    assert set(ran) == set(event_conv.HANDLERS)
    count = len(ran)
    without = train(False)
    jax.effects_barrier()
    assert len(ran) == count
    for a, b in zip(with_handlers, without):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_without_a_compiler_conv2d_falls_back_to_keras_with_one_warning(tmp_path):
    """In a fresh process (jax.ffi registers a handler once per process)."""
    script = (
        "import warnings, keras, numpy as np\n"
        "from keras_spiking.kernels import event_conv\n"
        "layer = keras.layers.Conv2D(4, 3); layer.build((None, 6, 6, 3))\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    assert not event_conv.applies(layer, keras.ops.zeros((2, 6, 6, 3)))\n"
        "    assert not event_conv.applies(layer, keras.ops.zeros((2, 6, 6, 3)))\n"
        "messages = [str(w.message) for w in caught if 'event_conv' in str(w.message)]\n"
        "assert len(messages) == 1 and 'no C++ compiler' in messages[0], messages\n"
    )
    env = dict(os.environ, KERAS_BACKEND="jax", KERAS_SPIKING_CACHE=str(tmp_path / "cache"),
               CXX=str(tmp_path / "no-such-compiler"))
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())
