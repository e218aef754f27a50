"""QuantizedReLU (QCFS): forward against numpy, straight-through gradient, training, saving."""

import keras
import numpy as np
import pytest

import keras_spiking as ks
from keras_spiking.layers import QuantizedReLU
from keras_spiking.layers.quantized import quantized_relu
from tests.gradients import value_and_grads


def reference(x, levels, theta):
    return theta * np.floor(np.clip(x / theta, 0, 1) * levels + 0.5) / levels


@pytest.mark.parametrize("levels,theta", [(1, 1.0), (4, 1.5), (8, 0.3)])
def test_forward_equals_numpy(levels, theta):
    x = np.linspace(-1, 2.5 * theta, 301).astype("float32")
    layer = QuantizedReLU(levels, threshold=theta)
    got = keras.ops.convert_to_numpy(layer(x[None]))[0]
    np.testing.assert_allclose(got, reference(x, levels, theta), atol=1e-6)
    # L + 1 output values: 0, theta / L, ..., theta
    np.testing.assert_allclose(np.unique(got), theta * np.arange(levels + 1) / levels,
                               atol=1e-6)


def test_straight_through_gradient():
    # d/dx: 1 inside (0, theta), 0 outside; d/dtheta: y/theta - x/theta inside, 1 above
    theta, levels = 2.0, 4
    x = np.array([-1.0, 0.3, 0.9, 1.7, 2.5, 4.0], "float32")
    y, (dx, dtheta) = value_and_grads(
        lambda x, t: quantized_relu(x, levels, t), x, np.full_like(x, theta))
    inside = (x > 0) & (x < theta)
    np.testing.assert_allclose(y, reference(x, levels, theta), atol=1e-6)
    np.testing.assert_array_equal(dx, inside.astype("float32"))
    expected = np.where(inside, (y - x) / theta, np.where(x >= theta, 1.0, 0.0))
    np.testing.assert_allclose(dtheta, expected, atol=1e-6)


def test_threshold_is_learned_with_fit_and_stays_positive():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 3, (256, 1)).astype("float32")
    model = keras.Sequential([keras.Input((1,)), QuantizedReLU(8, threshold=0.5)])
    model.compile(keras.optimizers.SGD(0.5), "mse")
    before = float(model.layers[0].threshold_value())
    model.fit(x, np.minimum(x, 2.0), epochs=20, batch_size=64, verbose=0)
    after = float(model.layers[0].threshold_value())
    assert before == 0.5 and 1.6 < after < 2.4  # the clip value of the target
    model.layers[0].threshold_variable.assign(-3.0)  # clipped, never <= 0
    assert model.layers[0].threshold_value() == pytest.approx(1e-3)
    fixed = QuantizedReLU(4, threshold=1.0, learn_threshold=False)
    fixed.build((None, 1))
    assert not fixed.trainable_weights


def test_keras_round_trip_and_activation_argument(tmp_path):
    model = keras.Sequential([
        keras.Input((3,)),
        keras.layers.Dense(5, activation=QuantizedReLU(4, 2.0, learn_threshold=False)),
        QuantizedReLU(8, threshold=1.5, name="q"),
    ])
    model.get_layer("q").threshold_variable.assign(1.25)
    x = np.random.default_rng(1).normal(size=(10, 3)).astype("float32")
    path = tmp_path / "q.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_layer("q").threshold_value() == pytest.approx(1.25)
    assert ks.layers.QuantizedReLU is QuantizedReLU


@pytest.mark.parametrize("kwargs,match", [
    (dict(levels=0), "levels"), (dict(levels=2.5), "levels"),
    (dict(threshold=0.0), "threshold"), (dict(threshold=-1.0), "threshold"),
    (dict(learn_threshold="yes"), "learn_threshold"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        QuantizedReLU(**kwargs)
