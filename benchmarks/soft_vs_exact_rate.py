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


def with_exact_rates(model):
    """A copy of a Sequential ``model`` whose SoftLIF layers have ``sigma = 0``."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["class_name"] == "SoftLIF":
            layer["config"]["sigma"] = 0.0
    exact = keras.Sequential.from_config(config)
    exact.set_weights(model.get_weights())
    return exact


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a saved Sequential .keras model")
    args = parser.parse_args(argv)
    model = keras.models.load_model(args.model)
    x, y = keras_spiking.datasets.load_fashion_mnist("test", as_numpy=True)
    for name, net in (("soft rates", model), ("exact LIF rates", with_exact_rates(model))):
        accuracy = np.mean(np.argmax(net.predict(x, batch_size=500, verbose=0), -1) == y)
        print(f"{name:<16} {accuracy:.2%}")


if __name__ == "__main__":
    main()
