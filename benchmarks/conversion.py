"""Benchmark: convert the main-job CNN to spikes; accuracy and speed per T.

Run (from the repository root, after the main job saved its model):

    nice -n 10 python benchmarks/conversion.py --model runs/fashion_mnist/lif_cnn.keras

or train the model here first (``--epochs 3``; no ``--model``). Prints, measured
in this run on Fashion-MNIST (normalisation from 1000 training images, no
hand-tuned scale, binary spikes):

* ANN accuracy; SNN accuracy at T = 4 ... 128 (last-step and mean readouts);
* mean spikes per neuron per step;
* SNN images/s at each T and the ratio to T x (ANN forward time per image);
* the gain of computing the time-invariant first layers once (static input)
  over feeding the input tiled over time, at T = 32;
* with ``--synapses``, the accuracy for other synapse time constants.

Options: --test-size N (default all 10 000), --timing-size N (default 500),
--long STEPS (also run 10 images for STEPS steps in chunks of 100 with a
stateful model and print the time and peak memory; e.g. --long 10000).
"""

import argparse
import os
import resource
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.converters import convert, convert_and_report  # noqa: E402
from keras_spiking.converters.evaluate import _compiled, evaluate_timesteps  # noqa: E402
from keras_spiking.converters.report import seconds_per_image  # noqa: E402


def hoisting_gain(model, calibration, x, T=32, batch_size=100):
    """Images/s with the first layers computed once vs the input tiled over T."""
    static = convert(model, calibration_data=calibration, timesteps=T,
                     static_input=True)
    tiled = convert(model, calibration_data=calibration, timesteps=T)
    tiled_call = _compiled(tiled)

    def tiled_fn(b):
        return tiled_call(np.repeat(b[:, None], T, axis=1))

    t_static = seconds_per_image(_compiled(static), x, batch_size)
    t_tiled = seconds_per_image(tiled_fn, x, batch_size)
    return 1 / t_static, 1 / t_tiled


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a trained .keras model (default: train one)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--timing-size", type=int, default=500)
    parser.add_argument("--long", type=int, default=0,
                        help="steps of a chunked stateful run (multiple of 100)")
    parser.add_argument("--synapses", type=float, nargs="*", default=[],
                        help="extra synapse time constants (s) to compare")
    args = parser.parse_args(argv)

    train, test = keras_spiking.datasets.load_fashion_mnist(as_numpy=True)
    if args.model:
        model = keras.models.load_model(args.model)
    else:
        from keras_spiking.demo import train as train_model

        model, *_ = train_model("soft_lif", (train, test), args.epochs, 64,
                                finetune_epochs=1, verbose=2)

    start = time.perf_counter()
    result = convert_and_report(model, train, test, test_size=args.test_size,
                                timing_size=args.timing_size, verbose=1)
    print(f"(report took {time.perf_counter() - start:.0f} s)")

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
            start = time.perf_counter()
            last, mean = run_chunked(stateful, x_long, steps)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"chunked run, {steps} steps x 10 images: "
                  f"{time.perf_counter() - start:.1f} s, peak RSS so far {rss:.0f} MiB, "
                  f"accuracy (mean readout) {np.mean(np.argmax(mean, -1) == y_long):.0%}")

    x_test, y_test = test
    if args.test_size:
        x_test, y_test = x_test[:args.test_size], y_test[:args.test_size]
    for tau in args.synapses:
        snn = convert(model, calibration_data=train[0][:1000], synapse=tau or None,
                      timesteps=128, static_input=True)
        ev = evaluate_timesteps(snn, (x_test, y_test), verbose=0)
        print(f"\nsynapse {tau} s (ANN {result['ann_accuracy']:.2%})\n{ev.table()}")


if __name__ == "__main__":
    main()
