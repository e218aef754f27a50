"""The discrete update of each neuron and filter layer, as the NIR exporter reads it.

``describe(layer)`` returns a dict that says what the layer computes per step;
the exporter (``export_neurons.py``) turns it into NIR nodes. These functions,
one per layer family, are the only place in the NIR converter that reads a
neuron's or filter's attributes (``beta``, ``tau_rc``, ``coefficients``,
``recurrent_kernel``, ...): when the layers describe themselves (a
``layer.dynamics()`` of the dynamics core), each becomes a one-line call.

The keys (``v`` the voltage, ``x`` the layer's input in one step, ``I`` the
synaptic current):

``dt``
    the step in seconds the update is for, or None (any step: snnTorch's
    neurons are per step).
``decay``, ``gain``, ``bias``
    ``v <- decay v + gain J + bias``, with ``J = x``, or ``J = I`` after a
    synapse (see ``synapse``).
``threshold``
    spike when ``v > threshold``; None: no spikes, the output is ``v``.
``reset``, ``reset_value``, ``reset_timing``
    after a spike ``v`` is set to ``reset_value`` (``"zero"``), lowered by the
    threshold (``"subtract"``) or kept (``"none"``); ``"immediate"`` or
    ``"delayed"`` (snnTorch: the reset acts a step later, which gives the same
    spikes for ``"zero"``).
``synapse``
    None, or ``{"decay": d, "gain": g}``: first ``I <- d I + g x``, then the
    voltage update reads the new ``I`` (forward Euler's order). With
    ``"previous_gain": k`` it is the exact (zero-order hold) solution of the
    coupled ODEs instead: ``v <- decay v + gain x + k I_old + bias``.
``output``
    ``"spikes"``, ``"membrane"`` or ``"both"`` (snnTorch's ``output``);
    ``"state"`` for a filter.
``spike_height``
    the output of one spike (Nengo's neurons: ``amplitude / dt``).
``refractory``
    seconds a neuron ignores its input after a spike (0: none).
``voltage_floor``
    None, or the value ``v`` is clipped at from below after each step.
``initial``
    the starting state: ``"zeros"``, ``"half"``, ``"uniform"`` (voltages) or
    ``"first_input"`` (a filter's steady state for its first input).
``identity``
    True when the layer passes its input through (a filter with ``tau = 0``).
``recurrence``
    None, or ``{"kind": "dense" | "one_to_one" | "convolved", "weights": w}``:
    the previous step's output, weighted by ``w``, is added to the input.
``ode``
    None, or the continuous-time ODE in NIR's parameters (``tau``, ``r``,
    ``v_leak``, ``v_threshold``, ``v_reset``, ``tau_syn``, ``w_in``) with the
    ``integration`` under which the update is its exact discretisation: the
    exporter writes these as they are when its scheme is that one.
"""

import keras
import numpy as np

from keras_spiking import layers as ks_layers

_DEFAULTS = {
    "dt": None,
    "decay": 1.0,
    "gain": 1.0,
    "bias": 0.0,
    "threshold": None,
    "reset": "zero",
    "reset_value": 0.0,
    "reset_timing": "immediate",
    "synapse": None,
    "output": "spikes",
    "spike_height": 1.0,
    "refractory": 0.0,
    "voltage_floor": None,
    "initial": "zeros",
    "identity": False,
    "recurrence": None,
    "ode": None,
}

_DESCRIBERS = {}


def describes(*classes):
    """Register the decorated ``fn(layer) -> description`` for exactly ``classes``."""

    def register(fn):
        """Add ``fn`` for each class; return it unchanged."""
        for cls in classes:
            _DESCRIBERS[cls] = fn
        return fn

    return register


def described_classes():
    """The layer classes ``describe`` knows, in registration order."""
    return tuple(_DESCRIBERS)


def describe(layer):
    """The discrete update of ``layer`` (see the module docstring), or None if its
    class (matched exactly: a subclass may compute something else) is unknown."""
    fn = _DESCRIBERS.get(type(layer))
    return None if fn is None else fn(layer)


def _description(**fields):
    """A full description: ``fields`` over the defaults (unknown keys raise)."""
    unknown = sorted(set(fields) - set(_DEFAULTS))
    if unknown:
        raise TypeError(f"describe: unknown description keys {unknown}.")
    return {**_DEFAULTS, **fields}


def _learned(layer, name):
    """A snnTorch neuron's parameter: its trained weight if it has one, else the value."""
    variable = getattr(layer, f"{name}_variable", None)
    if variable is not None:
        return keras.ops.convert_to_numpy(variable).astype("float64")
    return np.asarray(getattr(layer, name), "float64")


def _filter_tau(layer):
    """A filter's time constant in seconds: the trained one when ``learn_tau``."""
    if layer.tau_variable is None:
        return layer.tau
    return float(keras.ops.convert_to_numpy(layer.tau_variable))


def _recurrent_weights(layer):
    """The recurrent kernel of a built recurrent layer, as float64."""
    return keras.ops.convert_to_numpy(layer.recurrent_kernel).astype("float64")


@describes(ks_layers.SpikingLIF)
def _spiking_lif(layer):
    """Nengo's LIF: ``v <- decay v + (1 - decay)(x + offset)``, ``decay = exp(-dt/tau_rc)``,
    reset to 0, refractory period ``tau_ref``, voltage clipped at 0."""
    decay = np.exp(-layer.dt / layer.tau_rc)
    return _description(
        dt=layer.dt, decay=decay, gain=1 - decay, bias=(1 - decay) * layer.offset,
        threshold=layer.threshold, reset="zero", spike_height=layer.amplitude / layer.dt,
        refractory=layer.tau_ref, voltage_floor=0.0, initial=layer.initial_voltage,
    )


@describes(ks_layers.SpikingIF)
def _spiking_if(layer):
    """Spiking ReLU: ``v <- v + dt x``, spikes of ``amplitude / dt``."""
    return _description(
        dt=layer.dt, decay=1.0, gain=layer.dt, bias=0.0, threshold=layer.threshold,
        reset=layer.reset, spike_height=layer.amplitude / layer.dt,
        initial=layer.initial_voltage,
    )


@describes(ks_layers.Lowpass)
def _lowpass(layer):
    """``y <- a y + (1 - a) x``, ``a = exp(-dt / tau)``; ``tau = 0`` passes ``x`` through."""
    if layer.tau == 0 and not layer.learn_tau:
        return _description(dt=layer.dt, identity=True, output="state",
                            initial=layer.initial_value)
    a = float(np.exp(-layer.dt / _filter_tau(layer)))
    return _description(dt=layer.dt, decay=a, gain=1 - a, bias=0.0, output="state",
                        initial=layer.initial_value)


@describes(ks_layers.Alpha)
def _alpha(layer):
    """Two lowpasses of ``tau`` in series, solved exactly (``a = exp(-dt/tau)``,
    ``q = dt/tau``): ``u <- a u + (1 - a) x``, ``y <- a y + q a u_old + (1 - a - q a) x``;
    NIR's CubaLI with ``tau_syn = tau_mem = tau`` under exact integration."""
    if layer.tau == 0 and not layer.learn_tau:
        return _description(dt=layer.dt, identity=True, output="state",
                            initial=layer.initial_value)
    tau = _filter_tau(layer)
    a, q = float(np.exp(-layer.dt / tau)), layer.dt / tau
    return _description(
        dt=layer.dt, decay=a, gain=1 - a - q * a, bias=0.0, output="state",
        synapse={"decay": a, "gain": 1 - a, "previous_gain": q * a},
        initial=layer.initial_value,
        ode={"integration": "exact", "tau": tau, "tau_syn": tau, "r": 1.0, "v_leak": 0.0,
             "w_in": 1.0, "v_threshold": None, "v_reset": 0.0},
    )


@describes(ks_layers.Leaky, ks_layers.IF, ks_layers.Synaptic, ks_layers.RLeaky,
           ks_layers.RSynaptic)
def _leaky(layer):
    """snnTorch's neurons: ``I <- alpha I + x`` (Synaptic), ``v <- beta v + J``,
    ``alpha`` and ``beta`` clipped to [0, 1] as the layers do."""
    synapse = None
    if layer.synaptic:
        synapse = {"decay": np.clip(_learned(layer, "alpha"), 0, 1), "gain": 1.0}
    recurrence = None
    if layer.recurrent:
        if not layer.all_to_all:
            kind = "one_to_one"
        else:
            kind = "dense" if layer.recurrent_kernel_size is None else "convolved"
        recurrence = {"kind": kind, "weights": _recurrent_weights(layer)}
    return _description(
        decay=np.clip(_learned(layer, "beta"), 0, 1), gain=1.0, bias=0.0,
        threshold=_learned(layer, "threshold"), reset=layer.reset,
        reset_timing="delayed" if layer.reset_delay else "immediate",
        synapse=synapse, output=layer.output_mode, recurrence=recurrence,
    )


@describes(ks_layers.ContinuousLIF)
def _continuous_lif(layer):
    """NIR's neurons as one layer: its ``coefficients`` are the discrete update,
    its parameters the ODE under its ``integration``."""
    c = layer.coefficients
    synapse = None
    if layer.tau_syn is not None:
        synapse = {"decay": c["i_decay"], "gain": c["i_gain"]}
        if "i_old_gain" in c:
            synapse["previous_gain"] = c["i_old_gain"]
    recurrence = None
    if layer.recurrent is not None:
        recurrence = {"kind": layer.recurrent, "weights": _recurrent_weights(layer)}
    ode = {k: getattr(layer, k)
           for k in ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in")}
    return _description(
        dt=layer.dt, decay=c["decay"], gain=c["x_gain"], bias=c["bias"],
        threshold=layer.v_threshold, reset="zero", reset_value=layer.v_reset,
        synapse=synapse, output="spikes" if layer.spiking else "membrane",
        recurrence=recurrence, ode={"integration": layer.integration, **ode},
    )
