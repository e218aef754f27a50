"""Spiking neurons and synapses over time: unrolled loop vs scanned loop.

``scan_time`` unrolls static time axes up to ``MAX_UNROLL`` steps and scans
longer ones. For SpikingLIF, SpikingIF and Lowpass on ``(batch, steps,
neurons)`` currents this times, in the same run, tracing the compiled graph
and running it (best and median of interleaved runs) for both loops, prints
the ratio scanned / unrolled, and the neuron-steps per second
(``common.interleave_samples``; the load average at the start and the end).
TensorFlow backend.

    TF_CPP_MIN_LOG_LEVEL=2 nice -n 10 python benchmarks/neuron_scan.py [--batch 64] [--steps 32] [--neurons 4096]
"""

import argparse
import statistics

import numpy as np
import tensorflow as tf

import common
from keras_spiking.layers import Lowpass, SpikingIF, SpikingLIF
from keras_spiking.timeloop import scan_time


def main():
    """Trace and time both loops of each layer; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--neurons", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    with common.watch_load():
        measure(args)


def measure(args):
    """The measurement of ``main``."""
    shape = (args.batch, args.steps, args.neurons)
    x = tf.constant(np.random.default_rng(0).uniform(0, 3, size=shape), "float32")

    fns, trace = {}, {}
    for layer in (SpikingLIF(), SpikingIF(threshold=0.002), Lowpass(0.005)):
        layer.build(shape)
        for unroll in (True, False):
            def run(x, layer=layer, unroll=unroll):
                step = layer.step_function(x)
                return scan_time(step, x, layer.initial_state(x), unroll=unroll)[0]

            name = (type(layer).__name__, "unrolled" if unroll else "scanned")
            fns[name] = tf.function(run)
            with common.Clock() as clock:
                fns[name].get_concrete_function(x)
            trace[name] = clock.wall

    samples = common.interleave_samples(
        {name: lambda fn=fn: common.materialize(fn(x)) for name, fn in fns.items()},
        rounds=args.repeats)
    times = {name: [t.wall for t in s] for name, s in samples.items()}

    print(f"currents {shape}; {args.repeats} interleaved runs each; TF {tf.__version__}")
    print(f"{'layer':<11} {'loop':<9} {'trace s':>8} {'best ms':>8} {'median ms':>10} "
          f"{'neuron-steps/s':>15} {'scan/unroll':>12}")
    for (layer, loop), t in times.items():
        ratio = min(t) / min(times[(layer, "unrolled")])
        print(f"{layer:<11} {loop:<9} {trace[(layer, loop)]:>8.2f} {1e3 * min(t):>8.1f} "
              f"{1e3 * statistics.median(t):>10.1f} {np.prod(shape) / min(t):>15.3g} "
              f"{ratio:>12.2f}")


if __name__ == "__main__":
    main()
