"""constraints.Mean: closed form, config round trip, use during fit."""

import keras
import numpy as np
import pytest

from keras_spiking.constraints import Mean

W = np.arange(24, dtype="float32").reshape(2, 3, 4) ** 1.5


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, (0, 2), (0, 1, 2)])
def test_mean_closed_form(axis):
    got = keras.ops.convert_to_numpy(Mean(axis)(W))
    expected = np.broadcast_to(W.mean(axis=axis, keepdims=True), W.shape)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_mean_of_a_vector_is_one_value_everywhere():
    got = keras.ops.convert_to_numpy(Mean()(np.array([1.0, 2.0, 6.0], "float32")))
    np.testing.assert_allclose(got, [3.0, 3.0, 3.0])


@pytest.mark.parametrize("axis", [-1, 1, (0, 2)])
def test_config_round_trip(axis):
    c = Mean(axis)
    config = c.get_config()
    assert Mean.from_config(config).get_config() == config
    revived = keras.constraints.deserialize(keras.constraints.serialize(c))
    assert isinstance(revived, Mean) and revived.axis == c.axis
    np.testing.assert_allclose(keras.ops.convert_to_numpy(revived(W)),
                               keras.ops.convert_to_numpy(c(W)))


@pytest.mark.parametrize("axis, error", [
    (1.0, TypeError), ("last", TypeError), (True, TypeError), ((), ValueError),
    ((0, 0), ValueError), ((0, "1"), ValueError),
])
def test_bad_axis(axis, error):
    with pytest.raises(error, match=r"Mean: axis must be an int"):
        Mean(axis)


class _PerUnitScale(keras.layers.Layer):
    """y = x * tau, with one tau per unit tied by Mean()."""

    def build(self, input_shape):
        self.tau = self.add_weight(
            shape=(input_shape[-1],), initializer=keras.initializers.Constant([1.0, 2.0, 3.0]),
            constraint=Mean(), name="tau")

    def call(self, x):
        return x * self.tau


def test_mean_constraint_during_fit():
    inp = keras.Input((3,))
    out = _PerUnitScale()(inp)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.SGD(0.1), "mse")
    x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    y = x * np.array([0.5, 1.5, 4.0], "float32")
    model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    tau = keras.ops.convert_to_numpy(model.layers[1].tau)
    assert np.ptp(tau) < 1e-6  # all units share one value after every step
    assert not np.allclose(tau, 2.0)  # and it trained


def test_saved_model_keeps_the_constraint(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, kernel_constraint=Mean(0))])
    path = str(tmp_path / "mean.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    constraint = loaded.layers[0].kernel_constraint
    assert isinstance(constraint, Mean) and constraint.axis == 0
