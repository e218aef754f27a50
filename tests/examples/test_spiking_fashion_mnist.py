"""examples/spiking_fashion_mnist.py runs end to end in quick mode on tiny synthetic data."""

import numpy as np


def test_quick_run_on_tiny_data(monkeypatch, load_example, capsys):
    example = load_example("spiking_fashion_mnist")
    rng = np.random.default_rng(0)

    def fake_fashion_mnist(as_numpy=True):  # never the real data, never a download
        assert as_numpy
        split = lambda n: (rng.integers(0, 256, (n, 28, 28, 1), dtype=np.uint8),  # noqa: E731
                           rng.integers(0, 10, n))
        return split(64), split(24)

    monkeypatch.setattr(example.keras_spiking.datasets, "load_fashion_mnist", fake_fashion_mnist)
    rows = example.main(["--quick", "--train-size", "64", "--test-size", "24",
                         "--energy-images", "4", "--verbose", "0"])
    names = [row[0] for row in rows]
    assert len(rows) == 6 and names[0].startswith("ANN") and names[-1].startswith("ours")
    for name, accuracy, joules, device in rows:
        assert sorted(accuracy) == list(example.TIMESTEPS)
        assert all(0 <= a <= 1 for a in accuracy.values())
        assert all(j > 0 for j in joules.values())
        assert device == ("cpu" if name.startswith("ANN") else "loihi")
    out = capsys.readouterr().out
    assert "accuracy at T = 10 / 20 / 50" in out and "Energy per inference on loihi" in out
