"""benchmarks/low_latency.py's table and its conversion loop on a tiny QuantizedReLU
model (no training on Fashion-MNIST, no download)."""

import keras
import numpy as np

from keras_spiking.layers import QuantizedReLU

from tests.benchmark_scripts import load

low_latency = load("low_latency")


def test_goal_table_prints_every_T_and_the_goals():
    T = low_latency.TIMESTEPS
    accuracies = {"binary": {t: 0.90 for t in T}, "graded": {t: 0.915 for t in T}}
    accuracies["binary"][4] = 0.912
    text = low_latency.goal_table(0.915, accuracies)
    lines = text.splitlines()
    assert [int(line.split()[0]) for line in lines[1:1 + len(T)]] == list(T)
    assert "ANN >= 91%: 91.50% met" in text
    assert "binary at T = 4 within 0.5 pp of the ANN: loses +0.30 pp met" in text
    assert "binary at T = 2 within 1.5 pp of the ANN: loses +1.50 pp met" in text
    assert "graded at T = 1 within 0.3 pp of the ANN: loses +0.00 pp met" in text
    accuracies["graded"][1] = 0.90
    assert "graded at T = 1 within 0.3 pp of the ANN: loses +1.50 pp NOT met" in \
        low_latency.goal_table(0.915, accuracies)


def test_spiking_accuracies_binary_and_graded():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(12),
                              QuantizedReLU(4, 1.0), keras.layers.Dense(3)])
    x = np.random.default_rng(0).normal(size=(40, 6)).astype("float32")
    y = np.argmax(keras.ops.convert_to_numpy(model(x)), -1)
    out = low_latency.spiking_accuracies(model, (x, y), 3, timesteps=(1, 4))
    assert set(out) == {"binary", "graded"} and set(out["binary"]) == {1, 4}
    assert out["graded"][1] == 1.0  # graded spikes of 3 bits: exact at T = 1 (L = 4)


def test_peer_goal_rows_compare_ours_with_spikingjelly_at_every_T():
    T = low_latency.TIMESTEPS
    ours = {t: 0.90 for t in T}
    peer = {t: 0.89 for t in T}
    lines = low_latency.peer_goal_rows(ours, peer, 0.91)
    assert [float(v) for v in lines[0].split()[-len(T):]] == [-1.0] * len(T)  # vs the ANN
    assert [float(v) for v in lines[1].split()[-len(T):]] == [1.0] * len(T)  # vs the peer
    assert lines[-1].endswith("every T: met")
    peer[4] = peer[8] = 0.905
    assert lines != low_latency.peer_goal_rows(ours, peer, 0.91)
    assert low_latency.peer_goal_rows(ours, peer, 0.91)[-1].endswith(
        "NOT met (below at T = [4, 8])")
