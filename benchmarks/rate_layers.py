"""Training-step time of the main-job CNN with SoftLIF vs ReLU, side by side.

    python benchmarks/rate_layers.py [--batch-size 16] [--repeats 30] [--jit]

Builds the main-job CNN (``common.build_main_job``, i.e. keras_spiking.demo.build_cnn)
twice, once with SoftLIF after every hidden layer and once with ReLU, compiles both the
same way, and times one ``train_on_batch`` (forward + backward + Adam update) on the
same random batch, alternating between the two models so that machine load
hits both alike (``common.interleave_samples``, 3 warm-up steps each). Prints the
medians (and the best) and the SoftLIF / ReLU ratio of the medians (goal <= 1.3),
with the load average at the start and the end.
"""

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402


def compiled(activation, jit_compile):
    """The main-job CNN with ``activation``, compiled for training (Adam, logits CE)."""
    model = common.build_main_job(activation)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def main(argv=None):
    """Time both training steps interleaved; print and return the medians (s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="16: the main job's")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--jit", action="store_true", help="compile both with XLA")
    args = parser.parse_args(argv)
    with common.watch_load():
        return measure(args)


def measure(args):
    """The measurement of ``main``."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(args.batch_size, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    models = {
        "soft_lif": compiled("soft_lif", args.jit),
        "relu": compiled("relu", args.jit),
    }
    samples = common.interleave_samples(
        {name: lambda m=model: m.train_on_batch(x, y) for name, model in models.items()},
        rounds=args.repeats, warmup=3)

    medians = {name: statistics.median(t.wall for t in s) for name, s in samples.items()}
    print(f"training step, batch {args.batch_size}, median (best) of {args.repeats}:")
    for name, seconds in medians.items():
        best = common.best(samples[name]).wall
        print(f"  {name:<9} {seconds * 1e3:8.2f} ms  ({best * 1e3:.2f} ms)")
    print(f"  ratio soft_lif / relu: {medians['soft_lif'] / medians['relu']:.3f}  (goal <= 1.3)")
    return medians


if __name__ == "__main__":
    main()
