"""``convert_and_report``: convert a trained classifier and print how it does.

One call for the main job and the benchmark: normalise from training images,
check the conversion in rate mode, evaluate the spiking model over timesteps
(one run of the longest T), measure firing rates and throughput next to the
ANN's in the same run, and print the table.
"""

import time

import keras
import numpy as np

from .convert import convert, verify
from .evaluate import (
    MEAN_FRACTION,
    compiled_forward,
    evaluate_timesteps,
    firing_rates,
    mean_firing_rate,
)

TIMESTEPS = (4, 8, 16, 32, 64, 128)


def seconds_per_image(fn, x, batch_size, repeats=2):
    """Best wall time per image of ``fn`` over ``x`` in batches (after a warm-up)."""
    batches = [np.asarray(x[i:i + batch_size], "float32")
               for i in range(0, len(x), batch_size)]
    keras.ops.convert_to_numpy(fn(batches[0]))
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for b in batches:
            keras.ops.convert_to_numpy(fn(b))
        best = min(best, time.perf_counter() - start)
    return best / len(x)


def side_by_side(ann_fn, snn_fn, x, batch_size, rounds=3):
    """Seconds per image of the ANN and the SNN, measured alternately (best of
    ``rounds`` each) so that a shared, loaded machine affects both alike."""
    ann, snn = np.inf, np.inf
    for _ in range(rounds):
        ann = min(ann, seconds_per_image(ann_fn, x, batch_size, repeats=1))
        snn = min(snn, seconds_per_image(snn_fn, x, batch_size, repeats=1))
    return ann, snn


def convert_and_report(model, train_data, test_data, *, timesteps=TIMESTEPS,
                       calibration_size=1000, synapse=0.005, test_size=None,
                       timing_size=500, rate_size=200, batch_size=100,
                       mean_fraction=MEAN_FRACTION, verbose=1, **options):
    """Convert ``model`` and print ANN vs SNN accuracy, firing rate and speed.

    Args:
        model: a trained Keras classifier (logits or probabilities out).
        train_data: ``(x, y)``; the first ``calibration_size`` images
            normalise the firing rates.
        test_data: ``(x, y)``; the first ``test_size`` (default all) are used.
        timesteps: the T of the table; the longest is simulated once.
        synapse: lowpass time constant (s) after every spiking layer.
        timing_size: images timed for images/s (at every T, and the ANN).
        rate_size: images used for the mean firing rate (at the longest T).
        **options: more ``convert`` options (dt, percentile, ...).

    Returns a dict with every figure of the table.
    """
    x_train = np.asarray(train_data[0])[:calibration_size]
    x_test, y_test = (np.asarray(a) for a in test_data)
    if test_size is not None:
        x_test, y_test = x_test[:test_size], y_test[:test_size]
    y_test = y_test.reshape(-1)
    timesteps = sorted(timesteps)
    T_max = timesteps[-1]
    options = dict(options, calibration_data=x_train, synapse=synapse)

    verify_error = verify(model, x_test[:200], atol=1e-4, **options)
    ann_logits = model.predict(x_test, batch_size=500, verbose=0)
    ann_accuracy = float(np.mean(np.argmax(ann_logits, -1) == y_test))

    snn = convert(model, timesteps=T_max, static_input=True, **options)
    if verbose:
        print(f"simulating {len(x_test)} test images for {T_max} steps")
    evaluation = evaluate_timesteps(snn, (x_test, y_test), timesteps,
                                    mean_fraction=mean_fraction,
                                    batch_size=batch_size, verbose=verbose)
    rates = firing_rates(snn, x_test[:rate_size], T_max, batch_size=batch_size // 2)
    mean_rate = mean_firing_rate(rates)

    timing = x_test[:timing_size]
    ann_call = compiled_forward(model)
    speed, ann_times = {}, []
    for T in timesteps:
        snn_T = snn if T == T_max else convert(model, timesteps=T, static_input=True,
                                               **options)
        ann_seconds, seconds = side_by_side(ann_call, compiled_forward(snn_T), timing,
                                            batch_size)
        ann_times.append(ann_seconds)
        speed[T] = (1.0 / seconds, seconds / (T * ann_seconds))
    ann_seconds = min(ann_times)

    result = dict(ann_accuracy=ann_accuracy, verify_error=verify_error,
                  last=evaluation.last, mean=evaluation.mean,
                  mean_spikes_per_neuron_step=mean_rate,
                  layer_spikes_per_neuron_step={k: float(v.mean())
                                                for k, v in rates.items()},
                  ann_images_per_second=1.0 / ann_seconds, snn_speed=speed,
                  evaluation=evaluation, snn=snn)
    print(format_report(result, len(x_test), synapse, options.get("dt", 0.001)))
    return result


def format_report(result, n_test, synapse, dt):
    lines = [
        f"\nConverted SNN on {n_test} test images (binary spikes, dt = {dt * 1e3:g} ms, "
        f"synapse = {synapse} s, normalised from training images)",
        f"ANN accuracy {result['ann_accuracy']:.2%}   ANN {result['ann_images_per_second']:.0f}"
        f" images/s   rate-mode verify max error {result['verify_error']:.1e}",
        f"{'T':>5}{'SNN last':>10}{'(vs ANN)':>10}{'SNN mean':>10}{'(vs ANN)':>10}"
        f"{'images/s':>10}{'/ (T x ANN time)':>18}",
    ]
    for T in result["last"]:
        ips, ratio = result["snn_speed"][T]
        ann = result["ann_accuracy"]
        last, mean = result["last"][T], result["mean"][T]
        lines.append(
            f"{T:>5}{last:>10.2%}{(last - ann) * 100:>+9.2f}p{mean:>10.2%}"
            f"{(mean - ann) * 100:>+9.2f}p{ips:>10.1f}{ratio:>18.2f}")
    lines.append(f"last: output at step T; mean: mean output over the last "
                 f"{result['evaluation'].mean_fraction:g} x T steps; p = percentage points")
    lines.append(f"mean firing: {result['mean_spikes_per_neuron_step']:.3f} spikes per "
                 "neuron per step (" + ", ".join(
                     f"{k} {v:.3f}" for k, v in
                     result["layer_spikes_per_neuron_step"].items()) + ")")
    return "\n".join(lines)
