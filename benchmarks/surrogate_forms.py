"""Which surrogate form is faster on TensorFlow: custom_gradient or straight-through?

A fast-sigmoid spike inside a LIF loop (B=128, T=25, 12*12*12=1728 units,
forward + backward in one tf.function), written two ways:

* ``custom_gradient``: ``keras_spiking.surrogates.FastSigmoid`` (H(x) forward,
  1/(1+k|x|)^2 backward);
* ``straight-through``: ``g(x) + stop_gradient(H(x) - g(x))`` with
  ``g(x) = x / (1 + k|x|)``; same gradient, forward within float rounding.

Run:  nice -n 10 python benchmarks/surrogate_forms.py
Prints milliseconds per forward+backward (median of repeats) and the ratio.
"""

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from keras_spiking.surrogates import FastSigmoid  # noqa: E402

B, T, N, SLOPE, BETA = 128, 25, 1728, 25.0, 0.5


def straight_through(x):
    g = x / (1.0 + SLOPE * ops.abs(x))
    return g + ops.stop_gradient(ops.cast(x > 0, x.dtype) - g)


def make_loop(spike):
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


def median_ms(fn, *args, repeats=15):
    fn(*args)  # trace
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn(*args)
        _ = [o.numpy() for o in out]
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    rng = np.random.default_rng(0)
    x = tf.constant(rng.uniform(0, 1, (B, T, N)), tf.float32)
    w = tf.constant(1.5)
    forms = {"custom_gradient": FastSigmoid(SLOPE), "straight-through": straight_through}
    loops = {name: make_loop(fn) for name, fn in forms.items()}
    totals = {name: loop(x, w) for name, loop in loops.items()}
    np.testing.assert_allclose(totals["custom_gradient"][1], totals["straight-through"][1], rtol=1e-4)
    # interleave the two forms to share the machine's load evenly
    results = {name: [] for name in loops}
    for _ in range(3):
        for name, loop in loops.items():
            results[name].append(median_ms(loop, x, w, repeats=7))
    for name, ms in results.items():
        print(f"{name:>17}: {min(ms):7.1f} ms per forward+backward (best of 3 medians)")
    ratio = min(results["straight-through"]) / min(results["custom_gradient"])
    print(f"straight-through / custom_gradient time ratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
