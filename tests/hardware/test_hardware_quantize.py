"""quantize(model, profile): values on the integer grid, and the quantised
model's arithmetic equal to a numpy integer simulation of the chip."""

import keras
import numpy as np
import pytest

from keras_spiking import layers as L
from keras_spiking.converters import quantize_weights
from keras_spiking.hardware import get_profile, integer_grid, quantize, quantize_decay

K = keras.layers
RNG = np.random.default_rng(0)


def spikes(batch, steps, n):
    return (RNG.random((batch, steps, n)) < 0.4).astype("float32")


def one_layer(neuron, n_in=6, units=5, steps=30, bias=True):
    inp = keras.Input((steps, n_in))
    dense = K.Dense(units, use_bias=bias, kernel_initializer=keras.initializers.RandomNormal(
        0.3, 0.6, seed=1), bias_initializer=keras.initializers.Constant(0.05))
    return keras.Model(inp, neuron(dense(inp)))


def trunc_decay(v, big, bits):  # Loihi: right shift towards zero
    return np.sign(v) * ((np.abs(v) * big) // 2 ** bits)


def shift_decay(v, dash):  # Xylo: v - (v >> dash)
    return v - np.floor(v / 2.0 ** dash)


def integer_reference(x, w, b, thr, decay_fn, state_bits, *, synapse_fn=None, delayed=True):
    """Integer simulation of Dense + (Synaptic)Leaky with reset by subtraction."""
    top = 2.0 ** (state_bits - 1)
    sat = lambda a: np.clip(a, -top, top - 1)  # noqa: E731
    v = np.zeros((x.shape[0], w.shape[1]))
    i = np.zeros_like(v)
    out_s, out_v = [], []
    for t in range(x.shape[1]):
        j = x[:, t] @ w + b
        prev = (v > thr).astype(float)
        if synapse_fn is not None:
            i = sat(synapse_fn(i) + j)
            j = i
        v = sat(decay_fn(v) + j)
        if delayed:
            v = v - prev * thr
            s = (v > thr).astype(float)
        else:
            s = (v > thr).astype(float)
            v = v - s * thr
        out_s.append(s)
        out_v.append(v)
    return np.stack(out_s, 1), np.stack(out_v, 1)


def grid_parts(model, q_model, per_channel=False):
    dense = next(la for la in q_model.layers if isinstance(la, K.Dense))
    neuron = q_model.layers[-1]
    w = keras.ops.convert_to_numpy(dense.kernel).astype("float64")
    q = np.asarray(neuron.integer_state["quantum"])
    k = w / q
    b = keras.ops.convert_to_numpy(dense.bias).astype("float64") / q if dense.use_bias else 0
    thr = np.asarray(neuron.threshold, "float64") / q
    return q, k, b, thr


@pytest.mark.parametrize("per_channel", [False, True])
def test_loihi2_leaky_layer_equals_integer_simulation(per_channel):
    model = one_layer(L.Leaky(beta=0.83, threshold=1.3, output="both"))
    q_model, report = quantize(model, "loihi2", per_channel=per_channel)
    q, k, b, thr = grid_parts(model, q_model)
    assert q.shape == ((5,) if per_channel else ())
    # everything on the grid: integers within 8 bits, a 12-bit decay
    np.testing.assert_allclose(k, np.round(k), atol=1e-6)
    assert np.max(np.abs(np.round(k))) == 127 * 2 ** 6  # lava-dl: state = weights << 6
    np.testing.assert_allclose(b, np.round(b), atol=1e-6)
    np.testing.assert_allclose(thr, np.round(thr), atol=1e-6)
    beta = q_model.layers[-1].beta
    assert beta * 4096 == round(beta * 4096) and abs(beta - 0.83) <= 0.5 / 4096
    x = spikes(3, 30, 6)
    s, v = q_model.predict(x, verbose=0)
    ref_s, ref_v = integer_reference(x, np.round(k), np.round(b), np.round(thr),
                                     lambda v: trunc_decay(v, round(beta * 4096), 12), 24)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(np.asarray(v) / q, ref_v, atol=1e-3)
    assert ref_s.mean() > 0.05  # the neurons do spike
    assert {r.what for r in report.values} == {"kernel", "bias", "threshold", "beta"}


def test_xylo_synaptic_layer_shift_decays_equal_integer_simulation():
    neuron = L.Synaptic(alpha=0.7, beta=0.9, threshold=1.0, output="both", reset_delay=False)
    model = one_layer(neuron, bias=False)
    q_model, _ = quantize(model, "xylo-audio2")
    q, k, _, thr = grid_parts(model, q_model)
    layer = q_model.layers[-1]
    dash_a, dash_b = np.log2(1 / (1 - layer.alpha)), np.log2(1 / (1 - layer.beta))
    assert (dash_a, dash_b) == (round(np.log2(1 / 0.3)), round(np.log2(1 / 0.1)))  # 2, 3
    x = spikes(2, 30, 6)
    s, v = q_model.predict(x, verbose=0)
    ref_s, ref_v = integer_reference(x, np.round(k), 0.0, np.round(thr),
                                     lambda v: shift_decay(v, dash_b), 16,
                                     synapse_fn=lambda i: shift_decay(i, dash_a),
                                     delayed=False)
    np.testing.assert_array_equal(s, ref_s)
    np.testing.assert_allclose(np.asarray(v) / q, ref_v, atol=1e-3)


def test_state_saturates_at_the_profile_bits():
    model = one_layer(L.Leaky(beta=1.0, threshold=1e6, reset="none", output="membrane"),
                      bias=False)
    q_model, _ = quantize(model, "generic-int8")
    q = q_model.layers[-1].integer_state["quantum"]
    x = np.ones((1, 30, 6), "float32")
    v = q_model.predict(x, verbose=0) / q
    assert np.all(v <= 2 ** 15 - 1) and np.all(v >= -2 ** 15)
    assert np.all(np.abs(v - np.round(v)) < 1e-3)


def test_converted_spiking_if_network_quantum_includes_spike_value():
    inp = keras.Input((20, 4))
    x = L.SpikingIF(amplitude=0.5, dt=0.001)(K.Dense(6)(inp))
    out = L.SpikingIF(dt=0.001)(K.Dense(3)(x))
    model = keras.Model(inp, out)
    q_model, report = quantize(model, "loihi2")
    second = q_model.layers[-1]
    w_scale = next(r.scale for r in report.values if r.what == "kernel"
                   and r.layer == q_model.layers[-2].name)
    # inputs are spikes worth amplitude/dt, the gain is dt: q = s * 0.5
    np.testing.assert_allclose(second.integer_state["quantum"], float(w_scale) * 0.5 / 2 ** 6)
    y = q_model.predict(np.abs(RNG.normal(size=(2, 20, 4))).astype("float32") * 50, verbose=0)
    assert np.isfinite(y).all()


def test_decay_grids():
    np.testing.assert_array_equal(quantize_decay([0.9, 1.0, 0.0], "loihi2"),
                                  np.round(np.array([0.9, 1.0, 0.0]) * 4096) / 4096)
    # Xylo: dash = round(log2(tau/dt)), tau/dt = 1/(1 - decay) for Euler
    tau_over_dt = np.array([1.5, 3.0, 20.0, 100.0])
    got = quantize_decay(1 - 1 / tau_over_dt, "xylo-audio2")
    np.testing.assert_allclose(got, 1 - 2.0 ** -np.round(np.log2(tau_over_dt)))
    assert quantize_decay(1.0, "xylo-audio2") == 1.0


def test_quantize_weights_is_the_same_grid():
    model = one_layer(L.Leaky(beta=0.9))
    q_model, _ = quantize(model, "generic-int8")
    w_model, _ = quantize_weights(model, bits=8)
    np.testing.assert_array_equal(q_model.layers[1].kernel.numpy(), w_model.layers[1].kernel.numpy())
    k, scale = integer_grid(model.layers[1].kernel.numpy(), 8)
    np.testing.assert_allclose(q_model.layers[1].kernel.numpy(), k * scale, rtol=1e-6)


def test_round_trip_report_and_skipped_layers(tmp_path):
    inp = keras.Input((10, 4))
    x = L.Leaky(beta=0.9, learn_beta=True, learn_threshold=True)(K.Dense(8)(inp))
    x = L.SpikingLIF(amplitude=0.01)(K.Dense(6)(x))
    out = L.Lowpass(0.01)(K.Dense(3)(x))
    model = keras.Model(inp, out)
    data = RNG.random((16, 10, 4)).astype("float32")
    labels = RNG.integers(0, 3, 16)
    q_model, report = quantize(model, "loihi2", (data, labels))
    skipped = dict(report.skipped)
    assert "refractory" in skipped[model.layers[4].name]
    assert "no integer form" in skipped[model.layers[6].name]
    assert 0 <= report.accuracy_after <= 1 and report.agreement is not None
    assert "accuracy" in str(report)
    leaky = q_model.layers[2]
    beta = float(leaky.beta_variable.numpy())
    assert beta * 4096 == round(beta * 4096)
    path = tmp_path / "q.keras"
    q_model.save(path)
    loaded = keras.saving.load_model(path)
    assert loaded.layers[2].integer_state == leaky.integer_state
    np.testing.assert_allclose(loaded.predict(data, verbose=0), q_model.predict(data, verbose=0),
                               atol=1e-6)


def test_unknown_profile_and_bad_input():
    model = one_layer(L.Leaky(beta=0.9))
    with pytest.raises(ValueError, match="known profiles are"):
        quantize(model, "tpu")
    with pytest.raises(TypeError, match="expected a keras.Model"):
        quantize("model.keras", "loihi2")
    with pytest.raises(ValueError, match="integer_state quantum"):
        L.Leaky(beta=0.9, integer_state={"quantum": 0.0})
    assert get_profile("loihi2").decay_bits == 12


def test_converted_static_input_model_is_checked_and_quantised():
    from keras_spiking.converters import convert

    ann = keras.Sequential([keras.Input((6, 6, 1)), K.Conv2D(3, 3), K.ReLU(), K.Flatten(),
                            K.Dense(4), K.ReLU(), K.Dense(2)])
    x = RNG.random((8, 6, 6, 1)).astype("float32")
    snn = convert(ann, calibration_data=x, timesteps=6, static_input=True, synapse=None)
    q_model, report = quantize(snn, "loihi2", x)
    assert report.skipped == []  # the neuron after the once-computed Conv is quantised too
    assert sum(r.what == "threshold" for r in report.values) == 2
    assert report.agreement is not None
