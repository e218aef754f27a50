"""KerasSpiking's classic workflow on Keras 3, then this package's way, side by side.

KerasSpiking's documentation teaches spiking networks with one small network
on Fashion-MNIST (Flatten > Dense 128 ReLU > Dense 10): train it as an ANN,
repeat each image over T timesteps and swap the ReLU for
``SpikingActivation``, then improve the spiking network step by step. This
script runs those steps with ``keras`` where KerasSpiking used ``tf.keras``:

1. the non-spiking baseline;
2. ``SpikingActivation("relu", dt=0.01)`` with the ANN's weights, no
   spiking-aware training (the spike counts average over the T steps);
3. spiking-aware training (spikes forward, ReLU's gradient backward);
4. a ``Lowpass`` synapse (a trained time constant per unit, starting at
   0.01 s) instead of averaging, reading out the last step;
5. a firing-rate regulariser (``regularizers.FiringRate``) and a
   ``callbacks.DtScheduler`` that trains at a longer step first (0.04 s,
   halved each epoch down to 0.01 s);

then this package's recipe on the same network: LIF rates (``SoftLIF``),
fine-tuned on the exact rates (``with_exact_rates``: ``LIFRate(gradient_sigma=
...)``), converted by ``keras_spiking.converters.convert`` to binary spikes
(at most one per neuron per step, firing rates normalised from data). One
table compares accuracy at T = 10 / 20 / 50 steps and the energy per
inference that ``ModelEnergy`` estimates (Loihi for the spiking networks, a
CPU for the ANN). Every spiking network here is trained at T = 10.

    python examples/spiking_fashion_mnist.py                  # ANN 10 epochs, 2 per spiking model
    python examples/spiking_fashion_mnist.py --epochs 3 --spiking-epochs 1
    python examples/spiking_fashion_mnist.py --quick          # a smoke run on 2 000 images

Offline, the Debian package dataset-fashion-mnist provides the data
(``keras_spiking.datasets.load_fashion_mnist``).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.converters import convert, evaluate_timesteps  # noqa: E402

#: Step of KerasSpiking's spiking models, seconds.
DT = 0.01
#: Steps each image is repeated for while training the spiking models.
TRAIN_STEPS = 10
#: Steps at which the networks are evaluated.
TIMESTEPS = (10, 20, 50)
#: Initial time constant of the Lowpass readout, seconds (trained per unit).
TAU = 0.01


def load_data(train_size=None, test_size=None):
    """Fashion-MNIST as float32 images in [0, 1], shaped (n, 28, 28), and labels;
    the first ``train_size`` / ``test_size`` samples (all when None)."""
    train, test = keras_spiking.datasets.load_fashion_mnist(as_numpy=True)

    def prepare(data, size):
        x, y = data
        x, y = x[:size], y[:size]
        return (x.reshape(len(x), 28, 28) / np.float32(255)).astype("float32"), y

    return prepare(train, train_size), prepare(test, test_size)


def repeat_time(x, steps):
    """Repeat static images ``(n, ...)`` over ``steps`` steps: ``(n, steps, ...)``."""
    return np.repeat(x[:, None], steps, axis=1)


def build_ann(activation="relu", name="ann"):
    """The network of KerasSpiking's example: Flatten > Dense 128 > Dense 10 (logits).

    ``activation`` is a Keras activation name or a layer (e.g. ``SoftLIF()``)."""
    hidden = (keras.layers.Activation(activation) if isinstance(activation, str)
              else activation)
    return keras.Sequential([
        keras.Input((28, 28)),
        keras.layers.Flatten(),
        keras.layers.Dense(128, name="hidden"),
        hidden,
        keras.layers.Dense(10, name="output"),
    ], name=name)


def build_spiking(dt=DT, spiking_aware_training=True, tau=None, rate_regularizer=None,
                  name="spiking"):
    """The same network over time: ``(batch, steps, 28, 28)`` -> logits ``(batch, 10)``.

    ``SpikingActivation("relu")`` replaces the ReLU; ``tau=None`` averages its
    spikes over all steps before the output layer, a number puts a ``Lowpass``
    there (that initial tau and an initial level, both trained per unit, as
    KerasSpiking's ``Lowpass`` does) and reads out the last step.
    ``dt`` may be a number or a ``keras.Variable`` (for ``DtScheduler``).
    """
    inputs = keras.Input((None, 28, 28))
    x = keras.layers.Reshape((-1, 28 * 28))(inputs)
    x = keras.layers.Dense(128, name="hidden")(x)
    x = keras_spiking.SpikingActivation(
        "relu", dt=dt, spiking_aware_training=spiking_aware_training,
        activity_regularizer=rate_regularizer, name="spikes")(x)
    if tau is None:
        x = keras.layers.GlobalAveragePooling1D()(x)
    else:
        x = keras_spiking.Lowpass(tau_initializer=tau, dt=dt, level_initializer="zeros",
                                  return_sequences=False, name="lowpass")(x)
    outputs = keras.layers.Dense(10, name="output")(x)
    return keras.Model(inputs, outputs, name=name)


def compile_model(model, learning_rate=1e-3):
    """Adam and cross-entropy on logits, as in KerasSpiking's example."""
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def copy_dense_weights(source, target):
    """Give ``target`` the weights of ``source``'s hidden and output layers."""
    for name in ("hidden", "output"):
        target.get_layer(name).set_weights(source.get_layer(name).get_weights())


def accuracy_over_time(model, data, timesteps=TIMESTEPS, batch_size=256):
    """Test accuracy of a spiking model with the images repeated over each T: {T: acc}."""
    x, y = data
    result = {}
    for steps in timesteps:
        logits = np.concatenate([
            keras.ops.convert_to_numpy(model(repeat_time(x[i:i + batch_size], steps),
                                             training=False))
            for i in range(0, len(x), batch_size)])
        result[steps] = float(np.mean(np.argmax(logits, -1) == y))
    return result


def train_spiking(model, data, epochs, batch_size=32, callbacks=(), verbose=1):
    """Fit a spiking model on the training images repeated over ``TRAIN_STEPS``."""
    (x, y), _ = data
    compile_model(model)
    if epochs:
        model.fit(repeat_time(x, TRAIN_STEPS), y, epochs=epochs, batch_size=batch_size,
                  callbacks=list(callbacks), verbose=verbose)
    return model


def kerasspiking_recipe(data, epochs, initial_weights=None, verbose=1):
    """KerasSpiking's spiking-aware model (``benchmarks/spiking_activation.py``
    runs the same on both sides): dt 0.01, a ``Lowpass`` readout starting at
    0.01 s, ``epochs`` of spiking-aware training at T = 10."""
    keras.utils.set_random_seed(0)
    model = build_spiking(tau=TAU, name="kerasspiking_recipe")
    if initial_weights is not None:
        model.set_weights(initial_weights)
    return train_spiking(model, data, epochs, verbose=verbose)


def our_recipe(data, epochs, finetune_epochs=1, calibration=1000, batch_size=16, verbose=1):
    """This package's way: train with LIF rates, then convert to binary spikes.

    ``SoftLIF`` (a smooth LIF rate) for ``epochs`` in batches of 16 (KerasSpiking's
    recipe uses 32; 16 gave 0.4-0.7 points more at T = 10 / 20 / 50 here); then
    the same weights with exact LIF rates (``LIFRate(gradient_sigma=0.05)``: exact forward, SoftLIF's
    derivative backward), fine-tuned ``finetune_epochs`` at lr 1e-4; then
    ``convert`` to spiking LIF neurons (binary spikes, dt 1 ms, 5 ms lowpass
    synapses, rates normalised on ``calibration`` training images), taking
    the static image and running up to the largest T. Returns ``(rate model,
    spiking model)``.
    """
    (x, y), _ = data
    keras.utils.set_random_seed(0)
    ann = compile_model(build_ann(keras_spiking.layers.SoftLIF(sigma=0.05), name="soft_lif"))
    ann.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=verbose)
    exact = compile_model(keras_spiking.with_exact_rates(ann, gradient_sigma=0.05), 1e-4)
    if finetune_epochs:
        exact.fit(x, y, epochs=finetune_epochs, batch_size=batch_size, verbose=verbose)
    snn = convert(exact, calibration_data=x[:calibration], timesteps=max(TIMESTEPS),
                  static_input=True)
    return exact, snn


def energy(model, example_data, device, timesteps):
    """Joules per inference on ``device`` over ``timesteps`` steps (``ModelEnergy``)."""
    return keras_spiking.ModelEnergy(model, example_data).total_energy(device, timesteps)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="ANN epochs (KerasSpiking: 10)")
    parser.add_argument("--spiking-epochs", type=int, default=2,
                        help="epochs of each spiking model, and of our SoftLIF network")
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--energy-images", type=int, default=200,
                        help="test images on which ModelEnergy measures activity")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 000 / 500 images, one epoch each")
    parser.add_argument("--verbose", type=int, default=2)
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = args.spiking_epochs = 1
        args.train_size = args.train_size or 2000
        args.test_size = args.test_size or 500
        args.energy_images = min(args.energy_images, 50)
    verbose = args.verbose

    data = load_data(args.train_size, args.test_size)
    (x, y), test = data
    probe = test[0][:args.energy_images]
    rows = []  # (name, {T: accuracy}, {T: joules}, device)
    start = time.perf_counter()

    # 1. the non-spiking baseline
    keras.utils.set_random_seed(0)
    ann = compile_model(build_ann())
    ann.fit(x, y, epochs=args.epochs, batch_size=32, verbose=verbose)
    ann_accuracy = float(ann.evaluate(*test, verbose=0)[1])
    rows.append(("ANN (ReLU), KerasSpiking's baseline", dict.fromkeys(TIMESTEPS, ann_accuracy),
                 dict.fromkeys(TIMESTEPS, energy(ann, probe, "cpu", 1)), "cpu"))

    def spiking_row(name, model):
        accuracy = accuracy_over_time(model, test)
        joules = {T: energy(model, repeat_time(probe, T), "loihi", T) for T in TIMESTEPS}
        rows.append((name, accuracy, joules, "loihi"))
        print(f"{name}: " + ", ".join(f"T={T} {a:.2%}" for T, a in accuracy.items()))

    # 2. swap ReLU for spikes, keep the ANN's weights
    plain = compile_model(build_spiking(spiking_aware_training=False, name="no_sat"))
    copy_dense_weights(ann, plain)
    spiking_row("SpikingActivation, ANN weights (no spiking-aware training)", plain)

    # 3. spiking-aware training
    keras.utils.set_random_seed(0)
    aware = train_spiking(build_spiking(name="sat"), data, args.spiking_epochs, verbose=verbose)
    spiking_row("+ spiking-aware training", aware)

    # 4. a trained lowpass synapse instead of averaging (KerasSpiking's recipe)
    lowpass = kerasspiking_recipe(data, args.spiking_epochs, verbose=verbose)
    spiking_row(f"+ Lowpass readout (tau from {TAU} s, trained)", lowpass)
    print("trained tau: mean %.4f s" % float(np.mean(keras.ops.convert_to_numpy(
        lowpass.get_layer("lowpass").tau_variable))))

    # 5. a firing-rate regulariser and a dt schedule (longer steps first); the
    # spikes are worth 1 / dt, so their mean over time is already in Hz (dt=None)
    keras.utils.set_random_seed(0)
    dt = keras.Variable(4 * DT, trainable=False)
    regularized = build_spiking(
        dt=dt, tau=TAU, name="regularized",
        rate_regularizer=keras_spiking.regularizers.FiringRate(
            min_rate=10, max_rate=100, band_weight=1e-4, dt=None))
    train_spiking(regularized, data, args.spiking_epochs, verbose=verbose, callbacks=[
        keras_spiking.callbacks.DtScheduler(dt, lambda epoch, d: max(DT, 4 * DT / 2 ** epoch),
                                            verbose=True)])
    dt.assign(DT)  # evaluate at the target step; ModelEnergy needs a fixed dt: rebuild
    fixed = build_spiking(tau=TAU, name="regularized_fixed_dt")
    fixed.set_weights([w for w in regularized.get_weights() if np.ndim(w) > 0])
    spiking_row("+ FiringRate regulariser, DtScheduler 0.04 -> 0.01 s", fixed)

    # this package: LIF rates, exact-rate fine-tuning, conversion to binary spikes
    rates, snn = our_recipe(data, args.spiking_epochs, verbose=verbose)
    evaluation = evaluate_timesteps(snn, test, TIMESTEPS, verbose=0)
    ours_energy = keras_spiking.ModelEnergy(snn, probe)
    rows.append(("ours: SoftLIF -> exact LIF rates -> convert (binary spikes)",
                 evaluation.last, {T: ours_energy.total_energy("loihi", T) for T in TIMESTEPS},
                 "loihi"))
    print(f"ours, rate model: {rates.evaluate(*test, verbose=0)[1]:.2%}")

    print(f"\nFashion-MNIST, {len(test[0])} test images, {time.perf_counter() - start:.0f} s "
          f"(ANN {args.epochs} epochs, spiking models {args.spiking_epochs}, trained at "
          f"T = {TRAIN_STEPS}; energy on {len(probe)} images)")
    print(table(rows))
    ours_energy.summary(devices=("cpu", "loihi"), timesteps=TIMESTEPS[0])
    return rows


def table(rows):
    """The side-by-side table: accuracy and µJ per inference at each T."""
    ts = " / ".join(str(T) for T in TIMESTEPS)
    width = max(len(r[0]) for r in rows) + 2
    lines = [f"{'model':{width}}{'accuracy at T = ' + ts:>32}   {'µJ per inference':>26}",
             "-" * (width + 62)]
    for name, accuracy, joules, device in rows:
        acc = " / ".join(f"{100 * accuracy[T]:.1f}" for T in TIMESTEPS)
        uj = " / ".join(f"{1e6 * joules[T]:.3g}" for T in TIMESTEPS)
        lines.append(f"{name:{width}}{acc + ' %':>32}   {uj + ' (' + device + ')':>26}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
