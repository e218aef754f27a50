"""The discrete update of each neuron and filter layer, as the NIR exporter reads it.

``describe(layer)`` returns a dict that says what the layer computes per step;
the exporter (``export_neurons.py``) turns it into NIR nodes. It is read from
the layer's ``dynamics()`` (``keras_spiking.neurons.Dynamics``, the one
description every neuron and filter gives of itself), plus the few facts of
the face that NIR needs to know (its output, its initial state by name, and
the continuous-time parameters of the layers that have them).

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
``graded``
    True when the neuron sends a spike count per step (graded spikes), which
    NIR cannot carry.
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

import numpy as np

from keras_spiking import layers as ks_layers
from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer

_DEFAULTS = {
    "dt": None,
    "decay": 1.0,
    "gain": 1.0,
    "bias": 0.0,
    "threshold": None,
    "reset": "zero",
    "reset_value": 0.0,
    "reset_timing": "immediate",
    "graded": False,
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

#: the face classes the exporter knows (matched exactly: a subclass may compute something else)
DESCRIBED = (
    ks_layers.SpikingLIF, ks_layers.SpikingIF, ks_layers.Lowpass, ks_layers.Alpha,
    ks_layers.Leaky, ks_layers.IF, ks_layers.Synaptic, ks_layers.RLeaky, ks_layers.RSynaptic,
    ks_layers.ContinuousLIF,
)
_NIR_PARAMETERS = ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in")


def described_classes():
    """The layer classes ``describe`` knows."""
    return DESCRIBED


def _array(value):
    return None if value is None else np.asarray(value, "float64")


def _output(layer, d):
    """What the layer returns per step: its spikes, its voltage, or a filter's state."""
    if hasattr(layer, "output_mode"):  # the Leaky family's ``output``
        return layer.output_mode
    if facts_of(layer).role == "filter":
        return "state"
    return "spikes" if d.spiking else "membrane"


def _initial(layer):
    """The initial state by name: "zeros", "half", "uniform", "first_input" or "trained"."""
    if getattr(layer, "initial_level", None) is not None:
        return "trained"
    return getattr(layer, "initial_voltage", None) or getattr(layer, "initial_value", "zeros")


def _ode(layer):
    """The continuous-time parameters of a face that has them, with the
    integration under which the layer's update is their exact discretisation."""
    if type(layer) is ks_layers.ContinuousLIF:
        return {"integration": layer.integration,
                **{k: getattr(layer, k) for k in _NIR_PARAMETERS}}
    if type(layer) is ks_layers.Alpha:  # CubaLI with tau_syn = tau_mem = tau, exact
        tau = layer.tau_value()
        return {"integration": "exact", "tau": tau, "tau_syn": tau, "r": 1.0, "v_leak": 0.0,
                "w_in": 1.0, "v_threshold": None, "v_reset": 0.0}
    return None


def describe(layer):
    """The discrete update of ``layer`` (see the module docstring), or None if its
    class (matched exactly) is not one the exporter knows."""
    if type(layer) not in DESCRIBED or not isinstance(layer, DynamicsLayer):
        return None
    d = layer.dynamics()
    decay = _array(d.decay)
    if d.gain is None:  # relaxation form: v <- decay v + (1 - decay)(x + offset)
        gain, bias = 1.0 - decay, (1.0 - decay) * _array(d.offset)
    else:
        gain, bias = _array(d.gain), _array(d.bias) + _array(d.gain) * _array(d.offset)
    synapse = None
    if d.synaptic:
        synapse = {"decay": _array(d.synapse_decay), "gain": _array(d.synapse_gain)}
        if d.current_gain is not None:
            synapse["previous_gain"] = _array(d.current_gain)
    recurrence = None
    if d.recurrent is not None:
        kind = "convolved" if d.recurrent == "conv" else d.recurrent
        recurrence = {"kind": kind, "weights": _array(d.recurrent_kernel)}
    identity = facts_of(layer).role == "filter" and layer.tau == 0 and not layer.learn_tau
    return {
        **_DEFAULTS,
        "dt": getattr(layer, "dt_value", lambda: getattr(layer, "dt", None))(),
        "decay": decay, "gain": gain, "bias": bias,
        "threshold": _array(d.threshold),
        "reset": d.reset if d.spiking else _DEFAULTS["reset"],
        "reset_value": _array(d.reset_value),
        "reset_timing": "delayed" if d.reset_delayed else "immediate",
        "graded": bool(d.graded),
        "synapse": synapse,
        "output": _output(layer, d),
        "spike_height": float(d.amplitude),
        "refractory": d.refractory or 0.0,
        "voltage_floor": d.min_voltage,
        "initial": _initial(layer),
        "identity": identity,
        "recurrence": recurrence,
        "ode": _ode(layer),
    }
