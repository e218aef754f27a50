"""Benchmark: how much NIR's unspecified discretisation matters (Euler vs exact).

    python benchmarks/nir_discretisation.py

One NIR ``LIF`` (r = 1, v_leak = 0, v_threshold = 1, v_reset = 0) driven by a
constant current for 1 s, imported with ``import_nir`` at dt = 1 ms with
``integration="euler"`` and ``"exact"`` (zero-order hold). Prints the spike
counts of both and the continuous-time rate ``1 / (tau ln(I / (I - 1)))`` Hz.
The two schemes simulate the same ODE, yet count differently once ``dt`` is
not small against ``tau`` or the rate is high: a graph should be simulated
with the scheme it was exported for (``export_nir`` stores it).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import nir  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import import_nir  # noqa: E402

DT, STEPS = 0.001, 1000


def lif_graph(tau):
    """Input > one NIR LIF with time constant ``tau`` (s) > Output."""
    one = np.ones(1)
    return nir.NIRGraph.from_list(
        nir.Input(input_type={"input": np.array([1])}),
        nir.LIF(tau=tau * one, r=one, v_leak=0 * one, v_threshold=one, v_reset=0 * one),
        nir.Output(output_type={"output": np.array([1])}),
    )


def main():
    """Print the spike counts of both schemes and the ODE's rate."""
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with common.watch_load():
        count_spikes()


def count_spikes():
    """The table of ``main``."""
    print(f"dt = {DT * 1000:g} ms, {STEPS} steps; spikes in 1 s")
    print(f"{'tau (ms)':>9} {'current':>8} {'euler':>6} {'exact':>6} {'ODE rate (Hz)':>14}")
    for tau in (0.02, 0.005):
        graph = lif_graph(tau)
        models = {s: import_nir(graph, dt=DT, integration=s) for s in ("euler", "exact")}
        for current in (1.1, 1.5, 3.0):
            x = np.full((1, STEPS, 1), current, "float32")
            counts = {s: int(np.asarray(m(x)).sum()) for s, m in models.items()}
            rate = 1 / (tau * np.log(current / (current - 1)))
            print(f"{tau * 1000:9g} {current:8g} {counts['euler']:6d} {counts['exact']:6d} "
                  f"{rate:14.1f}")


if __name__ == "__main__":
    main()
