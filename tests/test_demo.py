"""The main job's training schedule, on a few random images."""

import numpy as np

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

