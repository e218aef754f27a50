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
from keras import ops

from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.neurons import Dynamics, discretize
from keras_spiking.validation import check_bool, check_choice, check_number

#: Accepted ``initial_value`` values.
INITIAL_VALUES = ("zeros", "first_input")


class SynapticFilter(DynamicsLayer):
    """Shared machinery of the filters (not used directly): ``tau``, ``dt``,
    ``initial_value``, ``learn_tau``. Every state variable starts at 0 or at
    the first input (the filter's steady state for that input). Subclasses
    set ``order`` (1: lowpass, 2: alpha)."""

    state_dtype = "float32"  # float16 state drifts over long runs

    def __init__(
        self,
        tau,
        dt=0.001,
        initial_value="zeros",
        learn_tau=False,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
            **kwargs,
        )
        check_number(self.name, "tau", tau, low=0)
        check_number(self.name, "dt", dt, low=0, low_open=True)
        check_choice(self.name, "initial_value", initial_value, INITIAL_VALUES)
        check_bool(self.name, "learn_tau", learn_tau)
        if learn_tau and tau == 0:
            raise ValueError(
                f"{self.name}: learn_tau=True needs tau > 0 to start from, got tau=0."
            )
        self.tau = float(tau)
        self.dt = float(dt)
        self.initial_value = initial_value
        self.learn_tau = learn_tau
        self.tau_variable = None

    def build(self, input_shape):
        super().build(input_shape)
        if self.learn_tau:
            self.tau_variable = self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(self.tau),
                constraint=keras.constraints.NonNeg(),
                name="tau",
            )

    def tau_value(self, dtype=None):
        """The current ``tau``, clamped below at ``dt / 1000`` (where
        ``exp(-dt / tau)`` is 0 in float32 anyway): ``tau = 0`` passes the input
        through, and every coefficient and its gradient stays finite."""
        tau = self.tau if self.tau_variable is None else self.tau_variable
        if dtype is None:
            return max(float(keras.ops.convert_to_numpy(tau)), 1e-3 * self.dt)
        return ops.maximum(ops.cast(tau, dtype), 1e-3 * self.dt)

    def dynamics(self, dtype=None):
        """Exact zero-order-hold lowpass (order 1) or alpha (order 2) filter."""
        tau = self.tau_value(dtype)
        c = discretize(tau, dt=self.dt, method="exact", tau_syn=tau if self.order == 2 else None)
        return Dynamics(threshold=None, reset="none", **c)

    def initial_state(self, inputs):
        x_0 = inputs[:, 0]
        value = x_0 if self.initial_value == "first_input" else ops.zeros_like(x_0)
        return tuple(value for _ in self.state_names)

    def get_config(self):
        config = super().get_config()
        config.update(
            tau=self.tau,
            dt=self.dt,
            initial_value=self.initial_value,
            learn_tau=self.learn_tau,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class Lowpass(SynapticFilter):
    """First-order lowpass synapse: ``H(s) = 1 / (tau s + 1)``.

    ``tau dy/dt = x - y``, discretised exactly for an input held over each
    step: ``y[k] = a y[k-1] + (1 - a) x[k]`` with ``a = exp(-dt / tau)``.
    Step response ``y[k] = 1 - exp(-k dt / tau)``.

    Args:
        tau: time constant, seconds (>= 0; 0 = no filtering).
        dt: simulation timestep, seconds (> 0).
        initial_value: ``"zeros"`` or ``"first_input"`` (start in the steady
            state of the first input).
        learn_tau: make ``tau`` a trainable weight (kept >= 0).
        return_sequences, return_state, stateful: see ``TimeStateLayer``.

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

    Args:
        tau: time constant, seconds (>= 0; 0 = no filtering).
        dt: simulation timestep, seconds (> 0).
        initial_value: ``"zeros"`` or ``"first_input"``.
        learn_tau: make ``tau`` a trainable weight (kept >= 0).
        return_sequences, return_state, stateful: see ``TimeStateLayer``.
    """

    state_names = ("current", "output")
    order = 2
