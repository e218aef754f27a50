"""Synaptic filters: ``Lowpass`` and ``Alpha``, exactly discretised.

Both are linear filters with unit DC gain applied elementwise to
``(batch, time, ...)`` tensors (spike trains, currents, anything). The input
is treated as held constant over each step (zero-order hold): sample ``x[k]``
is the input during ``((k - 1) dt, k dt]`` and the output ``y[k]`` is the
continuous-time filter's output at ``t = k dt``, so the discretisation adds
no error and no delay for any ``dt``. Both start from zero state unless
``initial_value="first_input"``.

``tau = 0`` means no filtering (the output equals the input); it is accepted
so that a synapse can be switched off without changing the model's layers.

Both are faces of the dynamics core (``keras_spiking.neurons``): a neuron
without threshold whose voltage is the output, with coefficients from
``neurons.discretize(..., method="exact")`` (``Alpha`` is NIR's ``CubaLI``
with ``tau_syn = tau``).
"""

import keras
import numpy as np
from keras import ops

from keras_spiking.config import dt_for_config, is_variable, resolve_dt, variable_value
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.neurons import Dynamics, discretize
from keras_spiking.validation import check_bool, check_choice, check_number

#: Accepted ``initial_value`` values.
INITIAL_VALUES = ("zeros", "first_input")


class SynapticFilter(DynamicsLayer):
    """Shared machinery of the filters (not used directly): ``tau``, ``dt``,
    the initial state, trainable ``tau`` and initial level (KerasSpiking's
    arguments). Subclasses set ``order`` (1: lowpass, 2: alpha)."""

    state_dtype = "float32"  # float16 state drifts over long runs

    def __init__(self, tau=None, dt=None, initial_value="zeros", learn_tau=None, *,
            tau_initializer=None, tau_constraint=None, level_initializer=None,
            initial_level_constraint=None, apply_during_training=True, **kwargs):
        super().__init__(**kwargs)
        name = self.name
        if (tau is None) == (tau_initializer is None):
            raise ValueError(
                f"{name}: pass the time constant once, as tau (seconds) or as "
                f"KerasSpiking's tau_initializer; got tau={tau!r}, "
                f"tau_initializer={tau_initializer!r}."
            )
        if tau is None and isinstance(tau_initializer, (int, float)):
            tau, tau_initializer = tau_initializer, None
        if tau is not None:
            check_number(name, "tau", tau, low=0)
            tau = float(tau)
        if learn_tau is None:  # trainable, as every Keras weight, unless there is no filter
            learn_tau = tau != 0
        check_bool(name, "learn_tau", learn_tau)
        if learn_tau and tau == 0:
            raise ValueError(f"{name}: learn_tau=True needs tau > 0 to start from, got tau=0.")
        if tau_initializer is not None and not learn_tau:
            raise ValueError(
                f"{name}: tau_initializer={tau_initializer!r} initialises a trained tau; "
                "pass a number as tau for a fixed one, or learn_tau=True."
            )
        self.tau = tau
        self.tau_initializer = (
            None if tau_initializer is None else keras.initializers.get(tau_initializer)
        )
        self.tau_constraint = keras.constraints.get(tau_constraint)
        self.dt = resolve_dt(name, dt)
        self.initial_value = check_choice(name, "initial_value", initial_value, INITIAL_VALUES)
        self.level_initializer = (
            None if level_initializer is None else keras.initializers.get(level_initializer)
        )
        self.initial_level_constraint = keras.constraints.get(initial_level_constraint)
        if self.level_initializer is not None and initial_value != "zeros":
            raise ValueError(
                f"{name}: level_initializer (a trained initial state) and "
                f"initial_value={initial_value!r} exclude each other; pass one."
            )
        self.learn_tau = learn_tau
        self.apply_during_training = check_bool(
            name, "apply_during_training", apply_during_training
        )
        self.tau_variable = self.initial_level = None

    def build(self, input_shape):
        super().build(input_shape)
        units = self.unit_shape(input_shape)
        if self.learn_tau:  # one time constant per unit (constraints.Mean shares one)
            self.tau_variable = self.add_weight(
                shape=units,
                initializer=self.tau_initializer or keras.initializers.Constant(self.tau),
                constraint=self.tau_constraint or keras.constraints.NonNeg(),
                name="tau",
            )
        if self.level_initializer is not None:
            self.initial_level = self.add_weight(
                shape=units,
                initializer=self.level_initializer,
                constraint=self.initial_level_constraint,
                name="initial_level",
            )

    def dt_value(self, dtype=None):
        """The step in seconds (a dt variable's current value)."""
        if is_variable(self.dt):
            return variable_value(self.dt) if dtype is None else ops.cast(self.dt, dtype)
        return self.dt

    def tau_value(self, dtype=None):
        """The current ``tau``, clamped below at ``dt / 1000`` (where
        ``exp(-dt / tau)`` is 0 in float32 anyway): ``tau = 0`` passes the input
        through, and every coefficient and its gradient stays finite."""
        if self.tau_variable is None and not is_variable(self.dt):
            return max(self.tau, 1e-3 * self.dt)  # floats: folded into the graph
        tau = self.tau if self.tau_variable is None else self.tau_variable
        floor = 1e-3 * self.dt_value(dtype)
        if dtype is None:
            tau = np.maximum(np.asarray(keras.ops.convert_to_numpy(tau), "float64"), floor)
            return float(tau) if tau.ndim == 0 else tau
        return ops.maximum(ops.cast(tau, dtype), floor)

    def dynamics(self, dtype=None):
        """Exact zero-order-hold lowpass (order 1) or alpha (order 2) filter."""
        tau = self.tau_value(dtype)
        c = discretize(
            tau, dt=self.dt_value(dtype), method="exact", tau_syn=tau if self.order == 2 else None
        )
        return Dynamics(threshold=None, reset="none", **c)

    def initial_state(self, inputs):
        x_0 = inputs[:, 0]
        if self.initial_level is not None:
            value = ops.zeros_like(x_0) + ops.cast(self.initial_level, x_0.dtype)
        else:
            value = x_0 if self.initial_value == "first_input" else ops.zeros_like(x_0)
        return tuple(value for _ in self.state_names)

    def scan(self, inputs, initial_state=None, training=None):
        if training and not self.apply_during_training:  # KerasSpiking: a pass-through
            return inputs if self.return_sequences else inputs[:, -1]
        return super().scan(inputs, initial_state, training)

    def get_config(self):
        config = super().get_config()
        serialize = keras.initializers.serialize
        config.update(
            tau=self.tau,
            dt=dt_for_config(self.dt),
            initial_value=self.initial_value,
            learn_tau=self.learn_tau,
            tau_initializer=None if self.tau_initializer is None else serialize(self.tau_initializer),
            tau_constraint=keras.constraints.serialize(self.tau_constraint),
            level_initializer=(
                None if self.level_initializer is None else serialize(self.level_initializer)
            ),
            initial_level_constraint=keras.constraints.serialize(self.initial_level_constraint),
            apply_during_training=self.apply_during_training,
        )
        return config


_ARGS = """    Args:
        tau: time constant, seconds (>= 0; 0 = no filtering). KerasSpiking's
            ``tau_initializer`` (a number or a Keras initializer) is the same
            argument for a trained tau.
        dt: simulation timestep, seconds (> 0); None: ``keras_spiking.default.dt``;
            a ``keras.Variable`` is read at every call (``callbacks.DtScheduler``).
        initial_value: ``"zeros"`` or ``"first_input"`` (start in the steady
            state of the first input).
        learn_tau: train one ``tau`` per unit (kept >= 0 by ``tau_constraint``,
            default ``NonNeg``; ``constraints.Mean`` shares one). Default: True
            unless ``tau = 0``, as KerasSpiking (and any Keras weight) does.
        tau_constraint: constraint on the trained tau.
        level_initializer: None, or an initializer of a trained initial state
            (one level per unit; KerasSpiking's ``level_initializer``).
        initial_level_constraint: constraint on that level.
        apply_during_training: False passes the input through while training
            (the filter acts at inference only).
        return_sequences, return_state, stateful, unroll, time_major: see
            ``TimeStateLayer``.
"""


@keras.saving.register_keras_serializable(package="keras_spiking")
class Lowpass(SynapticFilter):
    """First-order lowpass synapse: ``H(s) = 1 / (tau s + 1)``.

    ``tau dy/dt = x - y``, discretised exactly for an input held over each
    step: ``y[k] = a y[k-1] + (1 - a) x[k]`` with ``a = exp(-dt / tau)``.
    Step response ``y[k] = 1 - exp(-k dt / tau)``.

{args}
    Example::

        spikes = keras_spiking.layers.SpikingLIF()(currents)
        rates = keras_spiking.layers.Lowpass(tau=0.01)(spikes)
    """

    state_names = ("output",)
    order = 1


@keras.saving.register_keras_serializable(package="keras_spiking")
class Alpha(SynapticFilter):
    """Alpha synapse: ``H(s) = 1 / (tau s + 1)^2``, two lowpasses in series.

    ``tau du/dt = x - u``, ``tau dy/dt = u - y``; the impulse response is
    ``t / tau^2 exp(-t / tau)``, peaking at ``t = tau``. Discretised exactly
    for an input held over each step (``a = exp(-dt / tau)``, ``r = dt / tau``):

        y[k] = a y[k-1] + r a u[k-1] + (1 - a - r a) x[k]
        u[k] = a u[k-1] + (1 - a) x[k]

    Step response ``y[k] = 1 - (1 + k dt / tau) exp(-k dt / tau)``. (Two
    ``Lowpass`` layers in series are not the same: the intermediate signal is
    not constant within a step.)

{args}    """

    state_names = ("current", "output")
    order = 2


for _filter in (Lowpass, Alpha):
    _filter.__doc__ = _filter.__doc__.replace("{args}", _ARGS)
