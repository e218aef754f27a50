"""Training-step time of the main-job CNN with SoftLIF vs ReLU, side by side.

    python benchmarks/rate_layers.py [--batch-size 16] [--repeats 30] [--jit]

Builds the main-job CNN (keras_spiking.demo.build_cnn) twice, once with
SoftLIF after every hidden layer and once with ReLU, compiles both the same
way, and times one ``train_on_batch`` (forward + backward + Adam update) on the
same random batch, alternating between the two models so that machine load
hits both alike. Prints the medians and the SoftLIF / ReLU ratio (goal <= 1.3).
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_spiking.demo import build_cnn  # noqa: E402


def compiled(activation, jit_compile):
    model = build_cnn(activation)
    model.compile(
        optimizer=keras.optimizers.Adam(),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=16, help="16: the main job's")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--jit", action="store_true", help="compile both with XLA")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(args.batch_size, 28, 28, 1)).astype("float32")
    y = rng.integers(0, 10, size=(args.batch_size,))
    models = {
        "soft_lif": compiled("soft_lif", args.jit),
        "relu": compiled("relu", args.jit),
    }
    times = {name: [] for name in models}
    for model in models.values():  # trace and warm up
        for _ in range(3):
            model.train_on_batch(x, y)
    for _ in range(args.repeats):
        for name, model in models.items():
            start = time.perf_counter()
            model.train_on_batch(x, y)
            times[name].append(time.perf_counter() - start)

    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"training step, batch {args.batch_size}, median of {args.repeats}:")
    for name, seconds in medians.items():
        print(f"  {name:<9} {seconds * 1e3:8.2f} ms")
    print(f"  ratio soft_lif / relu: {medians['soft_lif'] / medians['relu']:.3f}  (goal <= 1.3)")
    return medians


if __name__ == "__main__":
    main()
