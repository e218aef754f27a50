"""benchmarks/surrogate_vs_peers.py's goal lines, on made-up timings (no training, no peers)."""

from tests.benchmark_scripts import load

bench = load("surrogate_vs_peers")
Timing = bench.common.Timing


def _result(train_s, infer_s, peak_gib, cpu_factor=2.0):
    return dict(train=Timing(train_s, cpu_factor * train_s, 128),
                infer=Timing(infer_s, cpu_factor * infer_s, 128),
                peak_rss_bytes=peak_gib * 2**30, import_rss_bytes=0.2 * 2**30)


def test_goal_lines_compare_each_of_our_rows_with_the_peers():
    results = {
        "keras_spiking": _result(1.0, 0.2, 0.9),
        "snntorch": _result(3.5, 0.5, 0.7, cpu_factor=2.4),  # ours 3.5x wall, 4.2x CPU
        "snntorch-static": _result(1.5, 0.5, 0.6),  # ours 1.5x: short of 2x
    }
    lines = bench.goal_lines(results)
    train, static, infer, rss = lines[1:]
    assert "train >= 3x snntorch: 3.50x wall, 4.20x CPU  met" in train
    assert "train >= 2x snntorch-static: 1.50x wall, 1.50x CPU  NOT met" in static
    assert "infer >= 3x snntorch: 2.50x wall, 3.00x CPU  NOT met" in infer
    assert "peak RSS <= 0.8x snntorch's: 1.29x  NOT met" in rss


def test_no_goal_lines_without_peers():
    assert bench.goal_lines({"keras_spiking": _result(1.0, 0.2, 0.9)}) == []
