"""quantize_weights: kernels on a signed integer grid, everything else kept."""

import keras
import numpy as np
import pytest

from keras_spiking.converters import convert, quantize_weights
from keras_spiking.layers import TimeFold

L = keras.layers


def small_cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 2)), L.Conv2D(4, 3, activation="relu"),
        L.DepthwiseConv2D(3), L.ReLU(), L.Flatten(), L.Dense(3),
    ])


@pytest.mark.parametrize("bits, per_channel", [(8, False), (4, True), (2, False)])
def test_kernels_are_integer_multiples_of_their_scale(bits, per_channel):
    model = small_cnn()
    quantized, report = quantize_weights(model, bits, per_channel=per_channel)
    levels = 2 ** (bits - 1) - 1
    assert [r.layer.split("/")[-1] for r in report] == [l.name for l in model.layers if l.weights]
    for original, new in zip(model.weights, quantized.weights):
        w, q = np.asarray(original), np.asarray(new)
        if not original.path.endswith("kernel"):
            np.testing.assert_array_equal(q, w)  # biases untouched
            continue
        axes = tuple(range(w.ndim - 1)) if per_channel else None
        scale = np.max(np.abs(w), axis=axes) / levels
        steps = q / scale
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-4)
        assert np.max(np.abs(steps)) <= levels + 1e-4
        assert np.max(np.abs(q - w)) <= np.max(scale) / 2 + 1e-7
    # the original model is unchanged, the copy computes with the new weights
    x = np.random.default_rng(1).normal(size=(4, 8, 8, 2)).astype("float32")
    assert not np.allclose(model.predict(x, verbose=0), quantized.predict(x, verbose=0))


def test_many_bits_barely_change_the_outputs():
    model = small_cnn()
    quantized, report = quantize_weights(model, 16)
    x = np.random.default_rng(2).normal(size=(4, 8, 8, 2)).astype("float32")
    np.testing.assert_allclose(quantized.predict(x, verbose=0), model.predict(x, verbose=0),
                               atol=1e-3)
    assert all(r.max_error <= np.max(r.scale) / 2 + 1e-9 for r in report)


def test_converted_model_kernels_inside_time_fold():
    snn = convert(small_cnn(), timesteps=4)
    quantized, report = quantize_weights(snn, 3)
    assert any(isinstance(l, TimeFold) for l in quantized.layers)
    assert len(report) == 3
    for r in report:
        assert r.scale.shape == ()
    assert quantized.output_shape == snn.output_shape


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"bits must be an integer in \[2, 32\].*got 1"):
        quantize_weights(small_cnn(), 1)
    with pytest.raises(ValueError, match="got 8.5"):
        quantize_weights(small_cnn(), 8.5)
    with pytest.raises(TypeError, match="expected a keras.Model"):
        quantize_weights(L.Dense(3), 8)


@pytest.mark.parametrize("bad, label", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_non_finite_weights_are_refused(bad, label):
    model = small_cnn()
    dense = model.layers[-1]
    kernel = dense.get_weights()[0]
    kernel[0, 0] = bad
    kernel[1, 1] = bad
    dense.set_weights([kernel, dense.get_weights()[1]])
    with pytest.raises(ValueError) as info:
        quantize_weights(model, 8)
    message = str(info.value)
    assert f"{dense.name}'" in message and "kernel" in message
    assert "2 of" in message and "non-finite" in message
