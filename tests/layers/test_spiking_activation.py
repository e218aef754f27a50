"""SpikingActivation: KerasSpiking's layer on the dynamics core."""

import keras
import numpy as np
import pytest

import keras_spiking
from gradients import value_and_grads
from keras_spiking.layers import SpikingActivation

RNG = np.random.default_rng(1)
X = RNG.uniform(-1, 3, (4, 60, 6)).astype("float32")


def zeros_state(x):
    return (keras.ops.zeros_like(keras.ops.convert_to_tensor(x[:, 0])),)


@pytest.mark.parametrize("activation, fn", [
    ("relu", lambda x: np.maximum(x, 0)),
    ("tanh", np.tanh),  # negative activations give negative spikes
    (keras.activations.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
])
def test_spike_counts_are_the_floor_of_the_integrated_activation(activation, fn):
    dt = 0.05
    layer = SpikingActivation(activation, dt=dt)
    y = keras.ops.convert_to_numpy(layer(X, initial_state=zeros_state(X)))
    counts = np.cumsum(y * dt, axis=1)  # each spike is worth 1 / dt
    integral = np.cumsum(fn(X.astype("float64")) * dt, axis=1)
    np.testing.assert_allclose(counts, np.floor(integral + 1e-5), atol=1e-4)
    assert np.allclose(np.round(y * dt), y * dt, atol=1e-5)  # whole spikes only


def test_random_initial_voltages_are_seeded_and_in_unit_interval():
    a = SpikingActivation("relu", seed=3, return_state=True)
    _, (v,) = a(np.zeros((5, 2, 7), "float32"))
    v = keras.ops.convert_to_numpy(v)  # zero input: the final voltage is the initial one
    assert v.min() >= 0 and v.max() < 1 and v.std() > 0.1
    b = SpikingActivation("relu", seed=3, return_state=True)
    np.testing.assert_array_equal(v, keras.ops.convert_to_numpy(b(np.zeros((5, 2, 7), "float32"))[1][0]))


def test_spiking_aware_gradient_is_the_activation_gradient():
    layer = SpikingActivation("tanh", dt=0.01, seed=0)
    layer.build(X.shape)
    y, (g,) = value_and_grads(lambda x: layer(x, training=True), X)
    np.testing.assert_allclose(g, 1 - np.tanh(X) ** 2, rtol=1e-5, atol=1e-6)
    inference = keras.ops.convert_to_numpy(layer(X, initial_state=zeros_state(X)))
    assert set(np.unique(np.round(inference * 0.01))) <= set(range(-3, 4))  # spikes forward
    assert not np.allclose(y, np.tanh(X))


def test_without_spiking_aware_training_the_layer_trains_on_the_activation():
    layer = SpikingActivation("relu", spiking_aware_training=False)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(X, training=True)),
                               np.maximum(X, 0), rtol=1e-6)
    spikes = keras.ops.convert_to_numpy(layer(X, training=False))
    assert not np.allclose(spikes, np.maximum(X, 0))


def test_mean_output_approaches_the_activation():
    x = np.full((1, 2000, 3), [0.5, 2.0, -1.0], "float32")
    y = keras.ops.convert_to_numpy(SpikingActivation("relu", dt=0.001, seed=0)(x))
    np.testing.assert_allclose(y.mean(axis=1)[0], [0.5, 2.0, 0.0], atol=1e-3 / 2 + 1 / 2.0)


def test_dt_default_time_major_return_sequences():
    with keras_spiking.default(dt=0.02):
        assert SpikingActivation("relu").dt == 0.02
    assert SpikingActivation("relu").dt == keras_spiking.default.dt
    layer = SpikingActivation("relu", dt=0.05, time_major=True)
    xt = np.moveaxis(X, 1, 0)
    y = keras.ops.convert_to_numpy(layer(xt, initial_state=zeros_state(X)))
    ref = SpikingActivation("relu", dt=0.05)(X, initial_state=zeros_state(X))
    np.testing.assert_array_equal(np.moveaxis(y, 0, 1), keras.ops.convert_to_numpy(ref))
    last = SpikingActivation("relu", dt=0.05, return_sequences=False)(X, initial_state=zeros_state(X))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(last), keras.ops.convert_to_numpy(ref)[:, -1])


def test_dt_variable_is_read_at_call_time():
    dt = keras.Variable(0.05, trainable=False)
    layer = SpikingActivation("relu", dt=dt)
    a = keras.ops.convert_to_numpy(layer(X, initial_state=zeros_state(X)))
    dt.assign(0.1)
    b = keras.ops.convert_to_numpy(layer(X, initial_state=zeros_state(X)))
    assert np.sum(a * 0.05) < np.sum(b * 0.1)  # more spikes with a longer step
    np.testing.assert_allclose(np.cumsum(b * 0.1, 1),
                               np.floor(np.cumsum(np.maximum(X, 0) * 0.1, 1) + 1e-5), atol=1e-4)


def test_keras_round_trip_and_fit(tmp_path):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((10, 6)),
        keras.layers.Dense(8),
        SpikingActivation("relu", dt=0.1, seed=2),
        keras.layers.GlobalAveragePooling1D(),
        keras.layers.Dense(2),
    ])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(X[:, :10], np.array([0, 1, 0, 1]), epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    path = str(tmp_path / "sa.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    layer = loaded.layers[1]
    assert isinstance(layer, SpikingActivation) and layer.dt == 0.1 and layer.seed == 2
    assert layer.get_config()["activation"] == "relu"


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(activation="relu", dt=0), ValueError, "dt must be > 0, got 0"),
    (dict(activation="relu", dt=-0.1), ValueError, "dt must be > 0, got -0.1"),
    (dict(activation="relu", dt="fast"), TypeError, "dt must be a number"),
    (dict(activation="no_such_activation"), ValueError, "activation must be a Keras activation"),
    (dict(activation="relu", seed=1.5), TypeError, "seed must be None or an integer"),
    (dict(activation="relu", spiking_aware_training="yes"), TypeError, "spiking_aware_training"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        SpikingActivation(**kwargs, name="sa")


def test_wrong_input_rank():
    with pytest.raises(ValueError, match=r"sa: expected inputs shaped \(batch, time"):
        SpikingActivation("relu", name="sa")(np.zeros((2, 3), "float32"))
