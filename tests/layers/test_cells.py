"""SpikingActivationCell, LowpassCell, AlphaCell: the layers one step at a time, in keras.layers.RNN."""

import keras
import numpy as np
import pytest

import keras_spiking
from gradients import value_and_grads
from keras_spiking.layers import (
    Alpha,
    AlphaCell,
    DynamicsCell,
    KerasSpikingCell,
    KerasSpikingLayer,
    Lowpass,
    LowpassCell,
    SpikingActivation,
    SpikingActivationCell,
    TimeStateLayer,
)

RNG = np.random.default_rng(7)
X = RNG.uniform(-1, 3, (3, 25, 4)).astype("float32")
V0 = RNG.uniform(0, 1, (3, 4)).astype("float32")


def numpy(x):
    return keras.ops.convert_to_numpy(x)


def rnn(cell, **kwargs):
    return keras.layers.RNN(cell, return_sequences=True, **kwargs)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_spiking_activation_cell_equals_the_layer(activation, training):
    cell = SpikingActivationCell(4, activation, dt=0.05)
    got = rnn(cell)(X, initial_state=[V0], training=training)
    want = SpikingActivation(activation, dt=0.05)(X, initial_state=(V0,), training=training)
    np.testing.assert_array_equal(numpy(got), numpy(want))
    assert np.allclose(numpy(got) * 0.05, np.round(numpy(got) * 0.05), atol=1e-5)  # spikes


@pytest.mark.parametrize("cell_cls, layer_cls", [(LowpassCell, Lowpass), (AlphaCell, Alpha)])
def test_filter_cells_equal_the_layers_with_trained_weights(cell_cls, layer_cls):
    cell = cell_cls(4, 0.02, dt=0.005)
    layer = layer_cls(tau_initializer=0.02, dt=0.005, level_initializer="zeros")
    recurrent = rnn(cell)
    recurrent.build(X.shape)
    layer.build(X.shape)
    tau = RNG.uniform(0.005, 0.05, 4).astype("float32")
    level = RNG.normal(size=4).astype("float32")
    for target in (cell.layer, layer):  # the same trained tau and initial level
        target.tau_variable.assign(tau)
        target.initial_level.assign(level)
    np.testing.assert_allclose(numpy(recurrent(X)), numpy(layer(X)), rtol=1e-6, atol=1e-6)
    states = [RNG.normal(size=(3, 4)).astype("float32") for _ in layer.state_names]
    np.testing.assert_allclose(numpy(recurrent(X, initial_state=states)),
                               numpy(layer(X, initial_state=tuple(states))),
                               rtol=1e-6, atol=1e-6)
    assert cell.state_size == (4 if len(layer.state_names) == 1 else [4, 4])


def test_initial_states():
    cell = SpikingActivationCell(6, "relu", seed=4)
    (v,) = cell.get_initial_state(batch_size=5)
    v = numpy(v)
    assert v.shape == (5, 6) and v.min() >= 0 and v.max() < 1 and v.std() > 0.1
    (again,) = SpikingActivationCell(6, "relu", seed=4).get_initial_state(batch_size=5)
    np.testing.assert_array_equal(numpy(again), v)  # seeded
    # KerasSpiking's signature: the batch size (and dtype) from inputs
    (w,) = cell.get_initial_state(inputs=np.zeros((2, 6), "float32"))
    assert tuple(w.shape) == (2, 6)
    (w,) = cell.get_initial_state(batch_size=2, dtype="float64")
    assert keras.backend.standardize_dtype(w.dtype) == "float64"
    lowpass = LowpassCell(3, 0.01, level_initializer=keras.initializers.Constant(0.5))
    (y0,) = lowpass.get_initial_state(batch_size=2)
    np.testing.assert_array_equal(numpy(y0), np.full((2, 3), 0.5))
    current, output = AlphaCell(3, 0.01, level_initializer=None).get_initial_state(batch_size=2)
    assert numpy(current).shape == numpy(output).shape == (2, 3) and not numpy(output).any()


def test_spiking_aware_gradient_of_the_cell():
    recurrent = rnn(SpikingActivationCell(4, "tanh", dt=0.01))
    y, (grad,) = value_and_grads(
        lambda x: recurrent(x, initial_state=[V0], training=True), X)
    np.testing.assert_allclose(grad, 1 - np.tanh(X) ** 2, rtol=1e-5, atol=1e-6)
    # forward: the same spikes as at inference, not the activation
    np.testing.assert_array_equal(y, numpy(recurrent(X, initial_state=[V0])))
    assert not np.allclose(y, np.tanh(X))


def test_training_without_spiking_aware_training_or_filtering():
    plain = rnn(SpikingActivationCell(4, "relu", spiking_aware_training=False))
    np.testing.assert_allclose(numpy(plain(X, training=True)), np.maximum(X, 0), rtol=1e-6)
    assert not np.allclose(numpy(plain(X, training=False)), np.maximum(X, 0))
    lowpass = rnn(LowpassCell(4, 0.05, apply_during_training=False))
    np.testing.assert_array_equal(numpy(lowpass(X, training=True)), X)
    assert not np.allclose(numpy(lowpass(X, training=False)), X)


def test_dt_variable_is_read_by_the_cell_and_not_saved(tmp_path):
    dt = keras.Variable(0.05, trainable=False)
    cell = SpikingActivationCell(4, "relu", dt=dt)
    recurrent = rnn(cell)
    a = numpy(recurrent(X, initial_state=[V0]))
    dt.assign(0.1)
    b = numpy(recurrent(X, initial_state=[V0]))
    assert np.sum(b * 0.1) > np.sum(a * 0.05)  # a longer step, more spikes
    inputs = keras.Input((25, 4))
    model = keras.Model(inputs, rnn(LowpassCell(4, 0.02, dt=dt))(inputs))
    model.save(tmp_path / "dt.keras")
    loaded = keras.models.load_model(tmp_path / "dt.keras")  # dt saved as its value
    assert loaded.layers[1].cell.layer.dt == pytest.approx(0.1)
    np.testing.assert_allclose(numpy(loaded(X)), numpy(model(X)), rtol=1e-6)


def test_keras_round_trip(tmp_path):
    x = keras.Input((25, 4))
    v0 = keras.Input((4,))
    spikes = rnn(SpikingActivationCell(4, "relu", dt=0.05, seed=3))(x, initial_state=[v0])
    smooth = rnn(AlphaCell(4, 0.03, dt=0.005, tau_constraint=keras_spiking.constraints.Mean()))(
        rnn(LowpassCell(4, 0.01, dt=0.005, apply_during_training=False))(spikes))
    model = keras.Model([x, v0], smooth)
    model.layers[-1].cell.layer.tau_variable.assign([0.01, 0.02, 0.03, 0.04])
    model.save(tmp_path / "cells.keras")
    loaded = keras.models.load_model(tmp_path / "cells.keras")
    np.testing.assert_array_equal(numpy(loaded([X, V0])), numpy(model([X, V0])))
    for original, copy in zip(model.layers[2:], loaded.layers[2:]):
        assert type(copy.cell) is type(original.cell)
        assert copy.cell.get_config() == original.cell.get_config()
    assert loaded.layers[2].cell.get_config()["activation"] == "relu"
    np.testing.assert_allclose(numpy(loaded.layers[-1].cell.layer.tau_variable),
                               [0.01, 0.02, 0.03, 0.04])


def test_cells_train_in_fit():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((10, 4)),
        keras.layers.Dense(6),
        rnn(SpikingActivationCell(6, "relu", dt=0.1)),
        rnn(LowpassCell(6, 0.1, dt=0.1)),
        keras.layers.Lambda(lambda y: y[:, -1]),
        keras.layers.Dense(2),
    ])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    tau_before = numpy(model.layers[2].cell.layer.tau_variable).copy()
    history = model.fit(X[:, :10], np.array([0, 1, 0]), epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert not np.allclose(numpy(model.layers[2].cell.layer.tau_variable), tau_before)


def test_aliases_and_top_level_names():
    assert KerasSpikingLayer is TimeStateLayer and KerasSpikingCell is DynamicsCell
    for name in ("SpikingActivation", "Lowpass", "Alpha", "SpikingActivationCell",
                 "LowpassCell", "AlphaCell"):
        assert getattr(keras_spiking, name) is getattr(keras_spiking.layers, name)
    assert isinstance(SpikingActivation("relu"), KerasSpikingLayer)
    assert isinstance(Lowpass(0.01), KerasSpikingLayer)
    assert isinstance(AlphaCell(2, 0.01), KerasSpikingCell)


@pytest.mark.parametrize("make, error, match", [
    (lambda: SpikingActivationCell(0, "relu", name="c"), ValueError,
     r"c: size must be an integer >= 1, got 0"),
    (lambda: SpikingActivationCell(2.5, "relu", name="c"), TypeError,
     r"c: size must be an integer >= 1, got 2.5"),
    (lambda: SpikingActivationCell((2, 3), "relu", name="c"), ValueError,
     r"c: size must be the number of units .* got \(2, 3\); flatten the inputs"),
    (lambda: SpikingActivationCell(2, "no_such", name="c"), ValueError,
     r"c: activation must be a Keras activation"),
    (lambda: LowpassCell(2, -0.1, name="c"), ValueError, r"c: tau must be >= 0"),
    (lambda: AlphaCell(2, 0.01, dt=0, name="c"), ValueError, r"c: dt must be > 0"),
    (lambda: LowpassCell(2, 0.01, apply_during_training=1, name="c"), TypeError,
     r"c: apply_during_training must be True or False"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_input_size_must_match():
    with pytest.raises(ValueError, match=r"c: the cell has size=3 but its inputs have 4 units"):
        rnn(LowpassCell(3, 0.01, name="c"))(X)


def test_a_single_state_may_come_as_a_bare_tensor():
    cell = LowpassCell(4, 0.02, dt=0.01, level_initializer=None)
    cell.build((3, 4))
    y, (state,) = cell(X[:, 0], keras.ops.zeros((3, 4)))
    np.testing.assert_allclose(numpy(y), numpy(state))
    np.testing.assert_allclose(numpy(y), (1 - np.exp(-0.5)) * X[:, 0], rtol=1e-6)
