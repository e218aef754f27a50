"""Training kit for time-to-first-spike networks (``SpikeTimeDense``).

* ``SpikeTimeCrossEntropy``: the loss of Göltz, Kriener et al. (2021),
  softmax cross-entropy over ``-t / (xi tau_syn)`` plus
  ``alpha exp(t_label / (beta tau_syn))`` (pushes the label spike early).
* ``FirstSpikeAccuracy``: the earliest output spike names the class; a sample
  with no output spike counts as wrong.
* ``WeightBumping``: raises the incoming weights of silent neurons when too
  many neurons of a layer stayed silent in a training batch.
* ``SpikeTimeEmulator``: a stand-in for a neuromorphic chip (quantised,
  clipped weights, fixed-pattern threshold mismatch, spike-time jitter), to
  train with the chip "in the loop" (``use_forward_fn(model, emulator)``).
"""

import zlib

import keras
import numpy as np
from keras import ops

from keras_spiking import spike_time
from keras_spiking.validation import check_number


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikeTimeCrossEntropy(keras.losses.Loss):
    """First-spike cross-entropy loss; ``y_true`` holds integer class labels.

    ``L = -log softmax(-t / (xi tau_syn))[label] + alpha exp(t_label / (beta
    tau_syn))``, where ``t`` are the output spike times. Silent output neurons
    take no part in the softmax (probability 0); a sample whose label neuron is
    silent costs ``silent_loss`` (no gradient: ``WeightBumping`` revives it).

    Args:
        tau_syn: synaptic time constant of the output layer (time unit).
        xi: softmax temperature in units of tau_syn (0.2 in the paper).
        alpha: weight of the early-spike regulariser (0.005).
        beta: its time scale in units of tau_syn (1).
        silent_loss: loss of a sample whose label neuron did not spike (100).
    """

    def __init__(self, tau_syn=1.0, xi=0.2, alpha=0.005, beta=1.0,
                 silent_loss=100.0, name="spike_time_cross_entropy", **kwargs):
        super().__init__(name=name, **kwargs)
        owner = "SpikeTimeCrossEntropy"
        check_number(owner, "tau_syn", tau_syn, low=0, low_open=True)
        check_number(owner, "xi", xi, low=0, low_open=True)
        check_number(owner, "alpha", alpha, low=0)
        check_number(owner, "beta", beta, low=0, low_open=True)
        check_number(owner, "silent_loss", silent_loss, low=0)
        self.tau_syn, self.xi, self.alpha, self.beta = tau_syn, xi, alpha, beta
        self.silent_loss = silent_loss

    def call(self, y_true, y_pred):
        t = ops.convert_to_tensor(y_pred)
        labels = ops.cast(ops.reshape(y_true, (-1, 1)), "int32")
        finite = ops.isfinite(t)
        safe_t = ops.where(finite, t, ops.zeros_like(t))
        # silent neurons: a logit far below every real one (finite: no NaN)
        logits = ops.where(finite, -safe_t / (self.xi * self.tau_syn),
                           ops.full_like(t, -1e30))
        label_t = ops.take_along_axis(safe_t, labels, axis=1)[:, 0]
        label_finite = ops.take_along_axis(finite, labels, axis=1)[:, 0]
        label_logit = ops.take_along_axis(logits, labels, axis=1)[:, 0]
        cross_entropy = ops.logsumexp(logits, axis=1) - label_logit
        regulariser = self.alpha * ops.exp(label_t / (self.beta * self.tau_syn))
        return ops.where(label_finite, cross_entropy + regulariser,
                         ops.full_like(cross_entropy, self.silent_loss))

    def get_config(self):
        config = super().get_config()
        config.update(tau_syn=self.tau_syn, xi=self.xi, alpha=self.alpha,
                      beta=self.beta, silent_loss=self.silent_loss)
        return config


def first_spike_correct(y_true, y_pred):
    """1.0 where the earliest output spike is the label (none = wrong)."""
    labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
    predicted = ops.cast(spike_time.first_spike_class(y_pred), "int32")
    return ops.cast(ops.equal(predicted, labels), "float32")


@keras.saving.register_keras_serializable(package="keras_spiking")
class FirstSpikeAccuracy(keras.metrics.MeanMetricWrapper):
    """Accuracy of first-spike classification (a silent output is wrong)."""

    def __init__(self, name="first_spike_accuracy", dtype=None):
        super().__init__(first_spike_correct, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class WeightBumping(keras.callbacks.Callback):
    """Revive silent neurons by raising their incoming weights.

    After each training batch the ``SpikeTimeDense`` layers are checked in
    order; the first one whose fraction of silent outputs exceeds its limit
    gets ``bump`` added to every incoming weight (bias spikes included) of the
    neurons that were silent in at least one sample. If the same layer needs
    bumping in consecutive batches, the bump doubles each time (paper:
    ``bump=5e-4``, limits 0.3 for hidden layers and 0 for the output layer).

    Args:
        bump: the first weight increment (> 0).
        max_silent_fraction: one limit for all hidden layers, or a list with
            one limit per ``SpikeTimeDense`` layer.
        max_silent_fraction_output: limit of the last layer when
            ``max_silent_fraction`` is a single number.
        exponential: double the bump on consecutive bumps of the same layer.
    """

    def __init__(self, bump=5e-4, max_silent_fraction=0.3,
                 max_silent_fraction_output=0.0, exponential=True):
        super().__init__()
        check_number("WeightBumping", "bump", bump, low=0, low_open=True)
        self.bump = float(bump)
        self.max_silent_fraction = max_silent_fraction
        self.max_silent_fraction_output = max_silent_fraction_output
        self.exponential = exponential
        self.bumps = 0
        self._last = None
        self._value = self.bump

    def _layers(self):
        from keras_spiking.layers.spike_time import SpikeTimeDense

        return [l for l in _walk(self.model) if isinstance(l, SpikeTimeDense)]

    def _limits(self, n):
        if np.ndim(self.max_silent_fraction) == 0:
            return [float(self.max_silent_fraction)] * (n - 1) + [
                float(self.max_silent_fraction_output)]
        limits = [float(v) for v in self.max_silent_fraction]
        if len(limits) != n:
            raise ValueError(
                f"WeightBumping: max_silent_fraction has {len(limits)} entries but "
                f"the model has {n} SpikeTimeDense layers; give one per layer.")
        return limits

    def on_train_batch_end(self, batch, logs=None):
        layers = self._layers()
        for index, (layer, limit) in enumerate(zip(layers, self._limits(len(layers)))):
            if float(ops.convert_to_numpy(layer.silent_fraction.value)) > limit:
                break
        else:
            self._last = None
            return
        if self.exponential and self._last == index:
            self._value *= 2.0
        else:
            self._value = self.bump
        self._last = index
        self.bumps += 1
        silent = ops.convert_to_numpy(layer.silent_neurons.value).astype("float64")
        step = self._value * silent[None, :]
        layer.kernel.assign(layer.kernel.value + ops.cast(step, layer.kernel.dtype))
        if layer.bias_kernel is not None:
            layer.bias_kernel.assign(
                layer.bias_kernel.value + ops.cast(step, layer.bias_kernel.dtype))


def use_forward_fn(model, forward_fn):
    """Run every ``SpikeTimeDense`` of ``model`` through ``forward_fn``.

    ``forward_fn(input_times, kernel, layer) -> output_times`` replaces the
    closed-form forward pass (e.g. a ``SpikeTimeEmulator`` or a chip); the
    gradient stays the model's at the returned times. ``None`` restores the
    closed form. The model's traced train/test/predict functions are dropped
    so that the next ``fit``/``evaluate``/``predict`` uses the new forward pass.
    Returns the number of layers changed.
    """
    from keras_spiking.layers.spike_time import SpikeTimeDense

    if forward_fn is not None and not callable(forward_fn):
        raise TypeError(
            f"use_forward_fn: forward_fn must be callable or None, got {forward_fn!r}.")
    layers = [l for l in _walk(model) if isinstance(l, SpikeTimeDense)]
    if isinstance(model, SpikeTimeDense):
        layers.append(model)
    for layer in layers:
        layer.forward_fn = forward_fn
    for name in ("train_function", "test_function", "predict_function"):
        if hasattr(model, name):
            setattr(model, name, None)
    return len(layers)


def _walk(layer):
    for sub in getattr(layer, "layers", []):
        yield sub
        yield from _walk(sub)


class SpikeTimeEmulator:
    """A software stand-in for a neuromorphic chip running ``SpikeTimeDense``.

    ``use_forward_fn(model, SpikeTimeEmulator(...))`` runs a model "on the
    chip": weights are clipped to ``[-weight_max, weight_max]`` and rounded to
    ``2**(weight_bits-1) - 1`` levels per sign, each neuron's threshold is off
    by a fixed random factor (``threshold_mismatch``, relative std, fixed per
    layer and ``seed``), and output spike times get Gaussian jitter
    (``time_jitter``, in the time unit) on every run. Pure ``keras.ops``, so it
    runs inside ``fit`` (TensorFlow backend).
    """

    def __init__(self, weight_bits=6, weight_max=2.0, threshold_mismatch=0.1,
                 time_jitter=0.02, seed=0):
        owner = "SpikeTimeEmulator"
        check_number(owner, "weight_bits", weight_bits, low=2)
        check_number(owner, "weight_max", weight_max, low=0, low_open=True)
        check_number(owner, "threshold_mismatch", threshold_mismatch, low=0)
        check_number(owner, "time_jitter", time_jitter, low=0)
        self.weight_bits = int(weight_bits)
        self.weight_max = float(weight_max)
        self.threshold_mismatch = float(threshold_mismatch)
        self.time_jitter = float(time_jitter)
        self.seed = int(seed)
        self._noise = keras.random.SeedGenerator(self.seed)

    def quantize(self, kernel):
        """The weights as the chip realises them."""
        levels = 2 ** (self.weight_bits - 1) - 1
        step = self.weight_max / levels
        clipped = ops.clip(kernel, -self.weight_max, self.weight_max)
        return ops.round(clipped / step) * step

    def thresholds(self, layer):
        """The fixed-pattern per-neuron thresholds of ``layer`` on the chip."""
        rng = np.random.default_rng([self.seed, zlib.crc32(layer.name.encode())])
        factor = 1.0 + self.threshold_mismatch * rng.standard_normal(layer.units)
        floor = layer.leak_potential + 0.05 * (layer.threshold - layer.leak_potential)
        return np.maximum(layer.threshold * factor, floor)

    def __call__(self, input_times, kernel, layer):
        params = layer.neuron_parameters()
        params["threshold"] = self.thresholds(layer)
        times = spike_time.first_spike_times(input_times, self.quantize(kernel), **params)
        if self.time_jitter > 0:
            noise = keras.random.normal(
                ops.shape(times), stddev=self.time_jitter, dtype=times.dtype,
                seed=self._noise)
            times = times + noise  # inf stays inf
        return times
