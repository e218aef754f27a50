"""The main job's NIR file read back: its accuracy next to the network it was exported from.

``keras-spiking demo --out runs/fashion_mnist`` writes ``lif_snn.nir`` (the LIF network
converted with ``initial_voltage="zeros"``, graph starting after the ``Rescaling``:
standardised images in, one per step). This reads it with ``import_nir``, feeds the first
``--size`` test images standardised for ``--timesteps`` steps and prints the accuracy of the
mean output over the last half of the steps, next to the saved Keras network converted the
same way (1000 training images for calibration, as the demo does) on the same images:

    python benchmarks/demo_nir_readback.py --model runs/fashion_mnist/lif_cnn.keras \\
        --nir runs/fashion_mnist/lif_snn.nir
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_spiking import datasets, demo  # noqa: E402
from keras_spiking.converters import convert, import_nir  # noqa: E402


def accuracy(outputs, labels, steps):
    """Accuracy of the mean output over the last ``steps // 2`` steps, and of the last step."""
    mean = outputs[:, steps // 2:].mean(1).argmax(-1)
    return float((mean == labels).mean()), float((outputs[:, -1].argmax(-1) == labels).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the demo's lif_cnn.keras")
    parser.add_argument("--nir", required=True, help="the demo's lif_snn.nir")
    parser.add_argument("--size", type=int, default=1000, help="first N test images")
    parser.add_argument("--timesteps", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args(argv)
    (x_train, _), (x_test, y_test) = datasets.load_fashion_mnist(as_numpy=True)
    x, y, steps = x_test[:args.size].astype("float32"), y_test[:args.size], args.timesteps
    standardised = (x / 255.0 - demo.PIXEL_MEAN) / demo.PIXEL_STD
    graph = import_nir(args.nir, timesteps=steps)
    read_back = np.concatenate([
        np.asarray(graph.predict(np.repeat(standardised[i:i + args.batch_size, None], steps, 1),
                                 verbose=0))
        for i in range(0, len(x), args.batch_size)])
    snn = convert(keras.models.load_model(args.model), calibration_data=x_train[:1000],
                  initial_voltage="zeros", timesteps=steps, static_input=True)
    converted = np.asarray(snn.predict(x, batch_size=args.batch_size, verbose=0))
    print(f"first {len(x)} test images, T = {steps}: accuracy of the mean of the last "
          f"{steps - steps // 2} steps (of the last step)")
    for name, out in (("NIR file read back", read_back), ("Keras network converted", converted)):
        mean, last = accuracy(out, y, steps)
        print(f"  {name:<24} {mean:.1%} ({last:.1%})")


if __name__ == "__main__":
    main()
