"""The main job: an all-LIF CNN on Fashion-MNIST, trained with rates.

Trains the same CNN twice, with LIF neurons after every hidden layer and with
ReLU, prints both test accuracies side by side and saves the LIF model as
``.keras``, then converts it into a spiking network and prints its accuracy
over timesteps (``keras_spiking.converters.convert_and_report``). It ends with
the deployment view (``deploy``): the SNN's accuracy against T as a PNG (the
ANN as a line), the SNN as a NIR file, and the ``loihi2`` hardware check.

Both networks train ``--epochs`` epochs with Adam's default learning rate and
then ``--finetune-epochs`` at a tenth of it. The LIF network trains with the
smooth ``SoftLIF`` rate and spends its fine-tuning epochs on the exact LIF
rate (``with_exact_rates``: forward exact, gradient soft), so the network
that is converted computes the very rates its spiking neurons fire at.

Run it:  keras-spiking demo   (or: python examples/fashion_mnist.py)
Options: --epochs 5 --finetune-epochs 1 --batch-size 16 --out runs/fashion_mnist --quick
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_spiking  # noqa: E402


#: Fashion-MNIST pixel mean and standard deviation (of x / 255, training set).
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530


def build_cnn(activation="soft_lif", input_shape=(28, 28, 1), classes=10):
    """Conv2D 16 7x7 'same' > pool 2 > Conv2D 32 7x7 > pool 2 > Dense 512 > Dense 10.

    ``activation`` is ``"soft_lif"`` (a ``SoftLIF`` layer after every hidden
    layer), any Keras activation name such as ``"relu"``, or a function that
    returns a new activation layer (e.g. ``lambda: QuantizedReLU(4)``). Pixels are
    standardised by a ``Rescaling`` layer and kernels start from He-uniform
    weights (each worth about 1.5 points after one epoch); dropout before the
    readout curbs the overfitting that sets in by epoch 4. Pooling is average
    pooling, which a spiking network computes exactly.
    """

    def hidden():
        if activation == "soft_lif":
            return keras_spiking.layers.SoftLIF()
        if callable(activation):  # a factory of activation layers
            return activation()
        return keras.layers.Activation(activation)

    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Rescaling(
                1 / (255 * PIXEL_STD), offset=-PIXEL_MEAN / PIXEL_STD
            ),
            keras.layers.Conv2D(16, 7, padding="same", kernel_initializer="he_uniform"),
            hidden(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(32, 7, kernel_initializer="he_uniform"),
            hidden(),
            keras.layers.AveragePooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(512, kernel_initializer="he_uniform"),
            hidden(),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(classes),
        ],
        name=f"cnn_{activation if isinstance(activation, str) else 'custom'}",
    )


def train(activation, data, epochs, batch_size, finetune_epochs=0, verbose=1, seed=0):
    """Train ``build_cnn(activation)``, then fine-tune it at a tenth of the
    learning rate (a ``"soft_lif"`` network with exact LIF rates). ``seed`` sets
    the initial weights and the order of the training images (a new shuffle every
    epoch, ``datasets.batches``).

    Returns (model, test accuracy, s/epoch, accuracies): ``accuracies`` holds
    the test accuracy after each stage, by name.
    """
    (x_train, y_train), (x_test, y_test) = data
    batches = keras_spiking.datasets.batches
    test = batches(x_test, y_test, 512)
    accuracies = {}

    def fit(net, name, n, learning_rate):
        net.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        if n:  # fed by datasets.batches: Keras's pipeline for arrays ran some epochs at half speed
            net.fit(batches(x_train, y_train, batch_size, shuffle=True, seed=seed), epochs=n,
                    shuffle=False, validation_data=test, verbose=verbose)
        accuracies[name] = net.evaluate(test, verbose=0)[1]
        return name

    keras.utils.set_random_seed(seed)
    model = build_cnn(activation)
    start = time.perf_counter()
    name = fit(model, activation, epochs, 1e-3)
    if activation == "soft_lif":
        model = keras_spiking.with_exact_rates(model)
        name = fit(model, "exact_lif", 0, 1e-4)  # evaluated as it is
    if finetune_epochs:
        name = fit(model, f"{name}+finetune", finetune_epochs, 1e-4)
    seconds_per_epoch = (time.perf_counter() - start) / (epochs + finetune_epochs)
    return model, accuracies[name], seconds_per_epoch, accuracies


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--finetune-epochs", type=int, default=1,
                        help="final epochs at lr 1e-4 (LIF: on the exact rates)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the initial weights and of the shuffle order")
    parser.add_argument("--out", default=os.path.join("runs", "fashion_mnist"))
    parser.add_argument(
        "--quick", action="store_true", help="1 epoch on 6000 images (smoke run)"
    )
    parser.add_argument("--no-relu", action="store_true", help="skip the ReLU baseline")
    parser.add_argument(
        "--no-convert", action="store_true", help="stop after training (no spiking run)"
    )
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test) = keras_spiking.datasets.load_fashion_mnist(
        as_numpy=True
    )
    if args.quick:
        x_train, y_train, args.epochs = x_train[:6000], y_train[:6000], 1
    data = (x_train, y_train), (x_test, y_test)

    schedule = f"{args.epochs} epochs, then {args.finetune_epochs} at lr 1e-4"
    print(f"== LIF in every hidden layer (SoftLIF, exact rates to fine-tune): {schedule}")
    lif_model, _, seconds, stages = train(
        "soft_lif", data, args.epochs, args.batch_size, args.finetune_epochs, seed=args.seed)
    rows = [(name, accuracy, None) for name, accuracy in stages.items()]
    rows[-1] = rows[-1][:2] + (seconds,)
    if not args.no_relu:
        print(f"== ReLU baseline: {schedule}")
        _, _, seconds, stages = train(
            "relu", data, args.epochs, args.batch_size, args.finetune_epochs, seed=args.seed)
        rows += [(name, accuracy, None) for name, accuracy in stages.items()]
        rows[-1] = rows[-1][:2] + (seconds,)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "lif_cnn.keras")
    save_model(lif_model, path)

    print(f"\nFashion-MNIST test accuracy ({len(y_test)} images)")
    print(f"{'network (stage)':<24}{'accuracy':>10}{'s/epoch':>10}")
    for name, accuracy, seconds in rows:
        print(f"{name:<24}{accuracy:>10.2%}" + (f"{seconds:>10.1f}" if seconds else ""))
    print(f"saved the LIF model to {path}")

    if not args.no_convert:
        from keras_spiking.converters import convert_and_report

        print("\n== Converting the LIF network to spiking LIF neurons")
        report = convert_and_report(
            lif_model,
            (x_train, y_train),
            (x_test, y_test),
            test_size=1000 if args.quick else None,
        )
        print("\n== Deploying the spiking network")
        deploy(lif_model, report, x_train[:1000], args.out)
    return lif_model, data


#: What NIR's LIF cannot say about a converted LIF neuron, accepted by name for
#: the main job's NIR file (``export_nir(approximate=...)``): Nengo's refractory
#: period and its voltage floor at 0.
NIR_APPROXIMATIONS = ("refractory", "voltage_floor")


def deploy(model, report, calibration, out, profile="loihi2"):
    """The main job's last step: write ``snn_accuracy.png`` (accuracy against T,
    the ANN as a line; needs matplotlib), ``lif_snn.nir`` (``nir_file``) and
    print ``check(snn, profile)``. ``report``: what ``convert_and_report``
    returned. Returns the paths written ({"plot": ..., "nir": ...}, None where
    not written, with the reason printed)."""
    from keras_spiking.converters import plot_evaluation
    from keras_spiking.hardware import check, format_violations

    written = {"plot": None, "nir": None}
    path = os.path.join(out, "snn_accuracy.png")
    try:
        plot_evaluation(report["evaluation"], path=path,
                        ann_accuracy=report["ann_accuracy"])
        written["plot"] = path
        print(f"wrote the SNN's accuracy against T to {path}")
    except ImportError:
        print("accuracy plot not written: it needs matplotlib "
              "(pip install 'keras_spiking[plot]')")
    path = os.path.join(out, "lif_snn.nir")
    written["nir"] = nir_file(model, calibration, path)
    print(f"\n{format_violations(check(report['snn'], profile), profile)}")
    return written


def nir_file(model, calibration, path):
    """Export ``model`` converted to spikes as NIR (``path``); returns ``path``,
    or None with the reason printed (e.g. the ``nir`` package is missing).

    NIR neurons start at 0 V, so this conversion uses ``initial_voltage="zeros"``
    and otherwise the defaults; the graph approximates only
    ``NIR_APPROXIMATIONS``. When the exporter cannot take the whole model (an
    exporter without static-input support, or ``Rescaling``'s offset, which
    does not fold into a 'same'-padded convolution), the graph starts after the
    leading ``Rescaling``: its input is then the standardised image
    ``(x / 255 - PIXEL_MEAN) / PIXEL_STD``, computed on the host.
    """
    from keras_spiking.converters import ConversionError, convert, export_nir

    options = dict(calibration_data=calibration, initial_voltage="zeros")
    try:
        try:
            snn = convert(model, timesteps=32, static_input=True, **options)
            export_nir(snn, path, approximate=NIR_APPROXIMATIONS)
            note = "images in, held for the T steps"
        except ConversionError:
            snn = convert(model, **options)
            first = snn.layers[1]  # after the InputLayer (maybe in a TimeFold)
            if not isinstance(getattr(first, "layer", first), keras.layers.Rescaling):
                raise
            body = keras.Model(first.output, snn.outputs[0], name=f"{snn.name}_body")
            export_nir(body, path, approximate=NIR_APPROXIMATIONS)
            note = ("standardised images (x / 255 - PIXEL_MEAN) / PIXEL_STD in, one per "
                    "step; the Rescaling runs on the host")
    except (ConversionError, ImportError, ValueError) as error:
        print(f"NIR file not written: {str(error).strip().splitlines()[0]}")
        return None
    print(f"wrote the SNN as NIR to {path} ({note}; approximations: "
          f"{', '.join(NIR_APPROXIMATIONS)})")
    return path


def save_model(model, path):
    """Save atomically: write a temporary file, then rename it into place."""
    tmp = path + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
