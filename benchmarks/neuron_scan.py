"""Spiking neurons and synapses over time: unrolled loop vs scanned loop.

``scan_time`` unrolls static time axes up to ``MAX_UNROLL`` steps and scans
longer ones. For SpikingLIF, SpikingIF and Lowpass on ``(batch, steps,
neurons)`` currents this times, in the same run, tracing the compiled graph
and running it (best and median of interleaved runs) for both loops, prints
the ratio scanned / unrolled, and the neuron-steps per second
(``common.interleave_samples``; the load average at the start and the end).
On TensorFlow each loop is a ``tf.function``, and also compiled by XLA
(``scan_time(xla=True)``, what ``keras_spiking.default.xla_time_loops`` turns on
at inference); on JAX a ``jax.jit`` of each loop (``--backend``, see
``common.rerun_per_backend``).

    TF_CPP_MIN_LOG_LEVEL=2 nice -n 10 python benchmarks/neuron_scan.py [--batch 64] [--steps 32] [--neurons 4096] [--backend both]
"""

import argparse
import statistics

import keras
import numpy as np

import common
from keras_spiking.layers import Lowpass, SpikingIF, SpikingLIF
from keras_spiking.timeloop import scan_time

#: (name, unroll, xla) of the loops timed per backend
LOOPS = {"tensorflow": (("unrolled", True, False), ("scanned", False, False),
                        ("scanned XLA", False, True), ("unrolled XLA", True, True)),
         "jax": (("unrolled", True, False), ("scanned", False, False))}


def compile_fn(fn):
    """``tf.function`` on TensorFlow, ``jax.jit`` on JAX."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)


def main():
    """Trace and time both loops of each layer; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--neurons", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=9)
    common.add_backend_argument(parser)
    args = parser.parse_args()
    if common.rerun_per_backend(args.backend):
        return
    with common.watch_load():
        measure(args)


def measure(args):
    """The measurement of ``main``."""
    shape = (args.batch, args.steps, args.neurons)
    x = keras.ops.convert_to_tensor(
        np.random.default_rng(0).uniform(0, 3, size=shape).astype("float32"))

    fns, trace = {}, {}
    for layer in (SpikingLIF(), SpikingIF(threshold=0.002), Lowpass(0.005)):
        layer.build(shape)
        for loop, unroll, xla in LOOPS[keras.backend.backend()]:
            def run(x, layer=layer, unroll=unroll, xla=xla):
                step = layer.step_function(x)
                return scan_time(step, x, layer.initial_state(x), unroll=unroll, xla=xla)[0]

            name = (type(layer).__name__, loop)
            fns[name] = compile_fn(run)
            with common.Clock() as clock:  # trace and compile
                common.materialize(fns[name](x))
            trace[name] = clock.wall

    samples = common.interleave_samples(
        {name: lambda fn=fn: common.materialize(fn(x)) for name, fn in fns.items()},
        rounds=args.repeats)
    times = {name: [t.wall for t in s] for name, s in samples.items()}

    cpu = {name: min(t.cpu for t in s) for name, s in samples.items()}

    print(f"currents {shape}; {args.repeats} interleaved runs each; Keras "
          f"{keras.__version__}, backend {keras.backend.backend()}")
    print(f"{'layer':<11} {'loop':<13} {'build s':>8} {'best ms':>8} {'median ms':>10} "
          f"{'best CPU ms':>12} {'neuron-steps/s':>15} {'/unrolled':>10} {'CPU /unrolled':>14}")
    for (layer, loop), t in times.items():
        ratio = min(t) / min(times[(layer, "unrolled")])
        ratio_cpu = cpu[(layer, loop)] / cpu[(layer, "unrolled")]
        print(f"{layer:<11} {loop:<13} {trace[(layer, loop)]:>8.2f} {1e3 * min(t):>8.1f} "
              f"{1e3 * statistics.median(t):>10.1f} {1e3 * cpu[(layer, loop)]:>12.1f} "
              f"{np.prod(shape) / min(t):>15.3g} {ratio:>10.2f} {ratio_cpu:>14.2f}")


if __name__ == "__main__":
    main()
