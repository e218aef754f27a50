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


def _cut(x, start, stop):
    """Samples ``start:stop`` of one array or of a list of arrays (several inputs)."""
    if isinstance(x, (list, tuple)):
        return [np.asarray(a[start:stop]) for a in x]
    return np.asarray(x[start:stop])


def _count(x):
    return len(x[0]) if isinstance(x, (list, tuple)) else len(x)


def seconds_per_image(fn, x, batch_size, repeats=2):
    """Best wall time per image of ``fn`` over ``x`` in batches (after a warm-up);
    ``x`` an array or a list of arrays (several inputs)."""
    batches = [_cut(x, i, i + batch_size) for i in range(0, _count(x), batch_size)]
    batches = [[np.asarray(a, "float32") for a in b] if isinstance(b, list)
               else np.asarray(b, "float32") for b in batches]
    def run(batch):
        for y in keras.tree.flatten(fn(batch)):
            keras.ops.convert_to_numpy(y)

    run(batches[0])
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        for b in batches:
            run(b)
        best = min(best, time.perf_counter() - start)
    return best / _count(x)


def side_by_side(ann_fn, snn_fn, x, batch_size, rounds=3):
    """Seconds per image of the ANN and the SNN, measured alternately (best of
    ``rounds`` each) so that a shared, loaded machine affects both alike."""
    ann, snn = np.inf, np.inf
    for _ in range(rounds):
        ann = min(ann, seconds_per_image(ann_fn, x, batch_size, repeats=1))
        snn = min(snn, seconds_per_image(snn_fn, x, batch_size, repeats=1))
    return ann, snn


def convert_and_report(model, train_data, test_data, *, timesteps=TIMESTEPS,
                       calibration_size=1000, synapse="auto", test_size=None,
                       timing_size=500, rate_size=200, batch_size=100,
                       mean_fraction=MEAN_FRACTION, verbose=1, **options):
    """Convert ``model`` and print ANN vs SNN accuracy, firing rate and speed.

    Args:
        model: a trained Keras classifier (logits or probabilities out).
        train_data: ``(x, y)``; the first ``calibration_size`` images
            normalise the firing rates.
        test_data: ``(x, y)``; the first ``test_size`` (default all) are used.
        timesteps: the T of the table; the longest is simulated once.
        synapse: ``convert``'s ``synapse`` ("auto": see ``Converter``; a float:
            a lowpass time constant (s) after every spiking layer).
        timing_size: images timed for images/s (at every T, and the ANN).
        rate_size: images used for the mean firing rate (at the longest T).
        **options: more ``convert`` options (dt, percentile, ...).

    Returns a dict with every figure of the table.
    """
    several_in, several_out = len(model.inputs) > 1, len(model.outputs) > 1
    x_train = _cut(train_data[0] if several_in else np.asarray(train_data[0]), 0,
                   calibration_size)
    x_test, y_test = test_data
    x_test = x_test if several_in else np.asarray(x_test)
    ys = [np.asarray(v) for v in y_test] if several_out else [np.asarray(y_test)]
    n = test_size if test_size is not None else _count(x_test)
    x_test = _cut(x_test, 0, n)
    ys = [v[:n].reshape(-1) for v in ys]
    y_test = ys if several_out else ys[0]
    timesteps = sorted(timesteps)
    T_max = timesteps[-1]
    options = dict(options, calibration_data=x_train, synapse=synapse)

    verify_error = verify(model, _cut(x_test, 0, 200), atol=1e-4, **options)
    ann_logits = model.predict(x_test, batch_size=500, verbose=0)
    ann_logits = ann_logits if several_out else [ann_logits]
    ann_accuracy = [float(np.mean(np.argmax(a, -1) == v)) for a, v in zip(ann_logits, ys)]
    ann_accuracy = ann_accuracy if several_out else ann_accuracy[0]

    snn = convert(model, timesteps=T_max, static_input=True, **options)
    if verbose:
        print(f"simulating {_count(x_test)} test images for {T_max} steps")
    evaluation = evaluate_timesteps(snn, (x_test, y_test), timesteps,
                                    mean_fraction=mean_fraction,
                                    batch_size=batch_size, verbose=verbose)
    rates = firing_rates(snn, _cut(x_test, 0, rate_size), T_max,
                         batch_size=max(1, batch_size // 2))
    mean_rate = mean_firing_rate(rates)

    timing = _cut(x_test, 0, timing_size)
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
    print(format_report(result, _count(x_test), synapse, options.get("dt", 0.001)))
    return result


def format_report(result, n_test, synapse, dt):
    def listed(value):
        return list(value) if isinstance(value, (list, tuple)) else [value]

    anns = listed(result["ann_accuracy"])
    lines = [
        f"\nConverted SNN on {n_test} test images (dt = {dt * 1e3:g} ms, "
        f"synapse = {synapse} s, normalised from training images)",
        f"ANN accuracy {', '.join(f'{a:.2%}' for a in anns)}   ANN "
        f"{result['ann_images_per_second']:.0f} images/s   rate-mode verify max error "
        f"{result['verify_error']:.1e}",
        f"{'T':>5}{'SNN last':>10}{'(vs ANN)':>10}{'SNN mean':>10}{'(vs ANN)':>10}"
        f"{'images/s':>10}{'/ (T x ANN time)':>18}",
    ]
    for T in result["last"]:
        ips, ratio = result["snn_speed"][T]
        rows = zip(anns, listed(result["last"][T]), listed(result["mean"][T]))
        for i, (ann, last, mean) in enumerate(rows):
            speed = f"{ips:>10.1f}{ratio:>18.2f}" if i == 0 else ""
            lines.append(
                f"{T if i == 0 else '':>5}{last:>10.2%}{(last - ann) * 100:>+9.2f}p"
                f"{mean:>10.2%}{(mean - ann) * 100:>+9.2f}p{speed}")
    lines.append(f"last: output at step T (the converter's running-mean readout); mean: "
                 f"raw output averaged over the last {result['evaluation'].mean_fraction:g}"
                 " x T steps; p = percentage points; one row per output")
    lines.append(f"mean firing: {result['mean_spikes_per_neuron_step']:.3f} spikes per "
                 "neuron per step (" + ", ".join(
                     f"{k} {v:.3f}" for k, v in
                     result["layer_spikes_per_neuron_step"].items()) + ")")
    return "\n".join(lines)
