"""``ContinuousLIF``: the continuous-time neuron family of NIR as one Keras layer.

NIR (the Neuromorphic Intermediate Representation) writes neurons as ODEs in
seconds. This layer simulates the whole family as a face of the dynamics core
(``keras_spiking.neurons``; coefficients from ``neurons.discretize``) at a step of ``dt`` seconds, with the
input current ``x`` held constant over each step and the state starting at 0::

    tau_syn dI/dt = -I + w_in x                   (only if tau_syn is given: Cuba*)
    tau     dv/dt = (v_leak - v) + r J            (J = I, or x without tau_syn)
            dv/dt = r J                           (tau=None: no leak, IF / I)
    spike s = 1 when v > v_threshold, then v <- v_reset (in the same step)

====================  ======  ==========  ==============
NIR node              tau     tau_syn     v_threshold
====================  ======  ==========  ==============
LIF                   set     None        set
IF                    None    None        set
LI                    set     None        None
I                     None    None        None
CubaLIF               set     set         set
CubaLI                set     set         None
====================  ======  ==========  ==============

The output is the 0/1 spike train when ``v_threshold`` is set, else the
voltage ``v``. Two discretisations (per step of ``h = dt`` seconds):

* ``"euler"`` (forward Euler, what NIR's other tools use):
  ``I <- I + h/tau_syn (w_in x - I)``, then with that new ``I``
  ``v <- v + h/tau (v_leak - v + r I)``; without leak ``v <- v + h r J``.
* ``"exact"`` (zero-order hold): the linear ODEs solved exactly over the step
  for the input held constant: ``v <- e v + (1 - e)(v_leak + r J)`` with
  ``e = exp(-h/tau)``; with a synaptic current the coupled pair is solved
  exactly too (for ``tau_syn = tau`` this is the ``Alpha`` filter's update).

The two give visibly different spike counts when ``h`` is not much smaller
than ``tau``; use the one the graph was exported for.
"""

import keras
import numpy as np
from keras import ops

from keras_spiking import surrogates
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.neurons import Dynamics, discretize
from keras_spiking.validation import check_choice, check_number

#: accepted ``integration`` values
INTEGRATIONS = ("euler", "exact")
#: accepted ``recurrent`` values
RECURRENT = (None, "dense", "one_to_one")


def _param(owner, name, value, **bounds):
    """A float, or a float64 numpy array for per-neuron values."""
    if isinstance(value, str) or isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a number or an array of numbers, got {value!r}.")
    value = check_number(owner, name, value, allow_array=True, **bounds)
    return float(value) if np.ndim(value) == 0 else np.asarray(value, "float64")


def _const(value):
    """A Python float when scalar (folds into the graph), else a float32 array."""
    if np.ndim(value) == 0:
        return float(value)
    return np.asarray(value, "float32")


def _to_config(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


@keras.saving.register_keras_serializable(package="keras_spiking")
class ContinuousLIF(DynamicsLayer):
    state_dtype = "float32"  # float16 state drifts over long runs

    __doc__ = (
        __doc__.split("\n\n", 1)[1]
        + """
    Args:
        tau: membrane time constant, seconds (> 0), or None for no leak.
        r: resistance (input gain), scalar or per neuron.
        v_leak: leak (resting) voltage; needs ``tau``.
        v_threshold: spike threshold, or None for a non-spiking integrator.
        v_reset: voltage after a spike.
        tau_syn: synaptic time constant, seconds (> 0), or None (no current).
        w_in: input weight of the synaptic current (with ``tau_syn``).
        dt: simulation step, seconds (> 0).
        integration: ``"euler"`` (default) or ``"exact"``.
        recurrent: None (default); ``"dense"``: the input gains
            ``y[t-1] @ recurrent_kernel`` (a ``(units, units)`` weight, flat
            inputs); ``"one_to_one"``: ``y[t-1] * recurrent_kernel`` (one
            weight per neuron). ``y`` is the layer's output: NIR's cycle
            neuron -> Linear/Scale -> neuron, with one step of delay. The
            weight starts at 0 (``set_weights`` sets it; ``import_nir`` does).
        surrogate: spike function for training (``keras_spiking.surrogates``);
            forward it is the exact step.
        return_sequences, return_state, stateful: see ``TimeStateLayer``.

    Every parameter is a scalar or an array that broadcasts to the neurons'
    shape (the input shape after batch and time). Inputs ``(batch, time, ...)``.

    Example (NIR ``LIF(tau=0.02, r=1, v_leak=0, v_threshold=1)`` at 1 ms)::

        x = keras.Input((100, 32))
        spikes = keras_spiking.layers.ContinuousLIF(tau=0.02, dt=0.001)(x)
    """
    )

    def __init__(self, tau=0.02, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, tau_syn=None,
            w_in=1.0, dt=0.001, integration="euler", recurrent=None, surrogate="atan", **kwargs):
        super().__init__(**kwargs)
        name = self.name
        self.tau = None if tau is None else _param(name, "tau", tau, low=0, low_open=True)
        self.r = _param(name, "r", r)
        self.v_leak = _param(name, "v_leak", v_leak)
        self.v_threshold = None if v_threshold is None else _param(name, "v_threshold", v_threshold)
        self.v_reset = _param(name, "v_reset", v_reset)
        self.tau_syn = (
            None if tau_syn is None else _param(name, "tau_syn", tau_syn, low=0, low_open=True)
        )
        self.w_in = _param(name, "w_in", w_in)
        self.dt = float(check_number(name, "dt", dt, low=0, low_open=True))
        self.integration = check_choice(name, "integration", integration, INTEGRATIONS)
        self.recurrent = check_choice(name, "recurrent", recurrent, RECURRENT)
        self.recurrent_kernel = None
        self.surrogate = surrogates.get(surrogate, owner=f"{name}: surrogate")
        if self.tau is None and np.any(np.asarray(self.v_leak) != 0):
            raise ValueError(
                f"{name}: v_leak={_to_config(self.v_leak)!r} needs a leak time constant; "
                "pass tau (seconds) or v_leak=0."
            )
        if self.tau is None and self.tau_syn is not None:
            raise ValueError(
                f"{name}: a synaptic current (tau_syn={_to_config(self.tau_syn)!r}) needs "
                "a membrane time constant tau (NIR's CubaLIF/CubaLI); pass tau."
            )

    @property
    def state_names(self):
        names = ("current", "voltage") if self.tau_syn is not None else ("voltage",)
        return names + ("output",) * (self.recurrent is not None)

    @property
    def spiking(self):
        return self.v_threshold is not None

    def build(self, input_shape):
        super().build(input_shape)
        neuron_shape = self.unit_shape(input_shape)
        for key, value in self.get_config().items():
            if key in ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in"):
                shape = np.shape(value)
                try:
                    fits = np.broadcast_shapes(shape, neuron_shape) == neuron_shape
                except ValueError:
                    fits = False
                if not fits:
                    raise ValueError(
                        f"{self.name}: {key} has shape {shape}, which does not broadcast "
                        f"to the neurons' shape {neuron_shape}; pass a scalar or one "
                        "value per neuron."
                    )
        if self.recurrent == "dense" and len(neuron_shape) != 1:
            raise ValueError(
                f"{self.name}: recurrent='dense' needs flat inputs (batch, time, units), "
                f"got input shape {tuple(input_shape)}; use recurrent='one_to_one'."
            )
        if self.recurrent is not None:
            shape = neuron_shape * 2 if self.recurrent == "dense" else neuron_shape
            self.recurrent_kernel = self.add_weight(
                shape=shape, initializer="zeros", name="recurrent_kernel"
            )

    def dynamics(self, dtype=None):
        """NIR's ODEs discretised by ``neurons.discretize`` (``integration``),
        reset to ``v_reset`` in the step a spike is emitted."""
        c = discretize(
            self.tau, self.r, self.v_leak, dt=self.dt, method=self.integration,
            tau_syn=self.tau_syn, w_in=self.w_in,
        )
        if dtype is not None:
            c = {key: _const(value) for key, value in c.items()}
        kernel = self.recurrent_kernel
        if kernel is not None:
            kernel = keras.ops.convert_to_numpy(kernel) if dtype is None else ops.cast(kernel, dtype)
        fixed = _const if dtype is not None else (lambda value: value)
        return Dynamics(
            threshold=fixed(self.v_threshold) if self.spiking else None,
            reset="zero" if self.spiking else "none",
            reset_value=fixed(self.v_reset),
            spike_fn=self.surrogate,
            recurrent=self.recurrent,
            recurrent_kernel=kernel,
            **c,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            tau=_to_config(self.tau),
            r=_to_config(self.r),
            v_leak=_to_config(self.v_leak),
            v_threshold=_to_config(self.v_threshold),
            v_reset=_to_config(self.v_reset),
            tau_syn=_to_config(self.tau_syn),
            w_in=_to_config(self.w_in),
            dt=self.dt,
            integration=self.integration,
            recurrent=self.recurrent,
            surrogate=surrogates.serialize(self.surrogate),
        )
        return config
