"""benchmarks/jax_training_step.py: one variant's process reports a step that ran."""

import argparse
import importlib.util

import pytest
from benchmark_scripts import load

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")


@pytest.mark.parametrize("variant", ["default", "keras pooling"])
def test_a_variant_compiles_and_times_a_step(variant):
    bench = load("jax_training_step")
    args = argparse.Namespace(steps=1, batch_size=4, time_steps=3)
    result = bench.measure(variant, args)
    assert result["wall"] > 0 and result["cpu"] > 0 and result["compile"] > 0
    assert result["temp_bytes"] > 0 and result["peak_rss"] > 2**20
