"""Evaluating a converted spiking model over timesteps.

A converted model is causal, so one run of ``T_max`` steps gives the answer at
every ``T <= T_max``: ``evaluate_timesteps`` runs the longest ``T`` once and
reads the output at each requested ``T`` two ways:

* ``last``: the model's output at step ``T`` (``snn.predict(x)[:, T - 1]``;
  with the converter's default ``RunningMean`` readout the mean of the last
  ``readout_fraction`` of the steps so far);
* ``mean``: the mean of the raw output (before a ``RunningMean`` readout) over
  the last ``k`` steps up to ``T`` (``k = max(1, round(mean_fraction * T))``):
  with ``mean_fraction`` equal to the readout's fraction both agree.

Models with several inputs take a list of arrays; with several outputs, the
labels are a list (one array per output) and each accuracy is a list too.

``firing_rates`` measures spikes per neuron per step for every spiking layer;
``run_chunked`` runs very long simulations in chunks with a stateful model, in
memory independent of the number of steps; ``plot_evaluation`` draws accuracy
vs T and the per-layer rate histograms (matplotlib, optional).
"""

import dataclasses
import math
import numbers
import time
import weakref
from collections.abc import Iterable

import keras
import numpy as np

from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.time import RunningMean, window_steps
from keras_spiking.validation import check_model_data, check_positive_integer

#: default fraction of the steps averaged by the ``mean`` readout
MEAN_FRACTION = 0.5


def model_timesteps(snn):
    """``(static_input, steps)`` of a converted model: whether it takes static
    inputs ``(batch, *shape)`` (it then repeats them with ``RepeatTime``) and
    its fixed number of steps (None when any number works)."""
    repeats = [layer for layer in snn.layers  # RepeatTime
               if facts_of(layer).time_axis == "adds"]
    if repeats:
        return True, repeats[0].timesteps
    return False, snn.inputs[0].shape[1]


_readout_steps = window_steps


def with_timesteps(snn, timesteps):
    """``snn`` rebuilt to run ``timesteps`` steps (the same weights), or ``snn``
    itself when it already does or takes any number.

    A converted model fixes its number of steps in one place: the count of its
    ``RepeatTime`` (``static_input=True``) or the time axis of its input. Only
    that count changes; every other layer reads the number of steps from its
    input, so the copy computes the same steps as ``snn`` and then goes on
    (a converted model is causal). Used by ``keras-spiking evaluate`` to read an
    SNN saved for one ``T`` at other ``T``.
    """
    steps = check_positive_integer("with_timesteps", "timesteps", timesteps)
    static, fixed = model_timesteps(snn)
    if fixed is None or fixed == steps:
        return snn

    def clone(layer):
        config = layer.get_config()
        if facts_of(layer).time_axis == "adds":  # RepeatTime
            config["timesteps"] = steps
        return layer.__class__.from_config(config)

    inputs = None
    if not static:
        inputs = [keras.Input((steps,) + tuple(i.shape[2:]), batch_size=i.shape[0],
                              dtype=i.dtype, name=i.name.split(":")[0])
                  for i in snn.inputs]
        inputs = inputs[0] if len(inputs) == 1 else inputs
    copy = keras.models.clone_model(snn, input_tensors=inputs, clone_function=clone)
    copy.set_weights(snn.get_weights())
    return copy


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


def raw_outputs(snn):
    """The output tensors of ``snn`` before their ``RunningMean`` readouts
    (an output without one is itself)."""
    raws = []
    for tensor in snn.outputs:
        layer = tensor._keras_history.operation
        raws.append(layer.input if isinstance(layer, RunningMean) else tensor)
    return raws


@dataclasses.dataclass
class Evaluation:
    """Accuracy per number of timesteps; ``last``/``mean`` map T -> accuracy."""

    timesteps: list
    last: dict
    mean: dict
    mean_fraction: float
    seconds: float

    def table(self):
        lines = [f"{'T':>6}{'last step':>12}{'mean last k':>14}{'k':>6}"]
        for T in self.timesteps:
            k = _readout_steps(T, self.mean_fraction)
            last, mean = _as_list(self.last[T]), _as_list(self.mean[T])
            for i, (a, b) in enumerate(zip(last, mean)):
                lines.append(f"{T if i == 0 else '':>6}{a:>12.2%}{b:>14.2%}{k:>6}")
        return "\n".join(lines)


def _check_timesteps(timesteps):
    """Sorted distinct integer T >= 1; one integer is taken as ``[T]`` (a float
    such as 7.9 is refused, never truncated)."""
    if isinstance(timesteps, numbers.Integral) and not isinstance(timesteps, bool):
        timesteps = [timesteps]
    if isinstance(timesteps, (str, bytes)) or not isinstance(timesteps, Iterable):
        raise TypeError(f"evaluate_timesteps: timesteps must be an integer or a list of "
                        f"integers >= 1, got {timesteps!r}.")
    timesteps = list(timesteps)
    if not timesteps:
        raise ValueError("evaluate_timesteps: timesteps must be integers >= 1, got an "
                         "empty list; pass e.g. [8, 16].")
    return sorted({check_positive_integer("evaluate_timesteps", "each of timesteps", t)
                   for t in timesteps})


def _join(numbers):
    return " / ".join(str(n) for n in numbers)


def _check_io_data(snn, data):
    """``(xs, ys)``: one input array per input of ``snn``, one flat label array
    per output (``data = (x, y)``, ``x`` and ``y`` lists when there are several);
    refuses datasets, empty data and arrays of unequal lengths."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(
            f"evaluate_timesteps: data must be a tuple (x, y) of static inputs "
            f"(n, *input_shape) and integer labels (n,), got {type(data).__name__}. For a "
            "tf.data.Dataset of (x, y) batches pass (np.concatenate([x for x, _ in ds]), "
            "np.concatenate([y for _, y in ds])).")
    n_in, n_out = len(snn.inputs), len(snn.outputs)
    x, y = data
    xs = _as_list(x) if n_in > 1 else [x]
    ys = _as_list(y) if n_out > 1 else [y]
    if len(xs) != n_in or len(ys) != n_out:
        raise ValueError(
            f"evaluate_timesteps: '{snn.name}' has {n_in} inputs and {n_out} outputs, but "
            f"data holds {len(xs)} input arrays and {len(ys)} label arrays; pass (x, y) "
            "with x a list of one array per input and y a list of one label array per "
            "output.")
    ys = [np.asarray(v).reshape(-1) for v in ys]
    lengths = [len(v) for v in xs + ys]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"evaluate_timesteps: {_join(lengths[:n_in])} inputs but "
            f"{_join(lengths[n_in:])} labels "
            "(the input and label arrays have different lengths); give every array the "
            "same samples.")
    if lengths[0] == 0:
        raise ValueError("evaluate_timesteps: data holds no samples (x has length 0); "
                         "pass at least one input and label.")
    static, _ = model_timesteps(snn)
    shapes = [tuple(i.shape[1 if static else 2:]) for i in snn.inputs]
    return check_model_data("evaluate_timesteps", "the inputs x of data",
                            xs if n_in > 1 else x, shapes), ys


def _batches(snn, xs, steps, batch_size, verbose, reduce):
    """``reduce(outputs)`` per batch (``outputs``: a list of ``(batch, steps, ...)``
    arrays, one per output of ``snn``), concatenated; ``xs``: one array per input."""
    check_positive_integer("predict_steps", "batch_size", batch_size)
    static, fixed = model_timesteps(snn)
    if fixed is not None and fixed < steps:
        raise ValueError(
            f"evaluate: '{snn.name}' runs {fixed} steps but {steps} were asked for; "
            f"convert with timesteps={steps} (or None for any number).")
    run_steps = fixed or steps
    call = compiled_forward(snn)
    count = len(xs[0])
    bar = keras.utils.Progbar(count) if verbose else None
    results = []
    for start in range(0, count, batch_size):
        batch = [np.asarray(x[start:start + batch_size], dtype="float32") for x in xs]
        if not static:
            batch = [np.repeat(b[:, None], run_steps, axis=1) for b in batch]
        outs = call(batch[0] if len(batch) == 1 else batch)
        outs = [keras.ops.convert_to_numpy(y)[:, :steps] for y in _as_list(outs)]
        results.append(reduce(outs))
        if bar is not None:
            bar.add(len(batch[0]))
    return np.concatenate(results)


def predict_steps(snn, x, steps, *, batch_size=100, verbose=0, reduce=None):
    """Run ``snn`` on static inputs ``x`` for ``steps`` steps, in batches.

    Returns the outputs ``(n, steps, ...)``, or ``reduce(outputs)`` per batch
    concatenated. A static-input model must have been converted with
    ``timesteps >= steps`` (its output is cut to ``steps``). Several inputs: ``x``
    a list of arrays; several outputs: ``reduce`` receives (and, without it, the
    result is) a list of arrays.
    """
    xs = _as_list(x) if len(snn.inputs) > 1 else [x]
    several = len(snn.outputs) > 1
    if reduce is None and several:
        parts = [_batches(snn, xs, steps, batch_size, verbose, lambda o, i=i: o[i])
                 for i in range(len(snn.outputs))]
        return parts
    one = reduce or (lambda y: y)
    return _batches(snn, xs, steps, batch_size, verbose,
                    lambda outs: one(outs if several else outs[0]))


_FORWARD = weakref.WeakKeyDictionary()


def compiled_forward(snn):
    """A compiled forward pass ``x -> snn(x, training=False)``, cached per model.

    On TensorFlow a ``tf.function`` (``reduce_retracing=True``); on JAX the
    model's ``predict_on_batch`` (jit-compiled once per input shape; carried
    state of stateful layers is written back; numpy out); on other backends a
    plain call. The cache holds
    the model weakly: it does not keep ``snn`` alive. Works for any Keras
    model (the ANN too, for timing side by side).
    """
    if snn not in _FORWARD:
        model = weakref.ref(snn)  # the cached function must not keep the model alive

        def forward(x):
            return model()(x, training=False)

        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            forward = tf.function(forward, reduce_retracing=True)
        elif keras.backend.backend() == "jax":  # eager JAX runs op by op

            def forward(x):
                return model().predict_on_batch(x)
        _FORWARD[snn] = forward
    return _FORWARD[snn]


def evaluate_timesteps(snn, data, timesteps=(4, 8, 16, 32, 64, 128), *,
                       mean_fraction=MEAN_FRACTION, batch_size=100, verbose=1):
    """Classification accuracy of ``snn`` after each number of ``timesteps``.

    Args:
        snn: a converted model (``keras_spiking.converters.convert``).
        data: ``(x, y)``: static inputs ``(n, *input_shape)`` and integer labels;
            with several inputs ``x`` is a list of arrays, with several outputs
            ``y`` a list of label arrays (one per output).
        timesteps: the T at which to read out (integers >= 1; one integer
            means ``[T]``); the longest is run once.
        mean_fraction: the ``mean`` readout averages the raw output (before a
            ``RunningMean`` readout) over the last
            ``max(1, round(mean_fraction * T))`` steps.
        batch_size: samples per forward pass.
        verbose: show a progress bar.

    Returns an ``Evaluation`` (``.last[T]``, ``.mean[T]``, ``.table()``); with
    several outputs each accuracy is a list, one per output.
    """
    check = float(mean_fraction)
    if not 0 < check <= 1:
        raise ValueError(f"evaluate_timesteps: mean_fraction must be in (0, 1], got "
                         f"{mean_fraction!r}.")
    timesteps = _check_timesteps(timesteps)
    check_positive_integer("evaluate_timesteps", "batch_size", batch_size)
    xs, ys = _check_io_data(snn, data)
    T_max = timesteps[-1]
    n_out = len(snn.outputs)
    raws = raw_outputs(snn)
    probe = snn
    if any(r is not o for r, o in zip(raws, snn.outputs)):
        probe = keras.Model(snn.inputs[0] if len(snn.inputs) == 1 else snn.inputs,
                            list(snn.outputs) + raws, name=f"{snn.name}_raw")

    def readouts(outs):
        # outs: n_out outputs then n_out raw outputs (or the outputs again), each
        # (batch, T_max, classes) -> (batch, n_out, 2, len(timesteps)) predictions
        outs = outs + outs if len(outs) == n_out else outs
        per_output = []
        for out, raw in zip(outs[:n_out], outs[n_out:]):
            last = [np.argmax(out[:, T - 1], -1) for T in timesteps]
            mean = [np.argmax(raw[:, T - _readout_steps(T, check):T].mean(1), -1)
                    for T in timesteps]
            per_output.append(np.stack([np.stack(last, 1), np.stack(mean, 1)], 1))
        return np.stack(per_output, 1)

    start = time.perf_counter()
    pred = _batches(probe, xs, T_max, batch_size, verbose, readouts)
    seconds = time.perf_counter() - start
    correct = pred == np.stack(ys, 1)[:, :, None, None]  # (n, n_out, 2, len(T))

    def accuracy(i, readout):
        values = [float(correct[:, o, readout, i].mean()) for o in range(n_out)]
        return values[0] if n_out == 1 else values

    last = {T: accuracy(i, 0) for i, T in enumerate(timesteps)}
    mean = {T: accuracy(i, 1) for i, T in enumerate(timesteps)}
    return Evaluation(timesteps, last, mean, check, seconds)


def spiking_layers(snn):
    """The spiking neuron layers of ``snn`` (the converter's neurons, whose
    spikes are worth ``amplitude / dt``), in graph order."""
    return [layer for layer in snn.layers if facts_of(layer).face == "spiking"]


def firing_rates(snn, x, steps, *, batch_size=50):
    """Spikes per neuron per step, per spiking layer: {name: (n, *neurons)}.

    Each value is one sample's mean over the ``steps`` steps for every neuron
    (1 = a spike every step; graded spikes count by number). Runs ``snn`` on
    static inputs ``x`` (a list of arrays for several inputs).
    """
    check_positive_integer("firing_rates", "batch_size", batch_size)
    neurons = spiking_layers(snn)
    if not neurons:
        return {}
    means = [keras.ops.mean(layer.output, axis=1) * (layer.dt / layer.amplitude)
             for layer in neurons]
    probe = keras.Model(snn.inputs[0] if len(snn.inputs) == 1 else snn.inputs, means)
    static, fixed = model_timesteps(snn)
    if fixed is not None and fixed != steps:
        raise ValueError(f"firing_rates: '{snn.name}' runs {fixed} steps, not {steps}.")
    out = {layer.name: [] for layer in neurons}
    xs = _as_list(x) if len(snn.inputs) > 1 else [x]  # several inputs: a list
    for start in range(0, len(xs[0]), batch_size):
        batch = [np.asarray(a[start:start + batch_size], dtype="float32") for a in xs]
        if not static:
            batch = [np.repeat(b[:, None], steps, axis=1) for b in batch]
        values = probe(batch[0] if len(batch) == 1 else batch, training=False)
        for layer, v in zip(neurons, values):
            out[layer.name].append(keras.ops.convert_to_numpy(v))
    return {name: np.concatenate(v) for name, v in out.items()}


def mean_firing_rate(rates):
    """Spikes per neuron per step over all neurons of all layers."""
    total = sum(v.size for v in rates.values())
    return float(sum(v.sum() for v in rates.values()) / total) if total else 0.0


def run_chunked(snn, x, steps, *, mean_fraction=MEAN_FRACTION):
    """Run a stateful converted model for ``steps`` steps in chunks.

    ``snn`` must be converted with ``stateful=True, batch_size=len(x)`` and a
    fixed ``timesteps`` (the chunk length); ``steps`` must be a multiple of it.
    Memory does not grow with ``steps``: only the last-step output and the
    running sum for the mean over the last ``k`` steps are kept. Returns
    ``(last, mean)`` outputs, each ``(batch, *output_shape)``.
    """
    static, chunk = model_timesteps(snn)
    if chunk is None:
        raise ValueError("run_chunked: convert with a fixed timesteps=chunk length.")
    if steps < 1 or steps % chunk:
        raise ValueError(f"run_chunked: steps must be a positive multiple of the "
                         f"model's {chunk} steps, got {steps}.")
    k = _readout_steps(steps, mean_fraction)
    for layer in snn.layers:
        if hasattr(layer, "reset_state") and getattr(layer, "stateful", False):
            layer.reset_state()
    batch = np.asarray(x, dtype="float32")
    if not static:
        batch = np.repeat(batch[:, None], chunk, axis=1)
    call = compiled_forward(snn)
    total, done = 0.0, 0
    for _ in range(steps // chunk):
        out = keras.ops.convert_to_numpy(call(batch))
        first = steps - k - done  # index in this chunk where the mean window starts
        if first < chunk:
            total = total + out[:, max(first, 0):].sum(1)
        done += chunk
    return out[:, -1], total / k


def images_per_second(fn, x, repeats=3):
    """Best throughput of ``fn(x)`` over ``repeats`` runs (one warm-up first)."""
    fn(x)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - start)
    return len(x) / best


def plot_evaluation(evaluation, rates=None, path=None, *, ann_accuracy=None):
    """Accuracy vs T (both readouts) and, given ``rates``, per-layer histograms
    of spikes per neuron per step; ``ann_accuracy`` (the ANN the SNN was
    converted from) is drawn as a horizontal line. Saves to ``path`` when given
    (atomically); returns the figure. Needs matplotlib
    (``pip install keras_spiking[plot]``)."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 1 + (len(rates) if rates else 0)
    fig, axes = plt.subplots(1, panels, figsize=(4 * panels, 3.2), squeeze=False)
    ax = axes[0, 0]
    T = evaluation.timesteps
    ax.plot(T, [evaluation.last[t] for t in T], "o-", label="last step")
    ax.plot(T, [evaluation.mean[t] for t in T], "s-", label="mean of last k")
    if ann_accuracy is not None:
        ax.axhline(ann_accuracy, color="gray", linestyle="--",
                   label=f"ANN {ann_accuracy:.2%}")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("timesteps T")
    ax.set_ylabel("accuracy")
    ax.legend()
    for ax, (name, values) in zip(axes[0, 1:], (rates or {}).items()):
        ax.hist(values.ravel(), bins=40, range=(0, 1))
        ax.set_yscale("log")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("spikes per neuron per step")
    fig.tight_layout()
    if path is not None:
        import os

        tmp = f"{path}.tmp.png"
        try:
            fig.savefig(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return fig
