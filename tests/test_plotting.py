"""Plots draw what they are given (Agg backend, no display)."""

import matplotlib

matplotlib.use("Agg")

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keras_spiking import plotting  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_spike_raster_draws_every_spike(tmp_path):
    spikes = np.zeros((20, 2, 3))  # trailing neuron axes are flattened
    spikes[[1, 5, 5, 19], [0, 1, 0, 1], [2, 0, 1, 2]] = 1
    fig = plotting.spike_raster(keras.ops.convert_to_tensor(spikes), dt=1e-3)
    offsets = fig.axes[0].collections[0].get_offsets()
    np.testing.assert_allclose(sorted(map(tuple, offsets)),
                               [(1e-3, 2), (5e-3, 1), (5e-3, 3), (19e-3, 5)])
    assert fig.axes[0].get_xlabel() == "time (s)"
    fig.savefig(tmp_path / "raster.png")
    assert (tmp_path / "raster.png").stat().st_size > 0


def test_membrane_traces_lines_and_threshold():
    v = np.cumsum(np.random.default_rng(0).normal(size=(15, 4)), axis=0)
    fig = plotting.membrane_traces(v, neurons=[1, 3], threshold=1.0)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3  # two neurons + threshold
    np.testing.assert_allclose(lines[0].get_ydata(), v[:, 1])
    np.testing.assert_allclose(lines[2].get_ydata(), [1.0, 1.0])
    with pytest.raises(ValueError, match="neurons must be indices"):
        plotting.membrane_traces(v, neurons=[4])


def test_spike_counts_bars_prediction_and_target():
    spikes = np.zeros((10, 3))
    spikes[:7, 2] = 1
    spikes[:3, 0] = 1
    fig, ax = plt.subplots()
    assert plotting.spike_counts(spikes, target=0, labels=["a", "b", "c"], ax=ax) is fig
    bars = ax.patches
    assert [b.get_height() for b in bars] == [3, 0, 7]
    assert bars[2].get_facecolor() != bars[1].get_facecolor()  # prediction highlighted
    assert bars[0].get_linewidth() == 2.5  # target outlined
    with pytest.raises(ValueError, match="one sample's activity"):
        plotting.spike_counts(np.zeros(5))
