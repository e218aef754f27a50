"""The dynamics core (neurons.Dynamics, charge/fire/reset/step, discretize/continuous)
against plain-numpy references of each face's documented equations."""

import keras
import numpy as np
import pytest

from keras_spiking import layers, neurons

RNG = np.random.default_rng(0)
X = RNG.uniform(-0.5, 1.5, (3, 40, 5)).astype("float32")  # (batch, time, units)


def run_core(d, x):
    """Step ``d`` over axis 1 of ``x`` with ``neurons.step``; spikes and voltages."""
    state = neurons.initial_state(d, keras.ops.convert_to_tensor(x[:, 0]))
    spikes, voltages = [], []
    for t in range(x.shape[1]):
        s, v, state = neurons.step(d, keras.ops.convert_to_tensor(x[:, t]), state)
        spikes.append(None if s is None else keras.ops.convert_to_numpy(s))
        voltages.append(keras.ops.convert_to_numpy(v))
    stack = lambda ys: None if ys[0] is None else np.stack(ys, 1)  # noqa: E731
    return stack(spikes), stack(voltages)


# -- plain numpy references, one per face, written from the documented equations ---------


def ref_leaky(x, beta, threshold=1.0, reset="subtract", alpha=None, w=None, delayed=True):
    """snnTorch: r = H(v[t-1] - thr); v = beta v + I - r thr (subtract) or
    beta v (1 - r) + I (zero); immediate: reset after thresholding."""
    v = np.zeros(x.shape[::2], "float64")
    i = np.zeros_like(v)
    s = np.zeros_like(v)
    spikes, volts = [], []
    for t in range(x.shape[1]):
        inp = x[:, t] + (0 if w is None else (s @ w if w.ndim == 2 else s * w))
        if alpha is not None:
            i = alpha * i + inp
            inp = i
        r = (v > threshold).astype(float) if delayed else 0.0
        if reset == "zero":
            v = beta * v * (1 - r) + inp
        else:
            v = beta * v + inp - (r * threshold if reset == "subtract" else 0)
        s = (v > threshold).astype(float)
        if not delayed:
            v = v - s * threshold if reset == "subtract" else (v * (1 - s) if reset == "zero" else v)
        spikes.append(s)
        volts.append(v)
    return np.stack(spikes, 1), np.stack(volts, 1)


def ref_nengo_lif(x, dt, tau_rc, tau_ref, threshold=1.0, offset=1.0):
    """Nengo's LIF: exact relaxation over the non-refractory part of the step,
    spike time interpolated, reset to 0, voltage floor 0."""
    v = np.zeros(x.shape[::2], "float64")
    ref = np.zeros_like(v)
    spikes = []
    for t in range(x.shape[1]):
        j = x[:, t] + offset
        ref = ref - dt
        dt_eff = np.clip(dt - ref, 0, dt)
        v = j + (v - j) * np.exp(-dt_eff / tau_rc)
        s = v > threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            overshoot = np.clip((v - threshold) / (j - threshold), 0, 1 - 1e-7)
        t_spike = dt + tau_rc * np.log1p(-overshoot)
        ref = np.where(s, tau_ref + t_spike, ref)
        v = np.maximum(np.where(s, 0.0, v), 0.0)
        spikes.append(s / dt)
    return np.stack(spikes, 1)


def ref_nir(x, dt, tau, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0, tau_syn=None,
            w_in=1.0):
    """NIR's LIF / CubaLIF by forward Euler: I += dt/tau_syn (w x - I); v += dt/tau
    (v_leak - v + r I); spike when v > v_threshold, then v = v_reset."""
    v = np.zeros(x.shape[::2], "float64")
    i = np.zeros_like(v)
    spikes = []
    for t in range(x.shape[1]):
        drive = x[:, t]
        if tau_syn is not None:
            i = i + dt / tau_syn * (w_in * x[:, t] - i)
            drive = i
        v = v + dt / tau * (v_leak - v + r * drive)
        s = v > v_threshold
        v = np.where(s, v_reset, v)
        spikes.append(s.astype(float))
    return np.stack(spikes, 1)


def ref_lowpass(x, dt, tau, order):
    """Exact ZOH: lowpass y = a y + (1 - a) x; alpha: two coupled stages."""
    a, r = np.exp(-dt / tau), dt / tau
    u = np.zeros(x.shape[::2], "float64")
    y = np.zeros_like(u)
    out = []
    for t in range(x.shape[1]):
        if order == 1:
            y = a * y + (1 - a) * x[:, t]
        else:
            y, u = a * y + r * a * u + (1 - a - r * a) * x[:, t], a * u + (1 - a) * x[:, t]
        out.append(y)
    return np.stack(out, 1)


# -- the core, driven directly -----------------------------------------------------------


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("delayed", [True, False])
@pytest.mark.parametrize("synaptic", [False, True])
def test_core_step_is_snntorch_leaky(reset, delayed, synaptic):
    d = neurons.Dynamics(decay=0.8, threshold=1.0, reset=reset, reset_delayed=delayed,
                         synapse_decay=0.6 if synaptic else None)
    spikes, volts = run_core(d, X)
    ref_s, ref_v = ref_leaky(X, 0.8, reset=reset, alpha=0.6 if synaptic else None,
                             delayed=delayed)
    np.testing.assert_array_equal(spikes, ref_s)
    np.testing.assert_allclose(volts, ref_v, atol=1e-5)


@pytest.mark.parametrize("kind", ["dense", "one_to_one"])
def test_core_recurrence(kind):
    w = (RNG.normal(0, 0.5, (5, 5)) if kind == "dense" else RNG.normal(0, 0.5, 5)).astype("float32")
    d = neurons.Dynamics(decay=0.9, reset_delayed=True, recurrent=kind, recurrent_kernel=w)
    spikes, _ = run_core(d, X)
    np.testing.assert_array_equal(spikes, ref_leaky(X, 0.9, w=w.astype("float64"))[0])


def test_core_graded_spikes_are_the_floor_of_the_integrated_input():
    d = neurons.Dynamics(decay=1.0, gain=0.5, graded=True, max_spikes=3, reset="subtract")
    x = np.abs(X) * 4
    spikes, volts = run_core(d, x)
    integrated = np.cumsum(0.5 * x.astype("float64"), axis=1)
    # uncapped, the count so far is floor(integral); spikes per step <= 3
    assert spikes.max() <= 3 and spikes.min() >= 0
    uncapped = neurons.Dynamics(decay=1.0, gain=0.5, graded=True, reset="subtract")
    s, _ = run_core(uncapped, x)
    np.testing.assert_array_equal(np.cumsum(s, 1), np.floor(integrated + 1e-5))


def test_core_refractory_step_is_nengo_lif():
    layer = layers.SpikingLIF(dt=0.001, amplitude=1.0)
    spikes, _ = run_core(layer.dynamics("float32"), X * 3)
    np.testing.assert_allclose(spikes, ref_nengo_lif(X * 3, 0.001, 0.02, 0.002), rtol=1e-6)


@pytest.mark.parametrize("tau_syn", [None, 0.005])
def test_core_discretize_euler_is_nir_euler(tau_syn):
    c = neurons.discretize(0.02, 1.5, 0.1, dt=0.001, method="euler", tau_syn=tau_syn, w_in=2.0)
    d = neurons.Dynamics(threshold=1.0, reset="zero", reset_value=0.2, **c)
    spikes, _ = run_core(d, X * 2)
    ref = ref_nir(X * 2, 0.001, 0.02, 1.5, 0.1, v_reset=0.2, tau_syn=tau_syn, w_in=2.0)
    np.testing.assert_array_equal(spikes, ref)


def test_core_discretize_exact_matches_closed_forms():
    # single stage: exact ZOH step response 1 - exp(-k dt / tau)
    c = neurons.discretize(0.01, dt=0.001, method="exact")
    assert c["decay"] == pytest.approx(np.exp(-0.1)) and c["gain"] == pytest.approx(1 - np.exp(-0.1))
    # two stages with tau_syn == tau: alpha step response 1 - (1 + t/tau) exp(-t/tau)
    d = neurons.Dynamics(threshold=None, reset="none", **neurons.discretize(
        0.01, dt=0.001, method="exact", tau_syn=0.01))
    _, y = run_core(d, np.ones((1, 30, 1), "float32"))
    t = np.arange(1, 31) * 0.001
    np.testing.assert_allclose(y[0, :, 0], 1 - (1 + t / 0.01) * np.exp(-t / 0.01), atol=1e-6)
    # tau_syn != tau: the coupled pair against a fine Euler integration of the ODEs
    c = neurons.discretize(0.02, 1.0, dt=0.001, method="exact", tau_syn=0.005)
    d = neurons.Dynamics(threshold=None, reset="none", **c)
    _, y = run_core(d, np.ones((1, 20, 1), "float32"))
    h, v, i = 1e-7, 0.0, 0.0
    for _ in range(int(round(0.02 / h))):
        i, v = i + h / 0.005 * (1 - i), v + h / 0.02 * (-v + i)
    assert y[0, -1, 0] == pytest.approx(v, abs=1e-4)


@pytest.mark.parametrize("method", ["euler", "exact"])
def test_continuous_inverts_discretize(method):
    c = neurons.discretize(np.array([0.01, 0.05]), np.array([1.0, 2.0]), np.array([0.0, 0.3]),
                           dt=0.001, method=method)
    back = neurons.continuous(c["decay"], c["gain"], c["bias"], dt=0.001, method=method)
    np.testing.assert_allclose(back["tau"], [0.01, 0.05])
    np.testing.assert_allclose(back["r"], [1.0, 2.0])
    np.testing.assert_allclose(back["v_leak"], [0.0, 0.3], atol=1e-12)
    no_leak = neurons.continuous(1.0, 0.002, dt=0.001, method=method)
    assert no_leak["tau"] is None and no_leak["r"] == pytest.approx(2.0)


def test_dynamics_rejects_bad_descriptions():
    with pytest.raises(ValueError, match="reset must be one of"):
        neurons.Dynamics(reset="later")
    with pytest.raises(ValueError, match="refractory period needs tau and dt"):
        neurons.Dynamics(refractory=0.002)
    with pytest.raises(ValueError, match="recurrent must be one of"):
        neurons.Dynamics(recurrent="all")
    with pytest.raises(ValueError, match="method must be one of"):
        neurons.discretize(0.01, dt=0.001, method="rk4")


# -- every face is a Dynamics stepped by the core ------------------------------------------

FACES = [
    (lambda: layers.Leaky(beta=0.8), lambda x: ref_leaky(x, 0.8)[0]),
    (lambda: layers.Leaky(beta=0.8, reset="zero", reset_delay=False),
     lambda x: ref_leaky(x, 0.8, reset="zero", delayed=False)[0]),
    (lambda: layers.IF(threshold=1.5), lambda x: ref_leaky(x, 1.0, threshold=1.5)[0]),
    (lambda: layers.Synaptic(alpha=0.6, beta=0.8), lambda x: ref_leaky(x, 0.8, alpha=0.6)[0]),
    (lambda: layers.RLeaky(beta=0.8, all_to_all=False, V=0.3),
     lambda x: ref_leaky(x, 0.8, w=np.full(5, 0.3))[0]),
    (lambda: layers.RSynaptic(alpha=0.6, beta=0.8, all_to_all=False, V=-0.2),
     lambda x: ref_leaky(x, 0.8, alpha=0.6, w=np.full(5, -0.2))[0]),
    (lambda: layers.SpikingIF(dt=0.001, amplitude=1.0, threshold=0.004),
     lambda x: ref_leaky(x * 0.001, 1.0, threshold=0.004, delayed=False)[0] / 0.001),
    (lambda: layers.SpikingLIF(dt=0.001, amplitude=1.0),
     lambda x: ref_nengo_lif(x, 0.001, 0.02, 0.002)),
    (lambda: layers.ContinuousLIF(tau=0.02, r=30.0, v_leak=0.1, dt=0.001),
     lambda x: ref_nir(x, 0.001, 0.02, 30.0, 0.1)),
    (lambda: layers.ContinuousLIF(tau=0.02, r=30.0, tau_syn=0.005, dt=0.001),
     lambda x: ref_nir(x, 0.001, 0.02, 30.0, tau_syn=0.005)),
    (lambda: layers.Lowpass(tau=0.01), lambda x: ref_lowpass(x, 0.001, 0.01, 1)),
    (lambda: layers.Alpha(tau=0.01), lambda x: ref_lowpass(x, 0.001, 0.01, 2)),
]


@pytest.mark.parametrize("make, reference", FACES)
def test_every_face_is_the_core_and_matches_its_reference(make, reference):
    layer = make()
    y = keras.ops.convert_to_numpy(layer(X))
    # the layer's output is the core stepping the layer's own description ...
    spikes, volts = run_core(layer.dynamics("float32"), X)
    np.testing.assert_allclose(y, volts if spikes is None else spikes, rtol=1e-6, atol=1e-6)
    # ... and the description reproduces the face's documented equations
    np.testing.assert_allclose(y, reference(X.astype("float64")), rtol=1e-5, atol=1e-5)
    # the exporters' view holds numbers, not tensors, with the same coefficients
    exported, called = layer.dynamics(), layer.dynamics("float32")
    for field in ("decay", "gain", "threshold", "synapse_decay", "current_gain"):
        value = getattr(exported, field)
        assert value is None or isinstance(value, (float, np.ndarray))
        if value is not None:
            np.testing.assert_allclose(value, keras.ops.convert_to_numpy(getattr(called, field)),
                                       rtol=1e-5)
