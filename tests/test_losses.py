"""Losses, the rate-accuracy metric and the firing-rate regulariser against hand-computed values."""

import keras
import numpy as np
import pytest

from keras_spiking import losses, metrics, regularizers

from gradients import value_and_grads

# batch 2, time 3, classes 3
SPIKES = np.array(
    [
        [[1, 0, 0], [1, 1, 0], [0, 0, 1]],  # counts 2, 1, 1 -> predicts 0
        [[0, 1, 0], [0, 1, 1], [0, 0, 1]],  # counts 0, 2, 2 -> tie: predicts 1
    ],
    "float32",
)
LABELS = np.array([0, 2])


def _log_softmax(z):
    z = np.asarray(z, "float64")
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def _ce(z, y):
    return -_log_softmax(z)[y]


def test_ce_count_hand_computed():
    # sample 0: counts (2, 1, 1), label 0: -log(e^2 / (e^2 + 2e))
    s0 = -(2 - np.log(np.exp(2) + 2 * np.exp(1)))
    s1 = -(2 - np.log(1 + 2 * np.exp(2)))
    np.testing.assert_allclose(losses.ce_count(LABELS, SPIKES), [s0, s1], rtol=1e-6)
    np.testing.assert_allclose(float(losses.CECount()(LABELS, SPIKES)), (s0 + s1) / 2, rtol=1e-6)


def test_ce_rate_hand_computed():
    expected = [np.mean([_ce(SPIKES[b, t], LABELS[b]) for t in range(3)]) for b in range(2)]
    np.testing.assert_allclose(losses.ce_rate(LABELS, SPIKES), expected, rtol=1e-6)
    # one step with no spikes scores log(3)
    np.testing.assert_allclose(_ce([0, 0, 0], 1), np.log(3))
    np.testing.assert_allclose(float(losses.CERate()(LABELS[:, None], SPIKES)), np.mean(expected), rtol=1e-6)


def test_mse_count_hand_computed():
    # T = 3, correct 2/3 -> target 2, incorrect 1/3 -> target 1
    loss = losses.MSECount(correct_rate=2 / 3, incorrect_rate=1 / 3)
    t0 = ((2 - 2) ** 2 + (1 - 1) ** 2 + (1 - 1) ** 2) / 3 / 3
    t1 = ((0 - 1) ** 2 + (2 - 1) ** 2 + (2 - 2) ** 2) / 3 / 3
    np.testing.assert_allclose(float(loss(LABELS, SPIKES)), (t0 + t1) / 2, rtol=1e-6)
    # defaults: 1 and 0 -> targets 3 and 0
    d1 = ((0 - 0) ** 2 + (2 - 0) ** 2 + (2 - 3) ** 2) / 3 / 3
    np.testing.assert_allclose(losses.mse_count(LABELS, SPIKES)[1], d1, rtol=1e-6)


def test_membrane_losses_hand_computed():
    v = np.array([[[0.1, 0.9, -0.2], [0.5, 0.3, 0.4]]], "float32")  # batch 1, T 2
    y = np.array([1])
    np.testing.assert_allclose(
        float(losses.CEMaxMembrane()(y, v)), _ce([0.5, 0.9, 0.4], 1), rtol=1e-6
    )
    target = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(
        float(losses.MSEMembrane()(y, v)), np.mean((v[0] - target) ** 2), rtol=1e-6
    )
    target = np.array([-0.5, 2.0, -0.5])
    np.testing.assert_allclose(
        float(losses.MSEMembrane(on_target=2.0, off_target=-0.5)(y, v)),
        np.mean((v[0] - target) ** 2), rtol=1e-6,
    )


def test_losses_give_gradients_and_sample_weights():
    v = keras.Variable(np.random.default_rng(0).normal(size=(4, 5, 3)).astype("float32"))
    y = np.array([0, 1, 2, 1])
    for loss in (losses.CECount(), losses.CERate(), losses.MSECount(), losses.CEMaxMembrane(), losses.MSEMembrane()):
        _, (grad,) = value_and_grads(lambda x: loss(y, x), np.asarray(v.value))
        assert grad is not None and np.all(np.isfinite(grad)) and np.any(grad != 0), loss.name
    per_sample = keras.ops.convert_to_numpy(losses.ce_count(y, v.value))
    w = np.array([1.0, 0.0, 2.0, 0.0], "float32")
    np.testing.assert_allclose(
        float(losses.CECount()(y, v.value, sample_weight=w)), (per_sample * w).sum() / 4, rtol=1e-6
    )


def test_loss_errors():
    with pytest.raises(ValueError, match="y_pred must be the output sequence"):
        losses.CECount()(LABELS, SPIKES.sum(1))
    with pytest.raises(ValueError, match="integer class labels"):
        losses.CECount()(np.eye(3)[LABELS], SPIKES)
    with pytest.raises(ValueError, match="correct_rate must be >= 0 and <= 1"):
        losses.MSECount(correct_rate=1.5)


def test_rate_accuracy():
    np.testing.assert_array_equal(metrics.rate_accuracy(LABELS, SPIKES), [1.0, 0.0])
    m = metrics.RateAccuracy()
    m.update_state(LABELS, SPIKES)
    m.update_state(np.array([[1]]), SPIKES[1:])  # tie 1/2 -> class 1: right
    assert float(m.result()) == pytest.approx(2 / 3)


def test_firing_rate_regulariser_values():
    # rates per sample: [[2/3, 1/3, 1/3], [0, 2/3, 2/3]]
    r = np.array([[2, 1, 1], [0, 2, 2]]) / 3
    reg = regularizers.FiringRate(l1=0.5)
    np.testing.assert_allclose(float(reg(SPIKES)), 2 * 0.5 * r.mean(), rtol=1e-6)
    reg = regularizers.FiringRate(min_rate=0.4, max_rate=0.5, band_weight=3.0)
    outside = np.maximum(0.4 - r, 0) ** 2 + np.maximum(r - 0.5, 0) ** 2
    np.testing.assert_allclose(float(reg(SPIKES)), 2 * 3.0 * outside.mean(), rtol=1e-5)
    # in Hz with dt = 1 ms: rates times 1000
    reg = regularizers.FiringRate(l1=1e-3, dt=1e-3)
    np.testing.assert_allclose(float(reg(SPIKES)), 2 * r.mean(), rtol=1e-5)
    # a sum of per-sample terms: halves of the batch add up to the whole
    reg = regularizers.FiringRate(l1=0.1, min_rate=0.5, max_rate=0.6)
    whole = float(reg(SPIKES))
    np.testing.assert_allclose(float(reg(SPIKES[:1])) + float(reg(SPIKES[1:])), whole, rtol=1e-6)


def test_firing_rate_regulariser_in_a_model(tmp_path):
    """As an activity regulariser: Keras divides by the batch size, so the model
    loss gets the per-batch value; it survives a .keras round trip."""
    reg = regularizers.FiringRate(l1=0.25, min_rate=0.9)
    inp = keras.Input((3, 2))
    out = keras.layers.Activation("sigmoid", activity_regularizer=reg)(inp)
    model = keras.Model(inp, out)
    x = np.random.default_rng(3).normal(size=(6, 3, 2)).astype("float32")
    model(x)
    s = 1 / (1 + np.exp(-x.astype("float64")))
    r = s.mean(axis=1)
    expected = np.mean(0.25 * r + np.maximum(0.9 - r, 0) ** 2)
    np.testing.assert_allclose(float(sum(model.losses)), expected, rtol=1e-5)
    path = str(tmp_path / "r.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.layers[1].activity_regularizer.get_config() == reg.get_config()
    loaded(x)
    np.testing.assert_allclose(float(sum(loaded.losses)), expected, rtol=1e-5)


def test_firing_rate_errors():
    with pytest.raises(ValueError, match="min_rate must be <= max_rate"):
        regularizers.FiringRate(min_rate=0.5, max_rate=0.1)
    with pytest.raises(ValueError, match="l1 must be >= 0"):
        regularizers.FiringRate(l1=-1)
    with pytest.raises(ValueError, match="expected spikes shaped"):
        regularizers.FiringRate(l1=1)(np.zeros((2, 3), "float32"))


def test_compile_fit_and_keras_round_trip(tmp_path):
    """Losses and metric serialise inside a compiled model and train it."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((4, 5))
    out = keras.layers.Dense(3, activation="sigmoid")(inp)
    model = keras.Model(inp, out)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=losses.MSECount(correct_rate=0.8, incorrect_rate=0.1),
        metrics=[metrics.RateAccuracy()],
    )
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 4, 5)).astype("float32")
    y = rng.integers(0, 3, 32)
    history = model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert "rate_accuracy" in history.history
    path = str(tmp_path / "c.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.loss.get_config() == model.loss.get_config()
    np.testing.assert_allclose(
        loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6
    )
    for cls in (losses.CERate, losses.CECount, losses.CEMaxMembrane, losses.MSEMembrane):
        obj = keras.losses.deserialize(keras.losses.serialize(cls()))
        assert type(obj) is cls and obj.get_config() == cls().get_config()


ALL_LOSSES = (losses.CERate, losses.CECount, losses.MSECount, losses.CEMaxMembrane,
              losses.MSEMembrane)


@pytest.mark.parametrize("cls", ALL_LOSSES)
@pytest.mark.parametrize("bad", [3, 12, -1])
def test_out_of_range_labels_raise(cls, bad):
    with pytest.raises(ValueError, match=rf"class labels in \[0, 3\).*got \[{bad}\]"):
        cls()(np.array([0, bad]), SPIKES)


@pytest.mark.parametrize("cls", ALL_LOSSES)
def test_zero_timesteps_raise(cls):
    with pytest.raises(ValueError, match="0 timesteps"):
        cls()(LABELS, np.zeros((2, 0, 3), "float32"))


def test_out_of_range_labels_in_a_compiled_step_do_not_pass_silently():
    """In a compiled step the labels are symbolic: TF asserts, other backends give NaN."""
    inp = keras.Input((3, 3))
    model = keras.Model(inp, keras.layers.Dense(3, activation="sigmoid")(inp))
    model.compile(loss=losses.CECount())
    good = model.evaluate(SPIKES, LABELS, verbose=0)
    assert np.isfinite(good)
    try:
        result = model.evaluate(SPIKES, np.array([0, 12]), verbose=0)
    except Exception as error:  # the TensorFlow assertion
        assert "outside [0, 3)" in str(error)
    else:
        assert keras.backend.backend() != "tensorflow" and np.isnan(result)


def test_label_and_sample_counts_must_match():
    y_pred = np.zeros((4, 3, 5), "float32")
    for loss in (losses.ce_count, losses.ce_rate):
        with pytest.raises(ValueError, match="y_true has 3 labels but y_pred 4 samples"):
            loss(np.zeros(3, "int32"), y_pred)
