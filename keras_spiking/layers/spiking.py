"""Spiking neuron layers: LIF (Nengo semantics), IF (the spiking ReLU) and
``SpikingActivation`` (any activation as spikes, KerasSpiking's layer).

Both take input currents shaped ``(batch, time, ...)`` (any trailing shape, so
they follow Dense or Conv layers) and return spike trains of the same shape.
A spike is one step with value ``amplitude / dt`` (otherwise 0): the output is
a firing rate in Hz times ``amplitude``, so its mean over time is comparable
with the matching rate layer's output. At most one spike per neuron per step
(binary spikes, what neuromorphic hardware and NIR carry), so no neuron fires
faster than ``1 / dt`` Hz.

Both are faces of the dynamics core (``keras_spiking.neurons``, via
``DynamicsLayer``): each builds its ``Dynamics`` and the core steps it
(``return_sequences``, ``return_state``, ``stateful`` from ``TimeStateLayer``).
``rate(inputs)`` returns the steady-state rate of the same neuron (what the
converter's verify mode swaps in for the spikes).
"""

import weakref

import keras
import numpy as np
from keras import ops

from keras_spiking import neurons
from keras_spiking.config import dt_for_config, is_variable, resolve_dt, variable_value
from keras_spiking.layers.base import DynamicsLayer, static_input
from keras_spiking.layers.rate import (
    DEFAULT_AMPLITUDE,
    check_lif_parameters,
    resolve_offset,
)
from keras_spiking.neurons import Dynamics, lif_rate
from keras_spiking.validation import (
    check_bool,
    check_choice,
    check_number,
    check_positive_integer,
    check_seed,
)

#: SpikingIF(constant_input=True) -> {(steps, dtype): compiled closed form} (TensorFlow)
_CLOSED_FORMS = weakref.WeakKeyDictionary()

#: Accepted ``initial_voltage`` values.
INITIAL_VOLTAGES = ("zeros", "half", "uniform")


class SpikingNeuron(DynamicsLayer):
    """Shared machinery of the spiking neurons (not used directly).

    Holds ``threshold``, ``amplitude``, ``dt`` and the initial voltage:
    ``"zeros"``, ``"half"`` (``threshold / 2``: halves the average quantisation
    error of a converted IF network) or ``"uniform"`` (drawn once per neuron
    from ``U[0, threshold)`` with ``seed`` when the layer is built, stored as a
    non-trainable weight, the same for every sample and every call; this
    decorrelates neurons, as Nengo does). The state's first entry is the
    voltage.
    """

    state_dtype = "float32"  # float16 state drifts over long runs

    def __init__(self, threshold=1.0, amplitude=1.0, dt=0.001, *, initial_voltage="zeros",
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        check_number(self.name, "threshold", threshold, low=0, low_open=True)
        check_number(self.name, "amplitude", amplitude, low=0, low_open=True)
        check_number(self.name, "dt", dt, low=0, low_open=True)
        check_choice(self.name, "initial_voltage", initial_voltage, INITIAL_VOLTAGES)
        check_seed(self.name, seed)
        self.threshold = float(threshold)
        self.amplitude = float(amplitude)
        self.dt = float(dt)
        self.initial_voltage = initial_voltage
        self.seed = None if seed is None else int(seed)
        self.voltage0 = None

    def build(self, input_shape):
        super().build(input_shape)
        if self.initial_voltage == "uniform":
            neuron_shape = tuple(input_shape[2:])
            if any(d is None for d in neuron_shape):
                raise ValueError(
                    f"{self.name}: initial_voltage='uniform' needs a static neuron "
                    f"shape, got inputs of shape {tuple(input_shape)}."
                )
            self.voltage0 = self.add_weight(
                shape=neuron_shape,
                initializer=keras.initializers.RandomUniform(
                    0.0, self.threshold, seed=self.seed
                ),
                trainable=False,
                name="initial_voltage",
            )

    def initial_voltage_value(self, dtype=None):
        """The initial voltage for ``Dynamics.initial_voltage``: a number, or the
        stored per-neuron ``"uniform"`` draw."""
        if self.initial_voltage == "half":
            return 0.5 * self.threshold
        if self.initial_voltage == "uniform":
            if dtype is None:
                return keras.ops.convert_to_numpy(self.voltage0)
            return ops.cast(self.voltage0, dtype)
        return 0.0

    config_attributes = ("threshold", "amplitude", "dt", "initial_voltage", "seed")


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikingLIF(SpikingNeuron):
    """Spiking leaky integrate-and-fire neuron with a refractory period (Nengo's LIF).

    For input current ``j = x + offset`` (held constant over each step of
    ``dt`` seconds; ``offset`` defaults to ``threshold`` as in ``LIFRate``, so
    that firing starts at ``x = 0``) the voltage follows
    ``tau_rc dv/dt = j - v``, integrated exactly. When ``v`` crosses
    ``threshold`` the neuron emits a spike (output ``amplitude / dt``, else
    0), ``v`` resets to 0, and the neuron ignores its input for ``tau_ref``
    seconds counted from the crossing time, interpolated within the step.
    Voltages never go below 0. For constant ``j`` the mean output is
    ``lif_rate(j) * amplitude``, the ``LIFRate`` layer's output with the same
    parameters, as long as the neuron fires at most once per step (always
    true when ``tau_ref >= dt``; with ``tau_ref < dt`` the rate at high
    currents falls below ``lif_rate``, at most ``1 / dt`` Hz).

    State: ``(voltage, refractory_time)``, refractory time in seconds.

    Args:
        tau_rc: membrane time constant, seconds (> 0).
        tau_ref: refractory period, seconds (>= 0).
        threshold: spiking threshold, in units of input current (> 0).
        amplitude: output per Hz (> 0); a spike is ``amplitude / dt``.
        dt: simulation timestep, seconds (> 0).
        offset: constant current added to the input (None: ``threshold``;
            0: the input is the current, Nengo's convention).
        initial_voltage: ``"zeros"``, ``"half"`` or ``"uniform"`` (see below).
        seed: integer seed of the ``"uniform"`` initial voltages.
        return_sequences, return_state, stateful: see ``TimeStateLayer``.

    ``"uniform"`` draws one voltage per neuron from ``U[0, threshold)`` when the
    layer is built (stored as a weight, so it is saved with the model and is
    the same for every sample and call); ``"half"`` starts at ``threshold / 2``.

    Example::

        x = keras.Input((100, 32))                 # 100 steps of 32 currents
        spikes = keras_spiking.layers.SpikingLIF(amplitude=0.01)(x)
    """

    state_names = ("voltage", "refractory_time")

    def __init__(self, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=DEFAULT_AMPLITUDE,
                 dt=0.001, offset=None, **kwargs):
        super().__init__(threshold, amplitude, dt, **kwargs)
        check_lif_parameters(self.name, tau_rc, tau_ref, threshold, amplitude)
        self.tau_rc = float(tau_rc)
        self.tau_ref = float(tau_ref)
        self.offset = resolve_offset(self.name, offset, threshold)

    def dynamics(self, dtype=None):
        """Nengo's LIF on the core: relaxation towards ``j = x + offset`` with
        ``decay = exp(-dt_eff / tau_rc)``, reset to 0, a refractory period,
        voltages floored at 0; a spike is worth ``amplitude / dt``."""
        return Dynamics(
            decay=float(np.exp(-self.dt / self.tau_rc)),
            gain=None,
            offset=self.offset,
            threshold=self.threshold,
            reset="zero",
            amplitude=self.amplitude / self.dt,
            refractory=self.tau_ref,
            tau=self.tau_rc,
            dt=self.dt,
            min_voltage=0.0,
            initial_voltage=self.initial_voltage_value(dtype),
        )

    def rate(self, inputs):
        """Steady-state output for constant input currents: ``amplitude * lif_rate``."""
        return lif_rate(
            inputs + self.offset,
            self.tau_rc,
            self.tau_ref,
            self.threshold,
            self.amplitude,
        )

    config_attributes = ("tau_rc", "tau_ref", "offset")


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikingIF(SpikingNeuron):
    """Spiking integrate-and-fire neuron without leak: the spiking ReLU.

    ``v[t] = v[t-1] + j[t] * dt``; a spike (output ``amplitude / dt``, else 0)
    when ``v[t] > threshold``, then ``v`` loses ``threshold`` (``reset=
    "subtract"``, the default, which keeps the overshoot) or is set to 0
    (``reset="zero"``). Negative inputs drive ``v`` negative, without bound.

    With ``reset="subtract"`` and constant ``j`` the mean output is
    ``amplitude * relu(j) / threshold`` as long as ``j * dt <= threshold``;
    above that the neuron spikes every step and saturates at ``1 / dt`` Hz
    (binary spikes). ``rate(inputs)`` returns exactly this, for either reset.

    Graded spikes (``graded=True``, reset by subtraction only): each step the
    neuron sends the whole number of thresholds its voltage holds,
    ``n[t] = clip(floor(v[t] / threshold), 0, max_spikes)`` (one message with
    an integer payload, as Loihi 2's graded spikes), output
    ``n[t] * amplitude / dt``, and ``v`` loses ``n[t] * threshold``; it then
    saturates at ``max_spikes / dt`` Hz instead of ``1 / dt``.

    State: ``(voltage,)``.

    Args:
        threshold: spiking threshold, in units of input current times seconds (> 0).
        amplitude: output per Hz (> 0); a spike is ``amplitude / dt``.
        dt: simulation timestep, seconds (> 0).
        reset: ``"subtract"`` or ``"zero"``.
        graded: send spike counts (see above) instead of 0/1 spikes.
        max_spikes: largest count per step with ``graded`` (integer >= 1; None:
            unbounded), e.g. ``2**n - 1`` for an ``n``-bit payload.
        constant_input: the input is the same at every step (a static input
            repeated over time, e.g. by ``RepeatTime``): at inference the layer
            reads the first step only and computes the spikes in closed form,
            without a loop (``neurons.constant_input_spikes``; binary spikes
            with reset by subtraction, not ``stateful`` or ``return_state``,
            else the loop). A spike may then come one step earlier or later
            than the loop's where the voltage sits within float rounding of the
            threshold. On TensorFlow compiled with XLA. What ``convert(...,
            closed_form=True)`` sets on the neurons of a static input.
        initial_voltage: ``"zeros"``, ``"half"`` or ``"uniform"`` (as ``SpikingLIF``).
        seed: integer seed of the ``"uniform"`` initial voltages.
        return_sequences, return_state, stateful: see ``TimeStateLayer``.
    """

    state_names = ("voltage",)
    resets = ("subtract", "zero")

    def __init__(self, threshold=1.0, amplitude=1.0, dt=0.001, reset="subtract", *,
                 graded=False, max_spikes=None, constant_input=False, **kwargs):
        super().__init__(threshold, amplitude, dt, **kwargs)
        self.reset = check_choice(self.name, "reset", reset, self.resets)
        self.graded = check_bool(self.name, "graded", graded)
        self.constant_input = check_bool(self.name, "constant_input", constant_input)
        if max_spikes is not None:
            max_spikes = check_positive_integer(self.name, "max_spikes", max_spikes)
            if not self.graded:
                raise ValueError(f"{self.name}: max_spikes={max_spikes!r} needs graded=True "
                                 "(binary spikes send at most 1 per step); pass graded=True.")
        if self.graded and self.reset != "subtract":
            raise ValueError(f"{self.name}: graded spikes need reset='subtract' (a count "
                             f"of n spikes removes n thresholds), got reset={reset!r}.")
        self.max_spikes = max_spikes

    def dynamics(self, dtype=None):
        """The spiking ReLU on the core: ``decay = 1``, ``gain = dt``; a spike
        is worth ``amplitude / dt``."""
        return Dynamics(
            decay=1.0,
            gain=self.dt,
            threshold=self.threshold,
            reset=self.reset,
            graded=self.graded,
            min_spikes=0,
            max_spikes=self.max_spikes,
            amplitude=self.amplitude / self.dt,
            initial_voltage=self.initial_voltage_value(dtype),
        )

    def rate(self, inputs):
        """Steady-state output for constant input currents.

        ``amplitude * min(relu(j) / threshold, 1 / dt)`` for ``reset="subtract"``;
        for ``reset="zero"`` the neuron spikes every ``n = floor(threshold /
        (j dt)) + 1`` steps, so the output is ``amplitude / (n dt)``.
        """
        inputs = ops.convert_to_tensor(inputs)
        j = ops.relu(inputs)
        if self.reset == "subtract":
            if self.graded and self.max_spikes is None:
                return self.amplitude * j / self.threshold
            most = (self.max_spikes if self.graded else 1) / self.dt
            return self.amplitude * ops.minimum(j / self.threshold, most)
        active = j > 0
        j_safe = ops.where(active, j, 1.0)
        steps = ops.floor(self.threshold / (j_safe * self.dt)) + 1.0
        return ops.where(active, self.amplitude / (steps * self.dt), 0.0)

    def scan(self, inputs, initial_state=None, training=None):
        """The loop, or with ``constant_input`` at inference the closed form."""
        low = keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16")
        if (not self.constant_input or training or low or initial_state is not None
                or self.stateful or self.return_state or inputs.shape[1] is None):
            return super().scan(inputs, initial_state, training)
        d = self.call_dynamics(inputs.dtype)
        if not neurons.closed_form_applies(d):
            return super().scan(inputs, initial_state, training)
        steps, v0 = inputs.shape[1], ops.convert_to_tensor(d.initial_voltage, inputs.dtype)
        spikes = self._closed_form(d, steps, inputs.dtype)(static_input(inputs), v0)
        return spikes if self.return_sequences else spikes[:, -1]

    def _closed_form(self, d, steps, dtype):
        """``(x, v0) -> spikes`` of ``steps`` steps in closed form; on TensorFlow one
        XLA-compiled kernel (instead of ~10 passes over the output), kept per layer,
        ``steps`` and dtype so that eager calls compile it once."""
        def closed_form(x, v0):
            return neurons.constant_input_spikes(d.replace(initial_voltage=v0), x, steps)

        if keras.backend.backend() != "tensorflow":
            return closed_form
        import tensorflow as tf

        cache = _CLOSED_FORMS.setdefault(self, {})
        key = (steps, keras.backend.standardize_dtype(dtype))
        if key not in cache:
            cache[key] = tf.function(closed_form, jit_compile=True, autograph=False)
        return cache[key]

    config_attributes = ("reset", "graded", "max_spikes", "constant_input")


def straight_through(spikes, rates):
    """Spiking-aware training: ``spikes`` forward, the gradient of ``rates`` backward
    (``rates + stop_gradient(spikes - rates)``)."""
    return rates + ops.stop_gradient(spikes - rates)


def _activation(owner, activation):
    """A Keras activation from a name or callable, with a clear error."""
    if isinstance(activation, str) or callable(activation):
        try:
            return keras.activations.get(activation)
        except ValueError:
            pass
    raise ValueError(
        f"{owner}: activation must be a Keras activation name (e.g. 'relu') or a "
        f"callable, got {activation!r}."
    )


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikingActivation(DynamicsLayer):
    """Any activation function as a spiking neuron (KerasSpiking's ``SpikingActivation``).

    Each step integrates the activation into a voltage and emits the whole
    number of spikes it holds, each worth ``1 / dt``::

        v[t] = v[t-1] + activation(x[t]) dt,   n[t] = floor(v[t]),
        output[t] = n[t] / dt,                  v[t] <- v[t] - n[t]

    so over a window the spikes sum to the floor of the integrated activation,
    and the output's mean over time approaches ``activation(x)`` (negative
    activations give negative spikes). The voltage starts uniformly random in
    ``[0, 1)`` (``seed``), per sample. On the dynamics core this is an IF
    neuron with ``gain = dt``, graded spikes and reset by subtraction; the
    activation is applied to all timesteps at once, only the voltage is scanned.

    Training: with ``spiking_aware_training=True`` (default) the forward pass
    is the spikes and the gradient is the activation's (a straight-through
    estimator), so ``fit`` trains on what the spiking network computes; with
    False the layer is the plain activation while training and spikes at
    inference.

    Args:
        activation: a Keras activation (name or callable, e.g. ``"relu"`` or
            ``keras_spiking.activations.soft_lif``).
        dt: step in seconds (> 0); None reads ``keras_spiking.default.dt`` when
            the layer is made; a ``keras.Variable`` is read at every call (see
            ``keras_spiking.callbacks.DtScheduler``).
        seed: integer seed of the random initial voltages (None: unseeded).
        spiking_aware_training: see above.
        return_sequences, return_state, stateful, unroll, time_major: see
            ``TimeStateLayer``.

    Inputs ``(batch, time, ...)``. Example::

        x = keras.Input((10, 784))
        h = keras.layers.Dense(128)(x)
        h = keras_spiking.SpikingActivation("relu", dt=0.01)(h)
    """

    state_names = ("voltage",)
    state_dtype = "float32"

    def __init__(self, activation, *, dt=None, seed=None, spiking_aware_training=True,
                 **kwargs):
        super().__init__(**kwargs)
        self.activation = _activation(self.name, activation)
        self.dt = resolve_dt(self.name, dt)
        check_seed(self.name, seed)
        self.seed = None if seed is None else int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.spiking_aware_training = check_bool(
            self.name, "spiking_aware_training", spiking_aware_training
        )

    def dt_value(self, dtype=None):
        """The step in seconds: a Python float, or the dt variable's current value."""
        if is_variable(self.dt):
            return variable_value(self.dt) if dtype is None else ops.cast(self.dt, dtype)
        return self.dt

    def dynamics(self, dtype=None):
        """IF with ``gain = dt``, threshold 1, graded spikes worth ``1 / dt``."""
        dt = self.dt_value(dtype)
        return Dynamics(decay=1.0, gain=dt, threshold=1.0, reset="subtract", graded=True,
                        min_spikes=None, amplitude=1.0 / dt)

    def initial_state(self, inputs):
        shape = ops.shape(inputs[:, 0])
        return (keras.random.uniform(shape, dtype=inputs.dtype, seed=self.seed_generator),)

    def scan(self, inputs, initial_state=None, training=None):
        rates = self.activation(inputs)
        if training and not self.spiking_aware_training:
            if self.return_state:
                raise ValueError(
                    f"{self.name}: return_state=True has no state while training with "
                    "spiking_aware_training=False (the layer is the plain activation)."
                )
            return rates if self.return_sequences else rates[:, -1]
        result = super().scan(rates, initial_state, training)
        if not training:
            return result
        spikes, states = result if self.return_state else (result, None)
        rates = rates if self.return_sequences else rates[:, -1]
        spikes = straight_through(spikes, rates)
        return (spikes, states) if self.return_state else spikes

    def get_config(self):
        config = super().get_config()
        config.update(self.activation_config())
        return config

    def activation_config(self):
        """The arguments of this layer's own (also its cell's) ``get_config``."""
        return dict(
            activation=keras.activations.serialize(self.activation),
            dt=dt_for_config(self.dt),
            seed=self.seed,
            spiking_aware_training=self.spiking_aware_training,
        )

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["activation"] = keras.activations.deserialize(config["activation"])
        return cls(**config)
