"""Benchmark: estimated energy per image of the main-job CNN, ANN on CPU/GPU vs SNN on Loihi.

Run (from the repository root, after the main job saved its model):

    nice -n 10 python benchmarks/energy.py --model runs/fashion_mnist/lif_cnn.keras

or without ``--model`` to train a small stand-in here (the main job's network,
``common.main_job_model``, for ``--epochs`` epochs on ``--train-size`` images;
about a minute; quick check: ``--train-size 2000 --images 20 --timesteps 8``). Converts the
model (normalisation from 1000 training images, static input), measures each
layer's input activity on ``--images`` test images with ``ModelEnergy`` and
prints, per number of timesteps T: the SNN's accuracy on those images, its
synaptic events per step (and those of the layers on the static input, run
once per image) and neuron updates per step, its estimated energy per image
on Loihi, and the ANN's estimated energy per image on CPU and GPU (one pass,
every MAC), with the ratios. Then the per-layer table at ``--summary-T``.

These are estimates from published per-operation energies (see
``keras_spiking.energy``), computation only: data movement is not included.
The load average is printed at the start and the end.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import convert  # noqa: E402
from keras_spiking.energy import ModelEnergy  # noqa: E402


def main(argv=None):
    """Estimate the energy per image at every T; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained .keras model (default: train one)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--summary-T", type=int, default=32)
    args = parser.parse_args(argv)
    with common.watch_load():
        estimate(args)


def estimate(args):
    """The estimates of ``main``."""
    (x_train, y_train), (x_test, y_test) = common.fashion_mnist()
    model, origin = common.main_job_model(
        args.model, ((x_train[:args.train_size], y_train[:args.train_size]),
                     (x_test, y_test)), epochs=args.epochs)
    x, y = np.asarray(x_test[:args.images], "float32"), y_test[:args.images]
    ann_acc = np.mean(np.argmax(model.predict(x, verbose=0), -1) == y)
    ann = ModelEnergy(model)
    cpu, gpu = ann.total_energy("cpu"), ann.total_energy("gpu")
    print(f"model: {origin}; {args.images} test images")
    print(f"ANN: {ann.macs:,} MACs + {ann.neurons:,} neuron updates per image, "
          f"accuracy {ann_acc:.2%}; cpu {cpu:.3g} J, gpu {gpu:.3g} J per image")
    print(f"\n{'T':>4} | {'SNN acc':>7} | {'synops/step':>12} | {'+ once':>9} | "
          f"{'neurons/step':>12} | {'loihi J/img':>11} | {'cpu/loihi':>9} | {'gpu/loihi':>9}")
    calibration = x_train[:1000]
    for T in args.timesteps:
        snn = convert(model, calibration_data=calibration, timesteps=T, static_input=True)
        last = np.concatenate([keras.ops.convert_to_numpy(snn(x[i:i + 50])[:, -1])
                               for i in range(0, len(x), 50)])
        acc = np.mean(np.argmax(last, -1) == y)
        energy = ModelEnergy(snn, x)
        loihi = energy.total_energy("loihi", timesteps=T)
        step, once = energy.synops, energy.totals(once=True)[1]
        print(f"{T:>4} | {acc:>7.2%} | {step:>12,.0f} | {once:>9,.0f} | "
              f"{energy.neurons:>12,} | {loihi:>11.3g} | {cpu / loihi:>9.0f} | "
              f"{gpu / loihi:>9.1f}")
        if T == args.summary_T:
            summary = energy
    if args.summary_T in args.timesteps:
        print(f"\nper layer, T = {args.summary_T}:")
        summary.summary(devices=("cpu", "gpu", "loihi"), timesteps=args.summary_T)


if __name__ == "__main__":
    main()
