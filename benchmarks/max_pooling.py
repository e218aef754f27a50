"""Benchmark: the three ways to convert max pooling, on a max-pooling CNN.

    nice -n 10 python benchmarks/max_pooling.py --epochs 2 --test-size 2000

Trains Conv2D 16 3x3 ReLU > MaxPooling2D 2 > Conv2D 32 3x3 ReLU > MaxPooling2D 2
> Dense 10 on Fashion-MNIST, converts it three times (normalisation from 1000
training images, binary spikes, ``synapse=0.005``: the "max" mode takes
its max over filtered traces) and prints the spiking accuracy
at T = 8 ... 128 (mean readout) against the ANN:

* ``max_pool="avg"``: average pooling instead of max (changes the function);
* ``max_pool="max"``: max over the synapse-filtered traces (exact in rate
  mode; the pooled values are not spikes);
* ``max_pool="spike"``: ``SpikeMaxPool``, the spikes of each window's most
  active input (spikes stay spikes, as on a chip).

The load average is printed at the start and the end. Quick check:
``python benchmarks/max_pooling.py --epochs 1 --train-size 2000 --test-size 200``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import convert, evaluate_timesteps  # noqa: E402

TIMESTEPS = (8, 16, 32, 64, 128)


def build():
    """The max-pooling CNN (pixels rescaled to [0, 1], ReLU, logits out)."""
    L = keras.layers
    return keras.Sequential([
        keras.Input((28, 28, 1)), L.Rescaling(1 / 255),
        L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
        L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
        L.Flatten(), L.Dense(10),
    ], name="maxpool_cnn")


def main(argv=None):
    """Train the ANN, convert it with each ``max_pool`` mode, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images (default all)")
    args = parser.parse_args(argv)
    with common.watch_load():
        compare(args)


def compare(args):
    """The measurement of ``main``."""
    (x_train, y_train), (x_test, y_test) = common.fashion_mnist(args.train_size,
                                                                args.test_size)
    keras.utils.set_random_seed(0)
    ann = build()
    ann.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    ann.fit(x_train, y_train, batch_size=64, epochs=args.epochs, verbose=2)
    ann_accuracy = ann.evaluate(x_test, y_test, batch_size=500, verbose=0)[1]

    rows = {}
    for mode in ("avg", "max", "spike"):
        snn = convert(ann, calibration_data=x_train[:1000], max_pool=mode, synapse=0.005,
                      timesteps=max(TIMESTEPS), static_input=True)
        rows[mode] = evaluate_timesteps(snn, (x_test, y_test), TIMESTEPS, verbose=0).mean

    print(f"\nANN (max pooling) {ann_accuracy:.2%} on {len(y_test)} test images; "
          "SNN accuracy (mean readout):")
    print(f"{'max_pool':<10}" + "".join(f"{'T=' + str(T):>9}" for T in TIMESTEPS))
    for mode, accuracy in rows.items():
        print(f"{mode:<10}" + "".join(f"{accuracy[T]:>9.2%}" for T in TIMESTEPS))


if __name__ == "__main__":
    main()
