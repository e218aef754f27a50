"""benchmarks/event_conv.py on tiny inputs: its kernels compute what TensorFlow's do,
and the whole script prints a table per pass (no CSNN, no saved ANN)."""

import sys

import keras
import numpy as np
import pytest

from kernel_helpers import library_or_skip
from tests.benchmark_scripts import load

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the event-driven kernels are TensorFlow ops")

event_conv_bench = load("event_conv")


def test_each_event_driven_kernel_times_the_same_work_as_its_dense_one():
    import tensorflow as tf

    library_or_skip("event_conv")
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((6, 12, 12, 12)) < 0.1, tf.float32)
    kernel = tf.constant(rng.normal(0, 0.1, (5, 5, 12, 64)), tf.float32)
    dout = tf.constant((rng.random((6, 8, 8, 64)) < 0.25) * rng.normal(0, 1, (6, 8, 8, 64)),
                       tf.float32)
    ops = event_conv_bench.conv_ops(x, kernel, dout)
    assert sorted(ops) == sorted(
        f"{what}, {how}" for what in ("forward", "filter gradient", "input gradient")
        for how in ("event-driven", "dense"))
    for what in ("forward", "filter gradient", "input gradient"):  # the first element
        assert ops[f"{what}, event-driven"]() == pytest.approx(ops[f"{what}, dense"](), abs=1e-5)


def test_the_script_prints_a_table_per_pass(monkeypatch, capsys):
    library_or_skip("event_conv")
    monkeypatch.setattr(sys, "argv", ["event_conv.py", "--rounds", "1", "--densities", "0.1",
                                      "--batch", "8"])
    event_conv_bench.main()
    out = capsys.readouterr().out
    assert "load average (1/5/15 min) at start" in out and "at end" in out
    for title in ("forward", "filter gradient", "input gradient"):
        assert f"\n{title}\n" in out
    assert out.count("ours/it wall") == 3
