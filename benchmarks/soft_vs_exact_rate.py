"""Accuracy of a trained SoftLIF model with soft rates vs the exact LIF rate.

    python benchmarks/soft_vs_exact_rate.py --model runs/fashion_mnist/soft_lif_cnn.keras

Spiking LIF neurons fire at the exact rate ``lif_rate`` (``sigma = 0``), not at
the smoothed rate the model was trained with, so the network with every
``SoftLIF`` set to ``sigma = 0`` is the accuracy a converted SNN approaches
as T grows. Prints both accuracies on the Fashion-MNIST test set.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.layers.rate import with_exact_rates  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a saved .keras model with SoftLIF layers")
    args = parser.parse_args(argv)
    model = keras.models.load_model(args.model)
    x, y = keras_spiking.datasets.load_fashion_mnist("test", as_numpy=True)
    for name, net in (("soft rates", model), ("exact LIF rates", with_exact_rates(model))):
        accuracy = np.mean(np.argmax(net.predict(x, batch_size=500, verbose=0), -1) == y)
        print(f"{name:<16} {accuracy:.2%}")


if __name__ == "__main__":
    main()
