"""Encoders: turn static inputs into spike trains over a time axis.

Each encoder maps ``(batch, ...)`` inputs to ``(batch, timesteps, ...)``
outputs (time is axis 1), except ``delta``, which reads an input that already
has a time axis. Each comes as a function and as a serializable Keras layer
that calls it, so it can sit at the front of a model:

=====================  =========================================================
encoder                spike at step ``t`` (``t = 0 .. timesteps-1``)
=====================  =========================================================
``rate``               with probability ``p = clip(gain * x + offset, 0, 1)``,
                       independently per step (Bernoulli; seeded)
``latency``            once, at ``t = round(spike_time(x))`` (one spike per input)
``delta``              where ``x[t] - x[t-1] >= threshold`` (and ``-1`` where it is
                       ``<= -threshold`` with ``off_spike``)
``direct``             no spikes: the input current itself, repeated at every
                       step (the first spiking layer does the encoding)
=====================  =========================================================

``latency`` follows snnTorch's ``spikegen.latency`` (a LIF neuron charged by a
constant current ``x`` reaches ``threshold`` after a time that falls with ``x``);
see ``latency_times`` for the formulas and for the two places where ours
differs on purpose (normalisation independent of the batch, out-of-window spikes
dropped instead of the last step being cleared).
"""

import math

import keras
from keras import ops

from keras_spiking.neurons import heaviside
from keras_spiking.validation import (
    RefusesText,
    check_choice,
    check_finite_data,
    check_number,
    check_numeric,
    check_text,
)


def _check_timesteps(owner, timesteps):
    if isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1:
        raise ValueError(
            f"{owner}: timesteps must be a positive int (number of steps), got "
            f"{timesteps!r}."
        )
    return timesteps


def _check_seed(owner, seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"{owner}: seed must be None or an int, got {seed!r}.")
    return seed


def _input(owner, x):
    """``x`` as a float tensor; text refused, NaN/Inf refused in eager calls
    (``keras_spiking.default.check_numerics``); integers become float32."""
    x = ops.convert_to_tensor(check_text(owner, "x", x))
    check_text(owner, "x", x)
    check_finite_data(owner, "x", x)
    if not keras.backend.standardize_dtype(x.dtype).startswith("float"):
        x = ops.cast(x, "float32")
    return x


def _keep_nan(value, spikes):
    """NaN where ``value`` is NaN (a NaN input must not look like silence)."""
    return ops.where(ops.isnan(value), value, spikes)


def direct(x, timesteps):
    """Direct (current) coding: repeat ``x`` at every step, ``(batch, T, ...)``.

    The layer form is ``keras_spiking.layers.RepeatTime``. When the first layer
    after it is stateless (a convolution, say), apply that layer first and
    repeat its output instead: it is the same at every step.
    """
    _check_timesteps("direct", timesteps)
    x = ops.convert_to_tensor(check_text("direct", "x", x))
    check_text("direct", "x", x)
    return ops.repeat(ops.expand_dims(x, 1), timesteps, axis=1)


def rate(x, timesteps, *, gain=1.0, offset=0.0, seed=None):
    """Rate (Bernoulli) coding: ``s[b, t, ...] ~ Bernoulli(clip(gain*x+offset, 0, 1))``.

    Independent draws at every step, so the expected spike count over
    ``timesteps`` steps is ``timesteps * p``. ``seed`` (an int or a
    ``keras.random.SeedGenerator``) makes the draws reproducible; pass a
    ``SeedGenerator`` to get fresh draws on every call, as the layer does.
    """
    _check_timesteps("rate", timesteps)
    for name, value in (("gain", gain), ("offset", offset)):
        check_numeric("rate", name, value)
    x = _input("rate", x)
    p = ops.clip(x * gain + offset, 0.0, 1.0)
    p = ops.expand_dims(p, 1)
    shape = (ops.shape(x)[0], timesteps) + tuple(ops.shape(x)[1:])
    u = keras.random.uniform(shape, dtype=p.dtype, seed=seed)
    return heaviside(p - u)  # u < p; NaN stays NaN


def latency_times(x, timesteps, *, tau=1.0, threshold=0.01, linear=False, normalize=False,
        first_spike_time=0, epsilon=1e-7):
    """Spike time, in steps (a float), of each input under latency coding.

    Log code (default), from a LIF neuron with time constant ``tau`` (steps)
    charged by a constant current ``x`` up to ``threshold``::

        t = tau * log(x' / (x' - threshold)),   x' = max(x, threshold + epsilon)

    Linear code (``linear=True``; inputs clipped to [0, 1])::

        t = tau * (1 - max(x, threshold))

    ``normalize=True`` rescales so that the latest possible spike (an input at
    or below ``threshold``) falls on the last step, ``timesteps - 1``: for the
    linear code ``tau`` becomes ``timesteps - 1 - first_spike_time`` (as in
    snnTorch); for the log code ``t`` is multiplied by
    ``(timesteps - 1 - first_spike_time) / (tau * log((threshold + epsilon) / epsilon))``.
    snnTorch divides by the largest time in the batch instead; that is the same
    constant whenever some input is below threshold (background pixels) and
    otherwise makes one sample's code depend on the others, so we use the
    constant. Finally ``first_spike_time`` (steps) is added.
    """
    owner = "latency_times"
    check_number(owner, "tau", tau, low=0, low_open=True)
    check_number(owner, "threshold", threshold, low=0, high=1, low_open=True, high_open=True)
    check_number(owner, "epsilon", epsilon, low=0, low_open=True)
    _check_timesteps(owner, timesteps)
    if (
        isinstance(first_spike_time, bool)
        or not isinstance(first_spike_time, int)
        or not 0 <= first_spike_time <= timesteps - 1
    ):
        raise ValueError(
            f"{owner}: first_spike_time must be an int in [0, timesteps - 1 = "
            f"{timesteps - 1}], got {first_spike_time!r}."
        )
    x = _input(owner, x)
    span = timesteps - 1 - first_spike_time
    if linear:
        if normalize:
            tau = span
        t = tau * (1.0 - ops.clip(x, threshold, 1.0))
    else:
        # the latest time, for inputs at or below threshold + epsilon, is computed
        # in double precision: float32 loses digits in x - threshold there
        t_max = tau * math.log((threshold + epsilon) / epsilon)
        weak = x <= threshold + epsilon
        x = ops.where(weak, 1.0, x)
        t = ops.where(weak, t_max, tau * (ops.log(x) - ops.log(x - threshold)))
        if normalize:
            t = t * (span / t_max)
    return t + first_spike_time


def latency(x, timesteps, *, tau=1.0, threshold=0.01, linear=False, normalize=False,
        clip=False, first_spike_time=0, epsilon=1e-7):
    """Latency coding: one spike per input, at step ``round(latency_times(x))``.

    Strong inputs spike early, weak ones late. Inputs below ``threshold`` spike
    at the latest time (``clip=False``) or never (``clip=True``). A spike time
    that rounds past the last step is dropped (no spike): use ``normalize=True``
    or more ``timesteps`` to keep every spike. Returns ``(batch, timesteps, ...)``.
    """
    t = latency_times(
        x,
        timesteps,
        tau=tau,
        threshold=threshold,
        linear=linear,
        normalize=normalize,
        first_spike_time=first_spike_time,
        epsilon=epsilon,
    )
    x = ops.cast(ops.convert_to_tensor(x), t.dtype)
    index = ops.expand_dims(ops.round(t), 1)
    steps = ops.reshape(
        ops.arange(timesteps, dtype=t.dtype), (1, timesteps) + (1,) * (len(t.shape) - 1)
    )
    spikes = ops.cast(ops.equal(steps, index), t.dtype)
    if clip:
        spikes = spikes * ops.expand_dims(ops.cast(x >= threshold, t.dtype), 1)
    return _keep_nan(index, spikes)


def delta(x, *, threshold=0.1, padding=False, off_spike=False):
    """Delta modulation of a time series ``x`` shaped ``(batch, time, ...)``.

    ``s[t] = 1`` where ``x[t] - x[t-1] >= threshold``; with ``off_spike``,
    ``s[t] = -1`` where ``x[t] - x[t-1] <= -threshold``. The step before the
    first is 0 (``padding=False``: a large first value spikes) or ``x[0]``
    itself (``padding=True``: the first step never spikes). As snnTorch's
    ``spikegen.delta``, with time on axis 1.
    """
    check_number("delta", "threshold", threshold, low=0, low_open=True)
    x = _input("delta", x)
    if len(x.shape) < 2:
        raise ValueError(
            f"delta: expected inputs shaped (batch, time, ...), got shape {tuple(x.shape)}."
        )
    first = x[:, :1] if padding else ops.zeros_like(x[:, :1])
    previous = ops.concatenate([first, x[:, :-1]], axis=1)
    change = x - previous
    spikes = ops.cast(change >= threshold, x.dtype)
    if off_spike:
        spikes = spikes - ops.cast(change <= -threshold, x.dtype)
    return _keep_nan(change, spikes)


class _TimeEncoder(RefusesText, keras.layers.Layer):
    """Base of the encoder layers that add a time axis of ``timesteps`` steps."""

    def __init__(self, timesteps, **kwargs):
        super().__init__(**kwargs)
        self.timesteps = _check_timesteps(self.name, timesteps)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.timesteps) + tuple(input_shape[1:])

    def get_config(self):
        config = super().get_config()
        config.update(timesteps=self.timesteps)
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class RateEncoder(_TimeEncoder):
    """Bernoulli rate coding: ``(batch, ...) -> (batch, timesteps, ...)`` spikes.

    ``P(s[b, t, i] = 1) = clip(gain * x[b, i] + offset, 0, 1)``, independently
    at every step; new draws on every call (training and inference).

    Args:
        timesteps: number of steps T.
        gain, offset: map the input to a spike probability per step.
        seed: an int makes the sequence of draws reproducible.
    """

    def __init__(self, timesteps, gain=1.0, offset=0.0, seed=None, **kwargs):
        super().__init__(timesteps, **kwargs)
        self.gain = float(check_number(self.name, "gain", gain))
        self.offset = float(check_number(self.name, "offset", offset))
        self.seed = _check_seed(self.name, seed)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs):
        return rate(
            _input(self.name, inputs), self.timesteps, gain=self.gain, offset=self.offset,
            seed=self.seed_generator,
        )

    def get_config(self):
        config = super().get_config()
        config.update(gain=self.gain, offset=self.offset, seed=self.seed)
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class LatencyEncoder(_TimeEncoder):
    """Latency coding: one spike per input, earlier for larger inputs.

    ``(batch, ...) -> (batch, timesteps, ...)``; the spike of input ``x`` is at
    step ``round(t(x))`` with ``t`` given by ``keras_spiking.encoders.latency_times``
    (log code ``t = tau * log(x / (x - threshold))``, or linear code
    ``t = tau * (1 - x)``; ``tau`` in steps).

    Args:
        timesteps: number of steps T.
        tau: time constant of the charging neuron, in steps (> 0).
        threshold: inputs below it are the weakest (0 < threshold < 1).
        linear: linear instead of logarithmic code.
        normalize: stretch the code so the latest spike is at step T - 1.
        clip: inputs below ``threshold`` do not spike at all.
        first_spike_time: delay (steps) added to every spike time.
    """

    def __init__(self, timesteps, tau=1.0, threshold=0.01, linear=False, normalize=False,
            clip=False, first_spike_time=0, **kwargs):
        super().__init__(timesteps, **kwargs)
        self.code = dict(
            tau=float(check_number(self.name, "tau", tau, low=0, low_open=True)),
            threshold=float(
                check_number(self.name, "threshold", threshold, low=0, high=1,
                             low_open=True, high_open=True)
            ),
            linear=bool(linear),
            normalize=bool(normalize),
            clip=bool(clip),
            first_spike_time=first_spike_time,
        )
        # checks first_spike_time against timesteps with the common message
        latency_times(0.5, timesteps, first_spike_time=first_spike_time)

    def call(self, inputs):
        return latency(_input(self.name, inputs), self.timesteps, **self.code)

    def get_config(self):
        config = super().get_config()
        config.update(self.code)
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class DeltaEncoder(RefusesText, keras.layers.Layer):
    """Delta modulation: spikes where a time series changes by ``threshold``.

    ``(batch, time, ...) -> (batch, time, ...)``; see
    ``keras_spiking.encoders.delta``.

    Args:
        threshold: change between consecutive steps that makes a spike (> 0).
        padding: compare the first step with itself (no spike) instead of 0.
        off_spike: also emit -1 for drops of at least ``threshold``.
    """

    def __init__(self, threshold=0.1, padding=False, off_spike=False, **kwargs):
        super().__init__(**kwargs)
        self.threshold = float(
            check_number(self.name, "threshold", threshold, low=0, low_open=True)
        )
        check_choice(self.name, "padding", padding, (True, False))
        check_choice(self.name, "off_spike", off_spike, (True, False))
        self.padding = bool(padding)
        self.off_spike = bool(off_spike)

    def call(self, inputs):
        return delta(
            _input(self.name, inputs), threshold=self.threshold, padding=self.padding,
            off_spike=self.off_spike,
        )

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            threshold=self.threshold, padding=self.padding, off_spike=self.off_spike
        )
        return config
