"""Which surrogate form is faster on TensorFlow: custom_gradient or straight-through?

A fast-sigmoid spike inside a LIF loop (B=128, T=25, 12*12*12=1728 units,
forward + backward in one tf.function), written two ways:

* ``custom_gradient``: ``keras_spiking.surrogates.FastSigmoid`` (H(x) forward,
  1/(1+k|x|)^2 backward);
* ``straight-through``: ``g(x) + stop_gradient(H(x) - g(x))`` with
  ``g(x) = x / (1 + k|x|)``; same gradient, forward within float rounding.

Run:  nice -n 10 python benchmarks/surrogate_forms.py [--repeats 21]
Prints milliseconds per forward+backward (best and median of ``--repeats`` runs,
alternating between the two forms: ``common.interleave_samples``) and the ratios,
with the load average at the start and the end.
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

import common  # noqa: E402
from keras_spiking.surrogates import FastSigmoid  # noqa: E402

B, T, N, SLOPE, BETA = 128, 25, 1728, 25.0, 0.5


def straight_through(x):
    """H(x) forward, the derivative of x / (1 + k|x|) backward, by stop_gradient."""
    g = x / (1.0 + SLOPE * ops.abs(x))
    return g + ops.stop_gradient(ops.cast(x > 0, x.dtype) - g)


def make_loop(spike):
    """A compiled LIF loop over T with ``spike``: (total spikes, d total / d w)."""
    @tf.function
    def run(x, w):
        with tf.GradientTape() as tape:
            tape.watch(w)
            v = tf.zeros((B, N))
            s = tf.zeros((B, N))
            total = 0.0
            for x_t in tf.unstack(x * w, axis=1):
                v = BETA * v + x_t - tf.stop_gradient(s)
                s = spike(v - 1.0)
                total += tf.reduce_sum(s)
        return total, tape.gradient(total, w)

    return run


def main():
    """Check that both forms agree, time them interleaved, print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()
    with common.watch_load():
        measure(args.repeats)


def measure(repeats):
    """The measurement of ``main``."""
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 1, (B, T, N)), tf.float32)
    w = tf.constant(1.5)
    forms = {"custom_gradient": FastSigmoid(SLOPE), "straight-through": straight_through}
    loops = {name: make_loop(fn) for name, fn in forms.items()}
    totals = {name: loop(x, w) for name, loop in loops.items()}
    np.testing.assert_allclose(totals["custom_gradient"][1], totals["straight-through"][1], rtol=1e-4)
    samples = common.interleave_samples(
        {name: lambda f=f: common.materialize(f(x, w)) for name, f in loops.items()},
        rounds=repeats)
    best = {name: 1000 * min(t.wall for t in s) for name, s in samples.items()}
    median = {name: 1000 * statistics.median(t.wall for t in s) for name, s in samples.items()}
    for name in loops:
        print(f"{name:>17}: {best[name]:7.1f} ms per forward+backward (best of {repeats}; "
              f"median {median[name]:.1f} ms)")
    print(f"straight-through / custom_gradient time ratio: "
          f"{best['straight-through'] / best['custom_gradient']:.2f} (best), "
          f"{median['straight-through'] / median['custom_gradient']:.2f} (median)")


if __name__ == "__main__":
    main()
