"""Spiking neuron layers: rates, numpy references, state, saving, errors."""

import numpy as np
import pytest
import keras

from keras_spiking.layers import SpikingIF, SpikingLIF
from keras_spiking.neurons import lif_rate

DT = 0.001


def run(layer, x, batch_size=None):
    """Run ``layer`` on numpy ``x`` as a compiled model (fast long scans)."""
    inputs = keras.Input(x.shape[1:], batch_size=batch_size)
    model = keras.Model(inputs, layer(inputs))
    return model.predict(x, verbose=0, batch_size=len(x))


def constant_currents(currents, steps):
    currents = np.asarray(currents, "float32")
    return np.broadcast_to(currents, (1, steps) + currents.shape).copy()


def nengo_lif_reference(j, dt, tau_rc, tau_ref, threshold, amplitude, v0):
    """Nengo's LIF step (nengo/neurons.py, LIF.step), float64, any threshold."""
    j = np.asarray(j, "float64")
    v = np.array(v0, "float64") + np.zeros(j.shape[:1] + j.shape[2:])
    ref = np.zeros_like(v)
    spikes, voltages = [], []
    for t in range(j.shape[1]):
        jt = j[:, t]
        ref = ref - dt
        delta_t = np.clip(dt - ref, 0, dt)
        v = v - (jt - v) * np.expm1(-delta_t / tau_rc)
        spiked = v > threshold
        with np.errstate(divide="ignore", invalid="ignore"):
            t_spike = dt + tau_rc * np.log1p(-(v - threshold) / (jt - threshold))
        v = np.maximum(v, 0.0)
        v[spiked] = 0.0
        ref[spiked] = tau_ref + t_spike[spiked]
        spikes.append(spiked * amplitude / dt)
        voltages.append(v.copy())
    return np.stack(spikes, 1), np.stack(voltages, 1)


def if_reference(j, dt, threshold, amplitude, reset, v0=0.0):
    v = np.array(v0, "float64") + np.zeros(j.shape[:1] + j.shape[2:])
    spikes, voltages = [], []
    for t in range(j.shape[1]):
        v = v + j[:, t].astype("float64") * dt
        spiked = v > threshold
        v = v - spiked * threshold if reset == "subtract" else np.where(spiked, 0.0, v)
        spikes.append(spiked * amplitude / dt)
        voltages.append(v.copy())
    return np.stack(spikes, 1), np.stack(voltages, 1)


# -- mean rates over a long run match the rate functions ------------------------------
@pytest.mark.parametrize(
    "kwargs", [{}, {"tau_rc": 0.05, "tau_ref": 0.001, "threshold": 0.5, "amplitude": 2.0}]
)
def test_lif_mean_rate_matches_lif_rate(kwargs):
    steps = 2000
    currents = [0.3, 0.9, 1.2, 2.0, 5.0, 10.0, 40.0]
    layer = SpikingLIF(dt=DT, **kwargs)
    y = run(layer, constant_currents(currents, steps))
    expected = np.asarray(layer.rate(np.asarray(currents, "float32")))
    amplitude = kwargs.get("amplitude", layer.amplitude)
    # one spike more or less over the run: amplitude / (T dt)
    np.testing.assert_array_less(np.abs(y.mean(1)[0] - expected), amplitude / (steps * DT) + 1e-4)
    assert expected.max() > 100 * amplitude  # the run covers high rates


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_if_mean_rate_matches_rate(reset):
    steps = 3000
    currents = [-20.0, 0.0, 3.3, 47.0, 123.0, 530.0, 999.0, 1500.0]
    layer = SpikingIF(threshold=0.7, amplitude=0.5, dt=DT, reset=reset)
    y = run(layer, constant_currents(currents, steps))
    expected = np.asarray(layer.rate(np.asarray(currents, "float32")))
    np.testing.assert_array_less(np.abs(y.mean(1)[0] - expected), 0.5 / (steps * DT) + 1e-4)
    if reset == "subtract":  # amplitude * relu(j) / threshold, saturating at 1/dt
        relu = np.maximum(currents, 0) / 0.7 * 0.5
        np.testing.assert_allclose(expected, np.minimum(relu, 0.5 / DT), rtol=1e-6)


def test_lif_rate_equals_lifrate_layer():
    from keras_spiking.layers import LIFRate

    x = np.linspace(-1, 10, 50).astype("float32")
    np.testing.assert_allclose(SpikingLIF().rate(x), LIFRate()(x), rtol=1e-6)
    np.testing.assert_allclose(
        SpikingLIF(offset=0.3).rate(x), LIFRate(offset=0.3)(x), rtol=1e-6
    )


# -- step by step against plain numpy ---------------------------------------------------
def test_lif_matches_nengo_reference():
    rng = np.random.default_rng(0)
    j = rng.uniform(-1, 8, size=(3, 60, 4)).astype("float32")
    kw = dict(tau_rc=0.03, tau_ref=0.004, threshold=1.3, amplitude=0.1)
    layer = SpikingLIF(dt=DT, return_state=True, offset=0.0, **kw)
    spikes, (voltage, ref) = layer(j)
    ref_spikes, ref_v = nengo_lif_reference(j, DT, v0=0.0, **kw)
    np.testing.assert_array_equal(np.asarray(spikes), ref_spikes.astype("float32"))
    np.testing.assert_allclose(np.asarray(voltage), ref_v[:, -1], atol=1e-5)
    assert ref_spikes.sum() > 20


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_if_matches_numpy_reference(reset):
    rng = np.random.default_rng(1)
    j = rng.uniform(-200, 600, size=(2, 50, 6)).astype("float32")
    layer = SpikingIF(threshold=0.8, amplitude=3.0, dt=DT, reset=reset,
                      initial_voltage="half", return_state=True)
    spikes, (voltage,) = layer(j)
    ref_spikes, ref_v = if_reference(j, DT, 0.8, 3.0, reset, v0=0.4)
    np.testing.assert_array_equal(np.asarray(spikes), ref_spikes.astype("float32"))
    np.testing.assert_allclose(np.asarray(voltage), ref_v[:, -1], atol=1e-5)
    assert ref_spikes.sum() > 20


def test_binary_spikes_and_saturation():
    y = np.asarray(SpikingLIF(tau_ref=0.0, amplitude=1.0)(constant_currents([1e6], 20)))
    assert set(np.unique(y)) <= {0.0, 1.0 / DT}
    y = np.asarray(SpikingIF()(constant_currents([1e6], 20)))
    np.testing.assert_array_equal(y, 1.0 / DT)


@pytest.mark.parametrize("cls", [SpikingLIF, SpikingIF])
def test_float16_policy(cls):
    keras.config.set_dtype_policy("mixed_float16")  # reset by conftest
    steps, currents = 1000, [1.5, 5.0, 30.0] if cls is SpikingLIF else [30.0, 123.0, 470.0]
    layer = cls(amplitude=1.0)
    assert keras.backend.standardize_dtype(layer(np.ones((1, 2, 1))).dtype) == "float16"
    y = run(layer, constant_currents(currents, steps))
    expected = np.asarray(layer.rate(np.asarray(currents, "float32")), "float32")
    mean = np.asarray(y, "float32").mean(1)[0]
    np.testing.assert_array_less(np.abs(mean - expected), 1.0 / (steps * DT) + 1e-3)


# -- state ----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SpikingLIF, SpikingIF])
def test_stateful_chunks_equal_one_run(cls):
    rng = np.random.default_rng(2)
    scale = 5.0 if cls is SpikingLIF else 400.0
    x = (scale * rng.uniform(0, 1, size=(2, 90, 3))).astype("float32")
    kw = dict(initial_voltage="uniform", seed=3)
    whole = cls(**kw)(x)
    layer = cls(stateful=True, **kw)
    inputs = keras.Input((30, 3), batch_size=2)
    model = keras.Model(inputs, layer(inputs))
    chunks = [model(x[:, i:i + 30]) for i in range(0, 90, 30)]
    np.testing.assert_allclose(np.concatenate(chunks, 1), whole, atol=1e-6)
    layer.reset_state()
    np.testing.assert_allclose(model(x[:, :30]), chunks[0], atol=1e-6)


def test_uniform_initial_voltage_seeded_and_in_range():
    x = np.zeros((4, 3, 5, 5, 2), "float32")
    a, b = SpikingLIF(initial_voltage="uniform", seed=7, threshold=2.0), SpikingLIF(
        initial_voltage="uniform", seed=7, threshold=2.0)
    c = SpikingLIF(initial_voltage="uniform", seed=8, threshold=2.0)
    for layer in (a, b, c):
        layer(x)
    v0 = np.asarray(a.voltage0)
    assert v0.shape == (5, 5, 2)
    np.testing.assert_array_equal(v0, np.asarray(b.voltage0))
    assert not np.allclose(v0, np.asarray(c.voltage0))
    assert v0.min() >= 0 and v0.max() < 2.0 and v0.std() > 0.3
    # the same initial state for every sample and every call
    _, (v, _) = SpikingLIF(initial_voltage="uniform", seed=7, threshold=2.0,
                           offset=0.0, return_state=True)(x)
    np.testing.assert_allclose(v, np.broadcast_to(v0 * np.exp(-0.003 / 0.02), v.shape), rtol=1e-5)


@pytest.mark.parametrize("cls", [SpikingLIF, SpikingIF])
def test_any_trailing_shape_and_return_sequences(cls):
    x = np.random.default_rng(4).uniform(0, 900, size=(2, 7, 5, 5, 3)).astype("float32")
    full = np.asarray(cls()(x))
    assert full.shape == x.shape
    last = np.asarray(cls(return_sequences=False)(x))
    np.testing.assert_array_equal(last, full[:, -1])
    assert cls(return_sequences=False).compute_output_shape((2, 7, 5, 5, 3)) == (2, 5, 5, 3)


# -- saving and config ---------------------------------------------------------------
def test_keras_round_trip(tmp_path):
    x = np.random.default_rng(5).uniform(0, 5, size=(2, 8, 6)).astype("float32")
    inputs = keras.Input((8, 6))
    h = SpikingLIF(tau_rc=0.03, initial_voltage="uniform", seed=1, amplitude=0.2)(inputs)
    outputs = SpikingIF(threshold=0.5, reset="zero", initial_voltage="uniform")(h)
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


# -- errors ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (SpikingLIF, {"dt": 0}, "dt must be > 0"),
        (SpikingLIF, {"tau_rc": -0.01}, "tau_rc must be > 0"),
        (SpikingLIF, {"tau_ref": -1}, "tau_ref must be >= 0"),
        (SpikingLIF, {"threshold": 0}, "threshold must be > 0"),
        (SpikingLIF, {"amplitude": -1}, "amplitude must be > 0"),
        (SpikingLIF, {"initial_voltage": "random"}, "initial_voltage must be one of"),
        (SpikingIF, {"reset": "none"}, "reset must be one of"),
        (SpikingIF, {"dt": float("nan")}, "dt must be finite"),
    ],
)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_bad_types_and_shapes():
    with pytest.raises(TypeError, match="seed must be None or an integer"):
        SpikingLIF(seed=1.5)
    with pytest.raises(TypeError, match="threshold must be a number"):
        SpikingIF(threshold="1")
    with pytest.raises(ValueError, match=r"expected inputs shaped \(batch, time"):
        SpikingLIF()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="fixed batch size"):
        SpikingIF(stateful=True)(keras.Input((3, 4)))
