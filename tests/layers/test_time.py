"""TimeFold equals TimeDistributed; RepeatTime tiles over time."""

import numpy as np
import pytest
import keras

from keras_spiking.layers import RepeatTime, TimeFold

LAYERS = {
    "conv2d": (lambda: keras.layers.Conv2D(4, 3, padding="same"), (5, 8, 8, 2)),
    "conv1d": (lambda: keras.layers.Conv1D(3, 2), (5, 9, 2)),
    "dense": (lambda: keras.layers.Dense(7), (5, 6)),
    "avgpool": (lambda: keras.layers.AveragePooling2D(2), (5, 8, 8, 2)),
    "maxpool": (lambda: keras.layers.MaxPooling2D(2), (5, 8, 8, 2)),
    "flatten": (lambda: keras.layers.Flatten(), (5, 4, 3, 2)),
    "batchnorm": (lambda: keras.layers.BatchNormalization(), (5, 4, 3)),
    "depthwise": (lambda: keras.layers.DepthwiseConv2D(3), (5, 6, 6, 2)),
    "sequential": (
        lambda: keras.Sequential([keras.layers.Conv2D(2, 3), keras.layers.Flatten(),
                                  keras.layers.Dense(3)]),
        (5, 6, 6, 1),
    ),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_timefold_equals_timedistributed(name):
    make, shape = LAYERS[name]
    x = np.random.default_rng(0).normal(size=(3,) + shape).astype("float32")
    layer = make()
    folded = TimeFold(layer)
    y = np.asarray(folded(x))
    reference = np.asarray(keras.layers.TimeDistributed(layer)(x))  # same weights
    np.testing.assert_allclose(y, reference, rtol=1e-5, atol=1e-6)
    assert folded.compute_output_shape((3,) + shape) == y.shape


def test_unknown_batch_and_time():
    x = np.random.default_rng(1).normal(size=(2, 6, 8, 8, 1)).astype("float32")
    conv = keras.layers.Conv2D(3, 3)
    inputs = keras.Input((None, 8, 8, 1))
    outputs = TimeFold(keras.layers.Flatten())(TimeFold(conv)(inputs))
    assert outputs.shape == (None, None, 108)
    model = keras.Model(inputs, outputs)
    for steps in (6, 2):
        y = model.predict(x[:, :steps], verbose=0)
        reference = np.asarray(keras.layers.TimeDistributed(conv)(x[:, :steps]))
        np.testing.assert_allclose(y, reference.reshape(2, steps, -1), rtol=1e-5, atol=1e-6)
    static_inputs = keras.Input((6, 8, 8, 1), batch_size=2)
    static_model = keras.Model(static_inputs, TimeFold(conv)(static_inputs))
    np.testing.assert_allclose(static_model.predict(x, verbose=0), model.layers[1](x),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("steps_per_call", [1, 3, 4, 10])
def test_steps_per_call_gives_the_same_result(steps_per_call):
    x = np.random.default_rng(4).normal(size=(2, 7, 6, 6, 2)).astype("float32")
    conv = keras.layers.Conv2D(3, 3)
    reference = np.asarray(TimeFold(conv)(x))
    chunked = TimeFold(conv, steps_per_call=steps_per_call)
    np.testing.assert_allclose(chunked(x), reference, rtol=1e-5, atol=1e-6)
    if steps_per_call == 3:
        inputs = keras.Input((None, 6, 6, 2))  # unknown time: folds everything
        model = keras.Model(inputs, chunked(inputs))
        np.testing.assert_allclose(model.predict(x, verbose=0), reference, rtol=1e-5, atol=1e-6)
    assert TimeFold.from_config(chunked.get_config()).steps_per_call == steps_per_call


def test_training_flag_reaches_the_layer():
    x = np.ones((2, 3, 1000), "float32")
    layer = TimeFold(keras.layers.Dropout(0.5, seed=0))
    np.testing.assert_array_equal(layer(x, training=False), x)
    assert (np.asarray(layer(x, training=True)) == 0).mean() > 0.3


def test_keras_round_trip(tmp_path):
    x = np.random.default_rng(2).normal(size=(2, 4, 6, 6, 1)).astype("float32")
    inputs = keras.Input((None, 6, 6, 1))
    h = TimeFold(keras.layers.Conv2D(2, 3, activation="relu"))(inputs)
    outputs = TimeFold(keras.layers.Dense(3))(TimeFold(keras.layers.Flatten())(h))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_repeat_time():
    x = np.random.default_rng(3).normal(size=(2, 3, 4)).astype("float32")
    layer = RepeatTime(5)
    y = np.asarray(layer(x))
    assert y.shape == (2, 5, 3, 4) == layer.compute_output_shape((2, 3, 4))
    for t in range(5):
        np.testing.assert_array_equal(y[:, t], x)
    inputs = keras.Input((3, 4))
    assert RepeatTime(7)(inputs).shape == (None, 7, 3, 4)
    assert RepeatTime.from_config(layer.get_config()).timesteps == 5


def test_errors():
    with pytest.raises(TypeError, match="layer must be a keras.layers.Layer"):
        TimeFold("dense")
    with pytest.raises(ValueError, match=r"expected inputs shaped \(batch, time"):
        TimeFold(keras.layers.Dense(3))(np.zeros((2, 4), "float32"))
    with pytest.raises(ValueError, match="steps_per_call must be an integer >= 1, got 0"):
        TimeFold(keras.layers.Dense(3), steps_per_call=0)
    with pytest.raises(ValueError, match="timesteps must be an integer >= 1, got 0"):
        RepeatTime(0)
    for bad in (2.5, True, "3", None):
        with pytest.raises(TypeError, match="timesteps must be an integer"):
            RepeatTime(bad)
