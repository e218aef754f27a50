"""SpikeTimeDense, the spike-time training kit and the generated data sets."""

import keras
import numpy as np
import pytest
from keras import ops

import keras_spiking
from keras_spiking.datasets import bars_3x3, yin_yang
from keras_spiking.layers import SpikeTimeDense
from keras_spiking.spike_time import first_spike_times
from keras_spiking.spike_time_training import (
    FirstSpikeAccuracy,
    SpikeTimeCrossEntropy,
    SpikeTimeEmulator,
    WeightBumping,
    first_spike_correct,
)

from gradients import value_and_grads


def np_(x):
    return ops.convert_to_numpy(x)


def _model(seed=0, **kw):
    init = keras.initializers.RandomNormal
    return keras.Sequential([
        keras.Input((9,)),
        SpikeTimeDense(11, bias_times=(0.0,), kernel_initializer=init(1.5, 0.8, seed=seed), **kw),
        SpikeTimeDense(3, bias_times=(0.0,), kernel_initializer=init(0.5, 0.8, seed=seed + 1), **kw),
    ])


def test_layer_matches_closed_form_with_bias_spikes():
    layer = SpikeTimeDense(5, tau_ratio=2, bias_times=(0.3, 0.9),
                           kernel_initializer=keras.initializers.RandomNormal(1.5, 1.0, seed=1))
    x = np.random.default_rng(0).uniform(0, 1, (4, 3)).astype("float32")
    out = np_(layer(x))
    times = np.concatenate([x, np.tile([[0.3, 0.9]], (4, 1))], axis=1)
    kernel = np.concatenate([np_(layer.kernel), np_(layer.bias_kernel)], axis=0)
    ref = np_(first_spike_times(times, kernel, tau_ratio=2))
    np.testing.assert_allclose(out, ref, rtol=1e-6)
    assert out.shape == (4, 5) == layer.compute_output_shape((4, 3))


def test_keras_round_trip(tmp_path):
    model = _model(max_dw_norm=0.2)
    x, _ = bars_3x3()
    before = np_(model(x))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np_(loaded(x)), before)
    assert loaded.layers[0].get_config() == model.layers[0].get_config()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(units=0), ValueError, "units"),
    (dict(units=3, tau_syn=0.0), ValueError, "tau_syn"),
    (dict(units=3, tau_syn=-2.0), ValueError, "tau_syn"),
    (dict(units=3, tau_ratio=1.5), ValueError, "tau_ratio"),
    (dict(units=3, threshold=0.0, leak_potential=0.5), ValueError, "threshold"),
    (dict(units=3, max_dw_norm=0.0), ValueError, "max_dw_norm"),
    (dict(units=3, bias_times=(np.nan,)), ValueError, "bias_times"),
    (dict(units=3, tau_syn="1"), TypeError, "tau_syn"),
    (dict(units=3, bias_times=("x",)), TypeError, "bias_times must be numbers"),
    (dict(units=3, bias_times="0.5"), TypeError, "bias_times must be numbers"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=f"SpikeTimeDense.*{match}"):
        SpikeTimeDense(**kwargs)


def test_nan_input_is_an_error():
    layer = SpikeTimeDense(2)
    with pytest.raises(ValueError, match="NaN"):
        layer(np.array([[0.1, np.nan]], "float32"))


def test_loss_by_hand():
    xi, tau, alpha, beta = 0.2, 1.0, 0.005, 1.0
    t = np.array([[1.0, 1.5, np.inf], [np.inf, 0.5, 0.7]], "float32")
    y = np.array([0, 0])
    loss = SpikeTimeCrossEntropy(reduction=None)(y, t)
    # sample 0: softmax over -t/(xi tau) of the two spiking neurons
    logits = -np.array([1.0, 1.5]) / (xi * tau)
    ce = -(logits[0] - np.log(np.exp(logits).sum()))
    expected0 = ce + alpha * np.exp(1.0 / (beta * tau))
    np.testing.assert_allclose(np_(loss), [expected0, 100.0], rtol=1e-5)
    # mean reduction, and finite gradients with silent neurons present
    value, (grad,) = value_and_grads(lambda t_: SpikeTimeCrossEntropy()(y, t_), t)
    assert np.isfinite(grad).all() and grad[0, 2] == 0 and (grad[1] == 0).all()
    assert float(value) == pytest.approx((expected0 + 100.0) / 2, rel=1e-5)


def test_first_spike_accuracy():
    t = np.array([[1.0, 0.5, 2.0], [np.inf, np.inf, np.inf], [0.1, 0.2, np.inf]])
    y = np.array([1, 0, 0])
    np.testing.assert_array_equal(np_(first_spike_correct(y, t)), [1, 0, 1])
    metric = FirstSpikeAccuracy()
    metric.update_state(y, t)
    assert float(metric.result()) == pytest.approx(2 / 3)


def test_weight_bumping_raises_weights_of_silent_neurons():
    layer = SpikeTimeDense(3, kernel_initializer="zeros", bias_times=(0.0,))
    model = keras.Sequential([keras.Input((2,)), layer])
    x = np.zeros((4, 2), "float32")
    model(x, training=True)  # all silent
    assert float(np_(layer.silent_fraction)) == 1.0
    callback = WeightBumping(bump=1e-3)
    callback.set_model(model)
    callback.on_train_batch_end(0)
    callback.on_train_batch_end(1)  # consecutive: doubled
    np.testing.assert_allclose(np_(layer.kernel), 3e-3)
    np.testing.assert_allclose(np_(layer.bias_kernel), 3e-3)
    assert callback.bumps == 2


def test_fit_on_bars_learns_without_nan():
    keras.utils.set_random_seed(0)
    x, y = bars_3x3()
    model = _model(max_dw_norm=0.2)
    loss_fn = SpikeTimeCrossEntropy()
    model.compile(keras.optimizers.Adam(0.02), loss_fn)
    loss_before = float(loss_fn(y, model(x)))
    # 40 full-batch steps in one epoch (cheaper than 40 epochs)
    model.fit(np.tile(x, (40, 1)), np.tile(y, 40), batch_size=30, epochs=1,
              shuffle=False, verbose=0, callbacks=[WeightBumping()])
    out = model(x)
    assert np.isfinite(float(loss_fn(y, out)))
    assert float(loss_fn(y, out)) < 0.8 * loss_before
    assert float(np.mean(np_(first_spike_correct(y, out)))) > 0.6  # chance 1/3
    for w in model.weights:
        assert np.isfinite(np_(w)).all()


def test_emulator_in_the_loop():
    keras.utils.set_random_seed(0)
    x, y = bars_3x3()
    model = _model()
    emulator = SpikeTimeEmulator(weight_bits=4, weight_max=1.0, threshold_mismatch=0.1,
                                 time_jitter=0.0, seed=3)
    q = np_(emulator.quantize(np.array([-3.0, 0.26, 0.4, 0.99])))
    np.testing.assert_allclose(q, [-1.0, 2 / 7, 3 / 7, 1.0], rtol=1e-6)
    thresholds = emulator.thresholds(model.layers[0])
    assert thresholds.shape == (11,) and np.std(thresholds) > 0
    np.testing.assert_array_equal(thresholds, emulator.thresholds(model.layers[0]))
    software = np_(model(x))
    model.predict_function = "traced before"
    assert keras_spiking.use_forward_fn(model, emulator) == 2
    assert model.predict_function is None  # the next predict traces anew
    assert not np.array_equal(np_(model(x)), software)
    times, kernel = model.layers[0].full_inputs_and_kernel(x)
    ref_hidden = first_spike_times(times, emulator.quantize(kernel), threshold=thresholds)
    np.testing.assert_allclose(np_(model.layers[0](x)), np_(ref_hidden), rtol=1e-6)
    with pytest.raises(TypeError, match="forward_fn"):
        keras_spiking.use_forward_fn(model, 3)
    # training in the loop: the emulator's times, the model's gradients
    model.compile(keras.optimizers.Adam(0.02), SpikeTimeCrossEntropy())
    before = np_(model.layers[0].kernel).copy()
    model.fit(x, y, batch_size=30, epochs=1, verbose=0)
    after = np_(model.layers[0].kernel)
    assert np.isfinite(after).all() and not np.array_equal(before, after)
    keras_spiking.use_forward_fn(model, None)
    hidden = model.layers[0](x)
    np.testing.assert_allclose(
        np_(model(x)),
        np_(first_spike_times(*model.layers[1].full_inputs_and_kernel(hidden))), rtol=1e-6)


def test_bars_dataset():
    x, y = bars_3x3(samples_per_class=4, noise=0.0)
    assert x.shape == (12, 9) and x.dtype == np.float32
    np.testing.assert_array_equal(np.bincount(y), [4, 4, 4])
    assert set(np.unique(x)) == {np.float32(0.05), np.float32(0.5)}
    assert (x == np.float32(0.05)).sum(axis=1).tolist() == [3] * 12
    np.testing.assert_array_equal(x[0].reshape(3, 3)[0], np.float32([0.05] * 3))  # top bar
    np.testing.assert_array_equal(bars_3x3(seed=1)[0], bars_3x3(seed=1)[0])
    assert not np.array_equal(bars_3x3(seed=1)[0], bars_3x3(seed=2)[0])


def test_yin_yang_dataset():
    x, y = yin_yang(600, seed=3)
    assert x.shape == (600, 4) and y.shape == (600,)
    np.testing.assert_allclose(x[:, 2], 1 - x[:, 0], atol=1e-6)
    np.testing.assert_allclose(x[:, 3], 1 - x[:, 1], atol=1e-6)
    assert (x >= 0).all() and (x <= 1).all()
    # inside the big circle
    assert (np.hypot(x[:, 0] - 0.5, x[:, 1] - 0.5) <= 0.5 + 1e-6).all()
    counts = np.bincount(y, minlength=3)
    assert counts.min() > 150  # balanced in expectation (200 each)
    np.testing.assert_array_equal(yin_yang(50, seed=7)[0], yin_yang(50, seed=7)[0])
    # the dots: class 2 lies within r_small of a dot centre
    dots = x[y == 2]
    d = np.minimum(np.hypot(dots[:, 0] - 0.75, dots[:, 1] - 0.5),
                   np.hypot(dots[:, 0] - 0.25, dots[:, 1] - 0.5))
    assert (d < 0.1).all()


def test_public_names():
    assert keras_spiking.layers.SpikeTimeDense is SpikeTimeDense
    assert keras_spiking.SpikeTimeCrossEntropy is SpikeTimeCrossEntropy
    assert keras_spiking.spike_time.lambert_w0 is not None
