"""Benchmark of exact spike-time learning (``keras_spiking.spike_time``).

Measures, in one run:
1. closed-form spike times vs RK4 integration of the neuron ODE (max error,
   tau_ratio 1 and 2);
2. exact gradients vs central finite differences (max relative error, float64);
3. bars 3x3 (9-11-3): first epoch with 100 % validation accuracy, wall time;
4. Yin-Yang (4+bias -> 120 -> 3): test accuracy and wall time;
5. hardware in the loop: the Yin-Yang model on ``SpikeTimeEmulator`` (6-bit weights
   clipped to +-4, 10 % threshold mismatch, 0.02 tau_syn jitter): accuracy of
   plain transfer vs after fine-tuning with the emulator in the loop.

    nice -n 10 python benchmarks/spike_time.py [--yin-yang-epochs 300] [--hil-epochs 30]

The bars and Yin-Yang training are those of ``examples/spike_time_bars.py`` and
``examples/spike_time_yin_yang.py``. The load average is printed at the start and
the end. Quick check: ``--bars-epochs 2 --yin-yang-epochs 1 --hil-epochs 1``.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import common  # noqa: E402
import keras_spiking  # noqa: E402
from keras_spiking import spike_time  # noqa: E402


def closed_form_vs_integration(dt=1e-3):
    """Per tau ratio: (max |closed form - RK4|, spike/no-spike agreement, spikes)."""
    rng = np.random.default_rng(0)
    errors = {}
    for ratio in (1, 2):
        t_in = np.round(rng.uniform(0, 3, (20, 8)) / dt) * dt  # on the grid
        w = rng.normal(0.6 * ratio, 1.2, (8, 50))
        exact = keras.ops.convert_to_numpy(
            spike_time.first_spike_times(t_in, w, tau_ratio=ratio))
        numeric = spike_time.integrate_first_spike_times(
            t_in, w, tau_ratio=ratio, dt=dt, t_end=15.0)
        same = np.isinf(exact) == np.isinf(numeric)
        fin = np.isfinite(exact) & np.isfinite(numeric)
        errors[ratio] = (np.abs(exact[fin] - numeric[fin]).max(), same.mean(), fin.sum())
    return errors


def gradient_vs_finite_differences(h=1e-6):
    """Per tau ratio: the largest relative error of the exact gradients (float64)."""
    rng = np.random.default_rng(1)
    worst = {}
    for ratio in (1, 2):
        t_in = rng.uniform(0, 2, (4, 6))
        w = rng.normal(0.8 * ratio, 1.0, (6, 10))
        tw, tt = tf.Variable(w), tf.Variable(t_in)
        with tf.GradientTape(persistent=True) as tape:
            out = spike_time.spike_times(tt, tw, tau_ratio=ratio)
            total = tf.reduce_sum(tf.where(tf.math.is_finite(out), out, 0.0))
        grads = [tape.gradient(total, tw).numpy(), tape.gradient(total, tt).numpy()]

        forward = tf.function(
            lambda t_, w_, r=ratio: spike_time.first_spike_times(t_, w_, tau_ratio=r))

        def f(t_, w_):
            o = forward(tf.constant(t_), tf.constant(w_)).numpy()
            return np.where(np.isfinite(o), o, 0.0).sum()

        rel = []
        for arr, grad, which in ((w, grads[0], 1), (t_in, grads[1], 0)):
            for idx in np.ndindex(arr.shape):
                plus, minus = arr.copy(), arr.copy()
                plus[idx] += h
                minus[idx] -= h
                args_p = (t_in, plus) if which else (plus, w)
                args_m = (t_in, minus) if which else (minus, w)
                fd = (f(*args_p) - f(*args_m)) / (2 * h)
                rel.append(abs(grad[idx] - fd) / max(abs(fd), 1e-3))
        worst[ratio] = max(rel)
    return worst


def emulator_accuracy(model, x, y, emulator, repeats=3):
    """Mean first-spike accuracy of ``model`` run on ``emulator`` (jitter differs per run)."""
    keras_spiking.use_forward_fn(model, emulator)
    accs = []
    for _ in range(repeats):  # jitter differs per run
        pred = model.predict(x, batch_size=1000, verbose=0)
        accs.append(float(np.mean(keras.ops.convert_to_numpy(
            spike_time.first_spike_class(pred)) == y)))
    return float(np.mean(accs))


def main():
    """Run the five measurements in order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars-epochs", type=int, default=400)
    parser.add_argument("--yin-yang-epochs", type=int, default=300)
    parser.add_argument("--hil-epochs", type=int, default=30)
    args = parser.parse_args()
    with common.watch_load():
        measure(args)


def measure(args):
    """The measurements of ``main``."""
    spike_time_bars = common.load_example("spike_time_bars")
    spike_time_yin_yang = common.load_example("spike_time_yin_yang")
    errors = closed_form_vs_integration()
    for ratio, (err, agree, n) in errors.items():
        print(f"[closed form vs RK4, dt=1e-3] tau_mem = {ratio} tau_syn: max |dt*| = "
              f"{err:.2e} tau_syn over {n} spikes; spike/no-spike agree {agree:.1%}")
    worst = gradient_vs_finite_differences()
    for ratio, rel in worst.items():
        print(f"[gradient vs finite differences, float64] tau_mem = {ratio} tau_syn: "
              f"max relative error {rel:.2e}")

    for ratio in (1, 2):
        _, history, epoch, seconds = spike_time_bars.train(
            args.bars_epochs, seed=0, stop_at_perfect=True, tau_ratio=ratio)
        print(f"[bars 9-11-3, tau_mem = {ratio} tau_syn] first epoch with 100 % "
              f"validation accuracy: {epoch} (reference: epoch 150 of 400); "
              f"wall time {seconds:.1f} s")

    model, _, test_acc, seconds = spike_time_yin_yang.train(
        args.yin_yang_epochs, seed=0, verbose=0)
    print(f"[Yin-Yang 4+1-120-3] test accuracy {test_acc:.2%} after "
          f"{args.yin_yang_epochs} epochs (paper: ~95.9 %); wall time {seconds:.0f} s "
          f"({args.yin_yang_epochs * 5000 / seconds:.0f} training samples/s incl. "
          f"validation)")

    x_train, y_train = spike_time_yin_yang.load(5000, 42)
    x_test, y_test = spike_time_yin_yang.load(1000, 40)
    emulator = keras_spiking.SpikeTimeEmulator(
        weight_bits=6, weight_max=4.0, threshold_mismatch=0.1, time_jitter=0.02, seed=1)
    transfer = emulator_accuracy(model, x_test, y_test, emulator)
    with common.Clock() as clock:
        model.compile(optimizer=keras.optimizers.Adam(0.001),
                      loss=keras_spiking.SpikeTimeCrossEntropy(),
                      metrics=[keras_spiking.FirstSpikeAccuracy(name="acc")])
        model.fit(x_train, y_train, batch_size=150, epochs=args.hil_epochs, verbose=0,
                  callbacks=[keras_spiking.WeightBumping()])
    seconds = clock.wall
    in_loop = emulator_accuracy(model, x_test, y_test, emulator)
    print(f"[hardware in the loop, emulator] software {test_acc:.2%} -> plain transfer "
          f"{transfer:.2%} -> after {args.hil_epochs} epochs in the loop {in_loop:.2%} "
          f"({seconds:.0f} s)")


if __name__ == "__main__":
    main()
