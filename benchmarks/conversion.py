"""Benchmark: convert the main-job CNN to spikes; accuracy and speed per T.

Run (from the repository root, after the main job saved its model):

    nice -n 10 python benchmarks/conversion.py --model runs/fashion_mnist/lif_cnn.keras

or train the model here first (``--epochs 3``, ``--train-size N``; no ``--model``;
quick check: ``--epochs 1 --train-size 2000 --test-size 200 --timing-size 100``).
Prints, measured in this run on Fashion-MNIST (normalisation from 1000 training
images, no hand-tuned scale, binary spikes):

* ANN accuracy; SNN accuracy at T = 4 ... 128 (last-step and mean readouts);
* mean spikes per neuron per step;
* SNN images/s at each T and the ratio to T x (ANN forward time per image);
* the gain of computing the time-invariant first layers once (static input)
  over feeding the input tiled over time, at T = 32;
* with ``--synapses``, the accuracy for other synapse time constants.

The load average is printed at the start and the end. ``--backend
tensorflow|jax|both`` runs it on that Keras backend (in a child process).
Options: --test-size N (default all 10 000), --timing-size N (default 500),
--long STEPS (also run 10 images for STEPS steps in chunks of 100 with a
stateful model and print the time and peak memory; e.g. --long 10000).
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import convert, convert_and_report  # noqa: E402
from keras_spiking.converters.evaluate import evaluate_timesteps  # noqa: E402


def hoisting_gain(model, calibration, x, T=32, batch_size=100):
    """Images/s with the first layers computed once vs the input tiled over T,
    timed interleaved (best of ``common.ROUNDS`` each)."""
    static = convert(model, calibration_data=calibration, timesteps=T,
                     static_input=True)
    tiled = convert(model, calibration_data=calibration, timesteps=T)
    tiled_call = common.compiled_forward(tiled)

    def tiled_fn(b):
        return tiled_call(np.repeat(b[:, None], T, axis=1))

    best = common.interleave({
        "static": common.Batched(common.compiled_forward(static), x, batch_size),
        "tiled": common.Batched(tiled_fn, x, batch_size),
    }, work=len(x))
    return best["static"].rate, best["tiled"].rate


def main(argv=None):
    """Parse the arguments and run the measurements between two load readings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained .keras model (default: train one)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-size", type=int, default=None,
                        help="train on the first N training images (default all)")
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--timing-size", type=int, default=500)
    parser.add_argument("--long", type=int, default=0,
                        help="steps of a chunked stateful run (multiple of 100)")
    parser.add_argument("--synapses", type=float, nargs="*", default=[],
                        help="extra synapse time constants (s) to compare")
    common.add_backend_argument(parser)
    args = parser.parse_args(argv)
    if common.rerun_per_backend(args.backend, argv):
        return
    with common.watch_load():
        run(args)


def run(args):
    """The measurements of ``main``, in order."""
    train, test = common.fashion_mnist()
    model, origin = common.main_job_model(
        args.model, (common.subset(train, args.train_size), test), epochs=args.epochs,
        finetune_epochs=1)
    print(f"model: {origin}")

    with common.Clock() as clock:
        result = convert_and_report(model, train, test, test_size=args.test_size,
                                    timing_size=args.timing_size, verbose=1)
    print(f"(report took {clock.wall:.0f} s)")

    x_time = np.asarray(test[0][:args.timing_size], "float32")
    fast, slow = hoisting_gain(model, train[0][:1000], x_time)
    print(f"\nT = 32: first layers computed once {fast:.1f} images/s, input tiled "
          f"over time {slow:.1f} images/s: {fast / slow:.2f}x")

    if args.long:
        from keras_spiking.converters import run_chunked

        x_long, y_long = test[0][:10], test[1][:10]
        stateful = convert(model, calibration_data=train[0][:1000], timesteps=100,
                           static_input=True, stateful=True, batch_size=10)
        for steps in (1000, args.long):
            with common.Clock() as clock:
                last, mean = run_chunked(stateful, x_long, steps)
            rss = common.peak_rss() / 2**20
            print(f"chunked run, {steps} steps x 10 images: "
                  f"{clock.wall:.1f} s, peak RSS so far {rss:.0f} MiB, "
                  f"accuracy (mean readout) {np.mean(np.argmax(mean, -1) == y_long):.0%}")

    x_test, y_test = common.subset(test, args.test_size)
    for tau in args.synapses:
        snn = convert(model, calibration_data=train[0][:1000], synapse=tau or None,
                      timesteps=128, static_input=True)
        ev = evaluate_timesteps(snn, (x_test, y_test), verbose=0)
        print(f"\nsynapse {tau} s (ANN {result['ann_accuracy']:.2%})\n{ev.table()}")

if __name__ == "__main__":
    main()
