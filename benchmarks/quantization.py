"""Benchmark: accuracy of the main-job network with integer weights, ANN and SNN.

    nice -n 10 python benchmarks/quantization.py --model runs/fashion_mnist/lif_cnn.keras
    nice -n 10 python benchmarks/quantization.py --model runs/fashion_mnist/lif_cnn.keras \
        --goals --test-size 10000

``--goals`` prints the deployment goals instead (issue 11): the main-job SNN
(``convert(..., timesteps=32, static_input=True)``, 1000 calibration images,
read at the last step) before and after ``keras_spiking.hardware.quantize`` for
``loihi2`` (goal: loses <= 0.3 pp at T = 32) and ``generic-int8`` (<= 0.1 pp),
one row each with the accuracies, the loss in pp and whether the goal is met;
then ``check`` of that SNN against ``xylo-audio2`` and ``speck`` (goal: too
large, by how much per layer) and of a small Dense network that fits them.

Rounds every kernel to ``bits``-bit signed integers times a scale per layer
or per output channel (``keras_spiking.converters.quantize_weights``), then
prints the ANN's test accuracy and the converted SNN's at T steps (binary
spikes, normalisation from 1000 training images, mean readout) for 16, 8, 6, 4
and 3 bits next to the float weights. Options: --test-size (default 2000),
--timesteps (default 32). The load average is printed at the start and the end.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import convert, evaluate_timesteps, quantize_weights  # noqa: E402


def main(argv=None):
    """Print ANN and SNN accuracy for float and quantised weights."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a trained .keras classifier")
    parser.add_argument("--test-size", type=int, default=2000)
    parser.add_argument("--timesteps", type=int, default=32)
    parser.add_argument("--goals", action="store_true",
                        help="the issue's quantisation and check goals instead")
    args = parser.parse_args(argv)
    with common.watch_load():
        (goals if args.goals else compare)(args)


#: issue 11: largest accuracy loss (pp) of the main-job SNN quantised per profile
GOALS = {"loihi2": 0.3, "generic-int8": 0.1}


def goals(args):
    """The goal rows of ``--goals`` (module docstring)."""
    import keras

    from keras_spiking import layers
    from keras_spiking.hardware import check, format_violations, quantize

    (x_train, _), (x_test, y_test) = common.fashion_mnist(test_size=args.test_size)
    model, _ = common.main_job_model(args.model)
    T = args.timesteps
    snn = convert(model, calibration_data=x_train[:1000], timesteps=T, static_input=True)
    before = evaluate_timesteps(snn, (x_test, y_test), [T], verbose=0).last[T]
    print(f"{len(y_test)} test images; SNN at T = {T}, last-step readout")
    print(f"{'profile':<14}{'before':>9}{'after':>9}{'loss pp':>9}{'goal pp':>9}{'met':>5}")
    for name, goal in GOALS.items():
        quantized, _ = quantize(snn, name)
        after = evaluate_timesteps(quantized, (x_test, y_test), [T], verbose=0).last[T]
        loss = 100 * (before - after)
        print(f"{name:<14}{before:>9.2%}{after:>9.2%}{loss:>9.2f}{goal:>9.1f}"
              f"{'yes' if loss <= goal + 1e-9 else 'no':>5}", flush=True)
    small = keras.Sequential([keras.Input((T, 16)), keras.layers.Dense(60, use_bias=False),
                              layers.IF(), keras.layers.Dense(8, use_bias=False),
                              layers.IF()], name="small_dense")
    for net in (snn, small):
        for name in ("xylo-audio2", "speck"):
            found = check(net, name)
            print(f"\ncheck {net.name} for {name}: {'fits' if not found else 'too large'}")
            print(format_violations(found, name))


def compare(args):
    """The table of ``main``."""
    (x_train, _), (x_test, y_test) = common.fashion_mnist(test_size=args.test_size)
    model, _ = common.main_job_model(args.model)
    T = args.timesteps

    def accuracies(net):
        """(ANN accuracy, SNN accuracy at T) of ``net``."""
        ann = np.mean(np.argmax(net.predict(x_test, batch_size=500, verbose=0), -1) == y_test)
        snn = convert(net, calibration_data=x_train[:1000], timesteps=T, static_input=True)
        return ann, evaluate_timesteps(snn, (x_test, y_test), [T], verbose=0).mean[T]

    print(f"{len(y_test)} test images; SNN at T = {T} (mean readout)")
    print(f"{'weights':<24}{'ANN':>9}{'SNN':>9}")
    ann, snn = accuracies(model)
    print(f"{'float32':<24}{ann:>9.2%}{snn:>9.2%}", flush=True)
    for bits in (16, 8, 6, 4, 3):
        for per_channel in (False, True):
            net, _ = quantize_weights(model, bits, per_channel=per_channel)
            ann, snn = accuracies(net)
            label = f"{bits} bits, per {'channel' if per_channel else 'layer'}"
            print(f"{label:<24}{ann:>9.2%}{snn:>9.2%}", flush=True)


if __name__ == "__main__":
    main()
