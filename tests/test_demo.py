"""The main job's training schedule, on a few random images."""

import numpy as np
import pytest

from keras_spiking import demo
from keras_spiking.layers import LIFRate, SoftLIF


def test_lif_network_is_fine_tuned_on_exact_rates():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(48, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, size=48)
    data = (x[:32], y[:32]), (x[32:], y[32:])
    before = demo.build_cnn("soft_lif").get_weights()
    model, accuracy, seconds, stages = demo.train(
        "soft_lif", data, epochs=1, batch_size=16, finetune_epochs=1, verbose=0)
    assert list(stages) == ["soft_lif", "exact_lif", "exact_lif+finetune"]
    neurons = [l for l in model.layers if isinstance(l, LIFRate)]
    assert len(neurons) == 3 and not any(isinstance(l, SoftLIF) for l in neurons)
    assert all(l.gradient_sigma == 0.05 for l in neurons)
    assert accuracy == stages["exact_lif+finetune"] and seconds > 0
    # the converted network is the one that was fine-tuned
    assert not all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    _, reported = model.evaluate(x[32:], y[32:], verbose=0)
    assert reported == accuracy



def test_the_main_job_ends_with_a_plot_a_nir_file_and_the_loihi2_check(tmp_path, capsys):
    """``deploy`` on a small CNN of the main job's kind (Rescaling with an offset,
    'same' convolution, SoftLIF, average pooling), on random images."""
    import keras
    import keras_spiking
    from keras_spiking.converters import convert, evaluate_timesteps

    nir = pytest.importorskip("nir")
    keras.utils.set_random_seed(0)
    model = keras_spiking.with_exact_rates(keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Rescaling(1 / (255 * demo.PIXEL_STD), offset=-demo.PIXEL_MEAN / demo.PIXEL_STD),
        keras.layers.Conv2D(4, 3, padding="same"), SoftLIF(),
        keras.layers.AveragePooling2D(2), keras.layers.Flatten(), keras.layers.Dense(3)]))
    x = np.random.default_rng(0).integers(0, 256, (16, 8, 8, 1)).astype("uint8")
    y = model.predict(x, verbose=0).argmax(-1)
    snn = convert(model, calibration_data=x, timesteps=8, static_input=True)
    report = dict(snn=snn, ann_accuracy=1.0,
                  evaluation=evaluate_timesteps(snn, (x, y), [2, 4, 8], verbose=0))
    written = demo.deploy(model, report, x, str(tmp_path))
    out = capsys.readouterr().out
    assert open(written["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert written["nir"], out
    graph = nir.read(written["nir"])
    assert sum(type(n).__name__ == "LIF" for n in graph.nodes.values()) == 1
    assert "approximations: refractory, voltage_floor" in out
    assert "fits loihi2: no violations" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lif_snn.nir", "snn_accuracy.png"]


def test_seed_sets_the_weights_and_the_order_of_the_images():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(40, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, size=40)
    data = (x[:32], y[:32]), (x[32:], y[32:])

    def weights(seed):
        model = demo.train("relu", data, epochs=1, batch_size=8, verbose=0, seed=seed)[0]
        return model.get_weights()

    first, again, other = weights(0), weights(0), weights(1)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
