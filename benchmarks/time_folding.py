"""Stateless layers over time: TimeFold vs keras TimeDistributed vs a per-step loop.

Applies the same CNN (Conv2D 12x5 - MaxPool 2 - Conv2D 32x5 - MaxPool 2 -
Flatten - Dense 10, shared weights) to ``(batch, time, 28, 28, 1)`` inputs in
several ways and times a compiled forward pass and a forward + backward pass
(gradients of a scalar loss w.r.t. the weights) for each, in the same run:

* ``TimeFold``: all timesteps folded into the batch, one call per layer;
* ``TimeFold/k``: ``TimeFold(steps_per_call=k)``, k timesteps per call;
* ``TimeDistributed``: ``keras.layers.TimeDistributed``;
* ``per-step loop``: a Python loop over timesteps running the whole stack on
  each step, outputs stacked at the end (possible only when no layer in the
  stack scans over time, or when the whole network is stepped, snnTorch-style).

Runs alternate between the variants (``common.interleave_samples``); the table
shows the best (least disturbed by other processes on a shared machine) and the
median time, and the ratios of the best times to TimeFold's; the load average
is printed at the start and the end. TensorFlow backend.

    TF_CPP_MIN_LOG_LEVEL=2 nice -n 10 python benchmarks/time_folding.py [--batch 32] [--steps 16]
"""

import argparse
import statistics

import numpy as np
import keras
import tensorflow as tf

import common
from keras_spiking.layers import TimeFold


def make_layers():
    """The CNN's layers (built on first use, then shared by every variant)."""
    return [
        keras.layers.Conv2D(12, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(32, 5, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ]


def chain(wrappers):
    """Apply ``wrappers`` one after the other."""
    def run(x):
        for wrapper in wrappers:
            x = wrapper(x)
        return x

    return run


def per_step(layers):
    """Run the whole stack on each timestep in a Python loop, stack the outputs."""
    def run(x):
        outputs = []
        for t in range(x.shape[1]):
            h = x[:, t]
            for layer in layers:
                h = layer(h)
            outputs.append(h)
        return tf.stack(outputs, axis=1)

    return run


def variants(layers, chunks):
    """The ways to apply ``layers`` over time, by name."""
    result = {"TimeFold": chain([TimeFold(layer) for layer in layers])}
    for k in chunks:
        result[f"TimeFold/{k}"] = chain(
            [TimeFold(layer, steps_per_call=k) for layer in layers]
        )
    result["TimeDistributed"] = chain(
        [keras.layers.TimeDistributed(layer) for layer in layers]
    )
    result["per-step loop"] = per_step(layers)
    return result


def interleaved_times(fns, x, repeats):
    """Wall times of ``repeats`` interleaved runs of each ``fn(x)``, by name."""
    samples = common.interleave_samples(
        {name: lambda fn=fn: common.materialize(fn(x)) for name, fn in fns.items()},
        rounds=repeats)
    return {name: [t.wall for t in s] for name, s in samples.items()}


def main():
    """Check that every variant agrees, time them, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--chunks", type=int, nargs="*", default=[4, 1],
                        help="steps_per_call values to try")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    with common.watch_load():
        measure(args)


def measure(args):
    """The measurement of ``main``."""
    layers = make_layers()
    x = tf.constant(
        np.random.default_rng(0).uniform(size=(args.batch, args.steps, 28, 28, 1)),
        "float32",
    )
    runs = variants(layers, args.chunks)
    reference = runs["TimeFold"](x)  # builds the shared layers
    weights = [w for layer in layers for w in layer.trainable_variables]

    forward, train, trace = {}, {}, {}
    for name, run in runs.items():
        np.testing.assert_allclose(run(x), reference, rtol=1e-4, atol=1e-5)
        forward[name] = tf.function(run)

        @tf.function
        def train_step(x, run=run):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(run(x)))
            return tape.gradient(loss, weights)

        with common.Clock() as clock:
            train_step.get_concrete_function(x)
        trace[name] = clock.wall
        train[name] = train_step
    forward = interleaved_times(forward, x, args.repeats)
    train = interleaved_times(train, x, args.repeats)

    best_fwd, best_train = min(forward["TimeFold"]), min(train["TimeFold"])
    print(f"input {tuple(x.shape)}; {args.repeats} interleaved runs each; "
          f"TF {tf.__version__}, Keras {keras.__version__}")
    print(f"{'variant':<16} {'fwd best':>9} {'fwd median':>11} {'f+b best':>9} "
          f"{'f+b median':>11} {'trace s':>8} {'fwd ratio':>10} {'f+b ratio':>10}")
    for name in runs:
        f, t = forward[name], train[name]
        print(f"{name:<16} {1e3 * min(f):>7.1f}ms {1e3 * statistics.median(f):>9.1f}ms "
              f"{1e3 * min(t):>7.1f}ms {1e3 * statistics.median(t):>9.1f}ms "
              f"{trace[name]:>8.2f} {min(f) / best_fwd:>10.2f} {min(t) / best_train:>10.2f}")
    print("f+b = forward + backward; ratios = best time / TimeFold's best time "
          "(> 1: slower than TimeFold); trace = tracing the f+b graph")


if __name__ == "__main__":
    main()
