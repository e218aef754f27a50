"""Tests of keras_spiking.converters.evaluate and report on a small version of
the main-job CNN (SoftLIF after every hidden layer, average pooling, Adam),
trained on tiny synthetic images."""

import numpy as np
import pytest

import keras

from keras_spiking import layers as ks_layers
from keras_spiking.converters import (
    convert,
    convert_and_report,
    evaluate_timesteps,
    firing_rates,
    plot_evaluation,
    run_chunked,
)
from keras_spiking.converters.evaluate import compiled_forward

L = keras.layers


def synthetic_images(n, seed):
    """12x12 images; the class is the brightest of three horizontal bands."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.uniform(0, 100, (n, 12, 12, 1))
    for i, c in enumerate(y):
        x[i, 4 * c:4 * c + 4] += 155
    return x.astype("float32"), y


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        L.Rescaling(1 / 255),
        L.Conv2D(4, 3, padding="same"), ks_layers.SoftLIF(),
        L.AveragePooling2D(2),
        L.Conv2D(8, 3), ks_layers.SoftLIF(),
        L.AveragePooling2D(2),
        L.Flatten(),
        L.Dense(16), ks_layers.SoftLIF(),
        L.Dense(3),
    ])
    model.compile(keras.optimizers.Adam(0.01),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    train = synthetic_images(300, 1)
    model.fit(*train, epochs=8, batch_size=32, verbose=0)
    return model, train, synthetic_images(60, 2)


@pytest.fixture(scope="module")
def snn(trained):
    model, train, _ = trained
    return convert(model, calibration_data=train[0][:100], timesteps=12,
                   static_input=True, synapse=0.001)


def test_snn_reaches_ann_accuracy_and_readouts_match(trained, snn):
    model, _, (x, y) = trained
    ann = np.mean(np.argmax(model(x), -1) == y)
    assert ann > 0.9
    ev = evaluate_timesteps(snn, (x, y), [5, 12], mean_fraction=0.4, batch_size=60,
                            verbose=0)
    out = keras.ops.convert_to_numpy(compiled_forward(snn)(x))  # the same traced function
    for T in (5, 12):
        k = max(1, round(0.4 * T))
        assert ev.last[T] == np.mean(np.argmax(out[:, T - 1], -1) == y)
        assert ev.mean[T] == np.mean(np.argmax(out[:, T - k:T].mean(1), -1) == y)
    assert ev.mean[12] >= ann - 0.05
    assert "mean last k" in ev.table()
    with pytest.raises(ValueError, match="timesteps"):
        evaluate_timesteps(snn, (x, y), [0, 4], verbose=0)
    with pytest.raises(ValueError, match="convert with timesteps=40"):
        evaluate_timesteps(snn, (x, y), [40], verbose=0)


def test_firing_rates_count_spikes(trained, snn):
    _, _, (x, _) = trained
    rates = firing_rates(snn, x[:4], 12)
    assert len(rates) == 3
    neuron = [l for l in snn.layers if isinstance(l, ks_layers.SpikingLIF)][-1]
    probe = keras.Model(snn.input, neuron.output)
    spikes = keras.ops.convert_to_numpy(probe(x[:4])) * neuron.dt / neuron.amplitude
    assert set(np.unique(np.round(spikes, 5))) <= {0.0, 1.0}  # binary spikes
    np.testing.assert_allclose(rates[neuron.name], spikes.mean(1), atol=1e-6)


def test_run_chunked_needs_multiple_of_chunk(trained):
    model, train, (x, _) = trained
    snn = convert(model, timesteps=5, static_input=True, stateful=True, batch_size=4)
    with pytest.raises(ValueError, match="multiple"):
        run_chunked(snn, x[:4], 12)


def test_convert_and_report_prints_table(trained, capsys, tmp_path):
    model, train, test = trained
    result = convert_and_report(model, train, test, timesteps=(2, 6),
                                calibration_size=100, timing_size=20, rate_size=10,
                                batch_size=20, verbose=0)
    printed = capsys.readouterr().out
    assert "ANN accuracy" in printed and "spikes per neuron per step" in printed
    assert set(result["last"]) == {2, 6}
    assert 0 < result["mean_spikes_per_neuron_step"] <= 1
    assert result["snn_speed"][6][0] > 0
    path = tmp_path / "acc.png"
    plot_evaluation(result["evaluation"], firing_rates(result["snn"], test[0][:5], 6),
                    path=str(path))
    assert path.stat().st_size > 0


def test_evaluate_timesteps_bad_input(trained, snn):
    _, _, (x, y) = trained
    one = evaluate_timesteps(snn, (x, y), 8, batch_size=60, verbose=0)  # an int: [8]
    assert one.timesteps == [8]
    assert one.last == evaluate_timesteps(snn, (x, y), [8], batch_size=60, verbose=0).last
    assert evaluate_timesteps(snn, (x, y), np.array([4, 8]), verbose=0).timesteps == [4, 8]
    with pytest.raises(TypeError, match="each of timesteps must be an integer >= 1, got 7.9"):
        evaluate_timesteps(snn, (x, y), [7.9], verbose=0)
    with pytest.raises(TypeError, match="timesteps must be an integer or a list"):
        evaluate_timesteps(snn, (x, y), 8.0, verbose=0)
    with pytest.raises(ValueError, match="empty list"):
        evaluate_timesteps(snn, (x, y), [], verbose=0)
    with pytest.raises(ValueError, match="no samples"):
        evaluate_timesteps(snn, (x[:0], y[:0]), [4], verbose=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        evaluate_timesteps(snn, (x, y), [4], batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        firing_rates(snn, x, 4, batch_size=0)
    with pytest.raises(TypeError, match="data must be a tuple .*tf.data.Dataset"):
        evaluate_timesteps(snn, iter([(x, y)]), [4], verbose=0)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(20)
        with pytest.raises(TypeError, match="got _BatchDataset.*np.concatenate"):
            evaluate_timesteps(snn, dataset, [4], verbose=0)


@pytest.mark.parametrize("static", [True, False])
def test_with_timesteps_runs_a_saved_model_longer_with_the_same_first_steps(static, tmp_path):
    from keras_spiking.converters import with_timesteps
    from keras_spiking.converters.evaluate import model_timesteps

    keras.utils.set_random_seed(2)
    ann = keras.Sequential([keras.Input((5,)), L.Dense(8), L.ReLU(), L.Dense(2)])
    x = np.random.default_rng(3).uniform(0, 1, (6, 5)).astype("float32")
    snn = convert(ann, calibration_data=x, timesteps=6, static_input=static)
    assert model_timesteps(snn) == (static, 6)  # RepeatTime's count, or the input's axis
    snn.save(tmp_path / "snn.keras")
    snn = keras.saving.load_model(tmp_path / "snn.keras")
    longer = with_timesteps(snn, 10)
    assert model_timesteps(longer) == (static, 10) and with_timesteps(longer, 10) is longer
    inputs = x if static else np.repeat(x[:, None], 10, axis=1)
    short = snn.predict(inputs if static else inputs[:, :6], verbose=0)
    long = longer.predict(inputs, verbose=0)
    assert long.shape == (6, 10, 2)
    np.testing.assert_allclose(long[:, :6], short, atol=1e-6)
    assert not np.allclose(long[:, 6:], long[:, 5:6])  # it went on running
    free = convert(ann, calibration_data=x)  # any number of steps: itself
    assert with_timesteps(free, 10) is free
