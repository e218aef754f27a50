"""Export of the package's neurons and filters: one rule over their descriptions.

Every neuron or filter class that ``describe.py`` knows is exported by
``_neuron`` from its description (the discrete update per step). The NIR
node is chosen so that the export's integration scheme reproduces that
update exactly (the mappings are in the package docstring):

* a description with an ``ode`` whose scheme is the export's: the ODE's
  parameters as they are (ContinuousLIF, and Alpha under "exact");
* one stage, ``v <- decay v + gain x + bias``: LIF / IF (spiking) or LI / I;
* a synaptic current in forward Euler's order, under "euler": CubaLIF.

What NIR cannot express raises, or is noted as an approximation the caller
must accept by name (``Exporter.allow``).
"""

import numpy as np

from .library import load_nir
from keras_spiking.neurons import continuous

from .describe import describe, described_classes
from .errors import export_error
from .exporter import exports
from .layout import Port, f32

nir = load_nir()


@exports(*described_classes(), per_step=False)
def _neuron(exporter, layer, inputs, out_shape):
    """A neuron or filter -> its NIR node, a cycle for its recurrence, and a Scale
    for spikes whose height is not 1."""
    (port,) = inputs
    if not layer.return_sequences or layer.return_state:
        raise export_error(layer, "return_sequences=False or return_state=True changes its "
                           "outputs", "export with return_sequences=True, return_state=False")
    d = describe(layer)
    dt = exporter.dt
    if d["dt"] is not None and not np.isclose(d["dt"], dt, rtol=1e-9, atol=0):
        raise export_error(layer, f"its dt={d['dt']} differs from the export's dt={dt}",
                           "export with the layer's dt")
    if d["identity"]:
        return port
    _check_semantics(exporter, layer, d)
    node = _node(exporter, layer, d, port)
    exporter.check_allowed(layer)
    name = exporter.add(layer.name, node, [port])
    if d["recurrence"] is not None:
        _recurrence(exporter, layer, d["recurrence"], port, name)
    out = Port([name], port.keras_shape, port.order)
    if d["spike_height"] != 1:
        node = nir.Scale(scale=np.full(port.order.shape, d["spike_height"], "float32"))
        out = Port([exporter.add(f"{layer.name}_amplitude", node, [out])], port.keras_shape,
                   port.order)
    return out


def _check_semantics(exporter, layer, d):
    """Raise for what NIR's neurons cannot do; note what they can only approximate."""
    spiking = d["threshold"] is not None
    if spiking and d["output"] != "spikes":
        raise export_error(layer, f"output={d['output']!r}; NIR neurons output spikes",
                           "use output='spikes'")
    if d.get("graded"):
        raise export_error(layer, "it sends graded spikes (a count per step); NIR's "
                           "neurons send binary spikes", "convert with spikes='binary'")
    if d["refractory"] > 0:
        exporter.allow("refractory", f"NIR's LIF has no refractory period "
                       f"(tau_ref={d['refractory']})", "use tau_ref=0")
    if d["voltage_floor"] is not None:
        exporter.allow("voltage_floor", f"it clips its voltage at {d['voltage_floor']:g} (as "
                       "Nengo does); NIR's LIF does not, so spikes differ after negative input")
    if spiking and d["reset"] == "subtract":
        exporter.allow("subtract_reset", "NIR's neurons reset to v_reset, not by "
                       "subtracting the threshold", "use reset='zero'")
    elif spiking and d["reset"] == "none":
        raise export_error(layer, "NIR's spiking neurons always reset", "use reset='zero'")
    if d["initial"] == "first_input":
        raise export_error(layer, "NIR starts every state at 0", "use initial_value='zeros'")
    if d["initial"] != "zeros":
        exporter.allow("initial_voltage", f"NIR starts every voltage at 0 "
                       f"(initial_voltage={d['initial']!r})", "use initial_voltage='zeros'")


def _node(exporter, layer, d, port):
    """The NIR node of the description ``d`` under the export's integration."""
    ode = d["ode"]
    if ode is not None and ode["integration"] == exporter.integration:
        return _ode_node(ode, port)
    if d["synapse"] is None:
        return single_stage(exporter, layer, port, d["decay"], d["gain"], d["bias"],
                            d["threshold"], d["reset_value"])
    return _two_stage(exporter, layer, d, port)


def _ode_node(ode, port):
    """The NIR node of the ODE ``ode`` (NIR's parameters), in NIR's layout."""
    p = {k: None if ode[k] is None else f32(port.to_nir(ode[k]))
         for k in ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in")}
    if p["tau_syn"] is not None:
        if p["v_threshold"] is None:
            return nir.CubaLI(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],
                              v_leak=p["v_leak"], w_in=p["w_in"])
        return nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],
                           v_leak=p["v_leak"], v_threshold=p["v_threshold"],
                           v_reset=p["v_reset"], w_in=p["w_in"])
    if p["tau"] is None:
        if p["v_threshold"] is None:
            return nir.I(r=p["r"])
        return nir.IF(r=p["r"], v_threshold=p["v_threshold"], v_reset=p["v_reset"])
    if p["v_threshold"] is None:
        return nir.LI(tau=p["tau"], r=p["r"], v_leak=p["v_leak"])
    return nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["v_leak"],
                   v_threshold=p["v_threshold"], v_reset=p["v_reset"])


def single_stage(exporter, layer, port, decay, gain, bias, threshold, v_reset=0.0):
    """The NIR node whose chosen discretisation is ``v <- decay v + gain x + bias``.

    No leak (``decay = 1``): IF/I with ``r = gain / dt``. Else LIF/LI with
    ``r = gain / (1 - decay)``, ``v_leak = bias / (1 - decay)`` and
    ``tau = dt / (1 - decay)`` (Euler) or ``-dt / log(decay)`` (exact).
    """
    dt = exporter.dt
    decay, gain, bias = (port.to_nir(v) for v in (decay, gain, bias))
    thr = None if threshold is None else f32(port.to_nir(threshold))
    reset = f32(port.to_nir(v_reset))
    if np.all(decay == 1):
        if np.any(bias != 0):
            raise export_error(layer, "a constant input without leak has no NIR form",
                               "add a leak or a bias in the layer before")
        r = f32(gain / dt)
        return nir.I(r=r) if thr is None else nir.IF(r=r, v_threshold=thr, v_reset=reset)
    if np.any(decay >= 1):
        raise export_error(layer, "some of its neurons leak and some do not",
                           "use one kind per layer")
    if exporter.integration == "exact" and np.any(decay <= 0):
        raise export_error(layer, "a decay of 0 has no exact-integration time constant",
                           "export with integration='euler'")
    ode = continuous(decay, gain, bias, dt=dt, method=exporter.integration)
    tau, r, v_leak = (f32(ode[k]) for k in ("tau", "r", "v_leak"))
    if thr is None:
        return nir.LI(tau=tau, r=r, v_leak=v_leak)
    return nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=thr, v_reset=reset)


def _two_stage(exporter, layer, d, port):
    """A synaptic current then the voltage: CubaLIF (CubaLI), exact only for the
    forward-Euler form under "euler": ``tau_syn = dt / (1 - d_I)``,
    ``w_in = g_I / (1 - d_I)``, ``tau_mem = dt / (1 - decay)``,
    ``r = gain / (1 - decay)``, ``v_leak = bias / (1 - decay)``."""
    synapse = d["synapse"]
    native = "exact" if "previous_gain" in synapse else "euler"
    if native != "euler" or exporter.integration != "euler":
        raise export_error(
            layer, f"its two-stage update (a synaptic current, then the voltage) has an "
            f"exact NIR form only under integration={native!r}",
            f"export with integration={native!r}",
        )
    if np.any(synapse["decay"] >= 1) or np.any(d["decay"] >= 1):
        raise export_error(layer, "alpha = 1 or beta = 1 (no decay) has no CubaLIF form",
                           "use alpha, beta < 1")
    i_decay, i_gain, decay, gain, bias = (
        port.to_nir(v) for v in (synapse["decay"], synapse["gain"], d["decay"], d["gain"],
                                 d["bias"]))
    current = continuous(i_decay, i_gain, dt=exporter.dt, method="euler")
    voltage = continuous(decay, gain, bias, dt=exporter.dt, method="euler")
    params = dict(tau_syn=f32(current["tau"]), tau_mem=f32(voltage["tau"]),
                  r=f32(voltage["r"]), v_leak=f32(voltage["v_leak"]), w_in=f32(current["r"]))
    if d["threshold"] is None:
        return nir.CubaLI(**params)
    return nir.CubaLIF(v_threshold=f32(port.to_nir(d["threshold"])),
                       v_reset=f32(port.to_nir(d["reset_value"])), **params)


def _recurrence(exporter, layer, recurrence, port, name):
    """A recurrent layer's weight as a cycle ``name -> weight -> name`` (NIR's cycle
    carries the previous step's output): Scale one-to-one, Linear dense."""
    kernel = recurrence["weights"]
    if recurrence["kind"] == "one_to_one":
        node = nir.Scale(scale=f32(port.to_nir(kernel)))
    elif recurrence["kind"] == "dense" and len(port.keras_shape) == 1:
        node = nir.Linear(weight=np.asarray(kernel.T, "float32"))
    else:
        raise export_error(layer, "only dense or one-to-one recurrence on vectors is exported",
                           "use recurrent_kernel_size=None on a flat input")
    weight = exporter.add(f"{name}_recurrent", node, [Port([name], port.keras_shape, port.order)])
    exporter.connect(weight, name)
