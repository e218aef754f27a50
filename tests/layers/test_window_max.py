"""Non-overlapping max pooling with a mask gradient (keras_spiking/kernels/window_max)
against a plain numpy max pooling whose gradient goes to each window's first
maximum, on inputs full of ties; and ``TimeFold`` taking it on JAX only."""

import itertools

import keras
import numpy as np
import pytest
from gradients import value_and_grads

import keras_spiking
from keras_spiking.kernels import window_max
from keras_spiking.layers import TimeFold


def numpy_pool(x, size):
    """Max over each window and the gradient of ``sum(out * weights)``: the weight
    goes to the first maximum of the window, row-major."""
    n, *spatial, c = x.shape
    out_shape = [s // p for s, p in zip(spatial, size)]
    out = np.zeros([n, *out_shape, c], x.dtype)
    weights = np.arange(out.size, dtype=x.dtype).reshape(out.shape) + 1
    grad = np.zeros_like(x)
    for b, ch in itertools.product(range(n), range(c)):
        for w in itertools.product(*[range(o) for o in out_shape]):
            cells = list(itertools.product(*[range(i * p, (i + 1) * p) for i, p in zip(w, size)]))
            values = [x[(b, *cell, ch)] for cell in cells]
            k = int(np.argmax(values))  # first maximum, row-major
            out[(b, *w, ch)] = values[k]
            grad[(b, *cells[k], ch)] = weights[(b, *w, ch)]
    return out, grad, weights


CASES = [
    (keras.layers.MaxPooling2D, (2, 2), (3, 8, 6, 5)),  # the CSNN's pooling
    (keras.layers.MaxPooling2D, (2, 3), (2, 6, 9, 3)),  # non-square windows
    (keras.layers.MaxPooling2D, (3, 3), (1, 9, 3, 2)),
    (keras.layers.MaxPooling1D, (3,), (3, 9, 4)),
]


@pytest.mark.parametrize("cls, size, shape", CASES)
def test_forward_and_gradient_match_numpy_with_ties(cls, size, shape):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, shape).astype("float32")  # most windows hold ties
    layer = cls(size)
    out, grad, weights = numpy_pool(x, size)
    value, (dx,) = value_and_grads(lambda x: window_max.pool(layer, x) * weights, x)
    np.testing.assert_array_equal(value, out * weights)
    np.testing.assert_array_equal(dx, grad)
    # and exactly what Keras's own pooling gives, forward and backward
    keras_value, (keras_dx,) = value_and_grads(lambda x: layer(x) * weights, x)
    np.testing.assert_array_equal(value, keras_value)
    np.testing.assert_array_equal(dx, keras_dx)


@pytest.mark.skipif(keras.backend.backend() != "jax",
                    reason="used on JAX; TensorFlow's MaxPool itself skips NaN")
def test_nan_in_a_window_shows_in_its_output_and_stops_its_gradient():
    x = np.ones((1, 4, 4, 1), "float32")
    x[0, 1, 1, 0] = np.nan
    value, (dx,) = value_and_grads(lambda x: window_max.pool(keras.layers.MaxPooling2D(2), x), x)
    assert np.isnan(value[0, 0, 0, 0]) and np.isfinite(value[0, 1:, 1:]).all()
    assert (dx[0, :2, :2] == 0).all() and dx[0, 2:, 2:].sum() == 1


@pytest.mark.parametrize("layer, shape, reason", [
    (keras.layers.MaxPooling2D(2, strides=1), (2, 8, 8, 3), "overlapping windows"),
    (keras.layers.MaxPooling2D(2, padding="same"), (2, 8, 8, 3), "same padding"),
    (keras.layers.MaxPooling2D(3), (2, 8, 9, 3), "a size the windows do not divide"),
    (keras.layers.MaxPooling2D(2, data_format="channels_first"), (2, 3, 8, 8), "channels_first"),
    (keras.layers.AveragePooling2D(2), (2, 8, 8, 3), "average pooling"),
    (keras.layers.MaxPooling3D(2), (2, 4, 4, 4, 3), "3-D windows"),
])
def test_applies_only_where_it_computes_the_layer(layer, shape, reason):
    assert not window_max.applies(layer, np.zeros(shape, "float32")), reason


def test_applies_on_jax_only_and_not_with_the_kernels_off():
    layer, x = keras.layers.MaxPooling2D(2), np.zeros((2, 8, 8, 3), "float32")
    assert window_max.applies(layer, x) == (keras.backend.backend() == "jax")
    with keras_spiking.default(fused_kernels=False):
        assert not window_max.applies(layer, x)


def test_timefold_takes_it_on_jax_with_keras_results(monkeypatch):
    calls = []
    pool = window_max.pool
    monkeypatch.setattr(window_max, "pool", lambda *a: calls.append(1) or pool(*a))
    rng = np.random.default_rng(1)
    x = (rng.random((2, 3, 8, 8, 4)) < 0.3).astype("float32")  # spikes: ties everywhere
    folded = TimeFold(keras.layers.MaxPooling2D(2))
    weights = np.arange(2 * 3 * 4 * 4 * 4, dtype="float32").reshape(2, 3, 4, 4, 4)
    value, (dx,) = value_and_grads(lambda x: folded(x) * weights, x)
    assert len(calls) == (1 if keras.backend.backend() == "jax" else 0)
    out, first, _ = numpy_pool(x.reshape(6, 8, 8, 4), (2, 2))  # first != 0 at the winners
    np.testing.assert_array_equal(value, out.reshape(weights.shape) * weights)
    upsampled = weights.reshape(6, 4, 4, 4).repeat(2, 1).repeat(2, 2)
    np.testing.assert_array_equal(dx, np.where(first != 0, upsampled, 0).reshape(x.shape))
