"""benchmarks/conversion_zoo.py: every network of the zoo converts exactly in rate mode
(untrained weights, random images), and the table marks the goal. No Fashion-MNIST."""

import numpy as np
import pytest

from keras_spiking.converters import verify

from tests.benchmark_scripts import load

zoo = load("conversion_zoo")


@pytest.mark.parametrize("name", sorted(zoo.ZOO))
def test_every_network_converts_exactly_in_rate_mode(name):
    x = np.random.default_rng(0).uniform(0, 255, (8, 28, 28, 1)).astype("float32")
    model = zoo.ZOO[name]()
    assert verify(model, x, atol=1e-4, calibration_data=x) < 1e-4


def test_table_marks_the_goal():
    ann = 0.9
    good = {8: 0.5, 16: 0.885, 32: 0.89, 64: 0.9}
    bad = {**good, 32: 0.885}
    lines = zoo.table({"good": (ann, good), "bad": (ann, bad)}).splitlines()
    assert lines[1].startswith("good") and lines[1].endswith("met")
    assert lines[1].split()[-1] == "met" and lines[2].endswith("NOT met")
