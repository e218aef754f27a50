"""Low-latency conversion: QuantizedReLU -> IF (exact at T = L), graded spikes, the
running-mean readout, several inputs and outputs in verify / evaluate."""

import keras
import numpy as np
import pytest

import keras_spiking as ks
from keras_spiking.converters import (
    ConversionError,
    convert,
    evaluate_timesteps,
    export_nir,
    verify,
)
from keras_spiking.layers import QuantizedReLU, RunningMean, SpikingIF

L = keras.layers


def qcfs_model(levels, theta, activation_form=False, seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((5,))
    if activation_form:
        h = L.Dense(7, activation=QuantizedReLU(levels, theta, learn_threshold=False))(inp)
    else:
        h = QuantizedReLU(levels, theta)(L.Dense(7)(inp))
    return keras.Model(inp, L.Dense(3)(h))


def inputs(n=40, seed=1, shape=(5,)):
    return np.random.default_rng(seed).normal(0, 1.5, (n, *shape)).astype("float32")


def predict(model, x):
    y = model(x, training=False)
    if isinstance(y, (list, tuple)):
        return [keras.ops.convert_to_numpy(v) for v in y]
    return keras.ops.convert_to_numpy(y)


@pytest.mark.parametrize("levels", [1, 4, 8])
@pytest.mark.parametrize("activation_form", [False, True])
def test_binary_conversion_is_exact_at_T_equal_levels(levels, activation_form):
    model = qcfs_model(levels, 1.3, activation_form)
    x = inputs()
    snn = convert(model, timesteps=levels, static_input=True)
    neuron = next(layer for layer in snn.layers if isinstance(layer, SpikingIF))
    d = neuron.dynamics()
    # threshold theta (each spike worth theta), theta / 2 to start, reset by subtraction
    assert d.threshold == pytest.approx(1.3 * neuron.dt) and not d.graded
    assert d.initial_voltage == pytest.approx(0.65 * neuron.dt) and d.reset == "subtract"
    assert d.amplitude == pytest.approx(1.3)
    np.testing.assert_allclose(predict(snn, x)[:, -1], predict(model, x), atol=1e-5)
    assert verify(model, x) < 1e-6


def test_graded_conversion_is_exact_at_one_step(tmp_path):
    model = qcfs_model(8, 2.0)
    x = inputs()
    snn = convert(model, timesteps=1, static_input=True, spikes="graded", spike_bits=4)
    np.testing.assert_allclose(predict(snn, x)[:, -1], predict(model, x), atol=1e-5)
    snn.save(tmp_path / "snn.keras")  # graded neurons and the readout survive saving
    np.testing.assert_array_equal(predict(keras.models.load_model(tmp_path / "snn.keras"), x),
                                  predict(snn, x))
    # 2 bits send at most 3 of the 8 levels per step: no longer exact
    few = convert(model, timesteps=1, static_input=True, spikes="graded", spike_bits=2)
    assert np.abs(predict(few, x)[:, -1] - predict(model, x)).max() > 0.1


def test_graded_counts_are_the_floor_of_the_integrated_current():
    bits, theta, dt = 3, 0.5, 0.01
    most = 2 ** bits - 1
    layer = SpikingIF(threshold=theta, amplitude=1.0, dt=dt, graded=True, max_spikes=most)
    x = np.random.default_rng(2).uniform(-50, 600, (4, 30, 6)).astype("float32")
    counts = predict(layer, x) * dt  # a spike is worth amplitude / dt
    v, expected = np.zeros((4, 6)), []
    for t in range(30):
        v = v + x[:, t] * dt
        n = np.clip(np.floor(v / theta), 0, most)
        v = v - n * theta
        expected.append(n)
    np.testing.assert_allclose(counts, np.stack(expected, 1), atol=1e-4)
    assert counts.max() == pytest.approx(most)  # capped at 2**bits - 1
    # uncapped, positive input: the counts so far are floor(integral / threshold)
    small = np.random.default_rng(3).uniform(0, 100, (4, 30, 6)).astype("float32")
    total = np.cumsum(predict(layer, small) * dt, axis=1)
    integral = np.cumsum(small.astype("float64") * dt, axis=1)
    assert np.all(np.abs(total - np.floor(integral / theta + 1e-6)) < 1e-3)
    # rate: min(relu(j) / threshold, max_spikes / dt) * amplitude
    rate = predict(keras.layers.Lambda(layer.rate), np.array([[-1.0, 20.0, 1e4]], "float32"))
    np.testing.assert_allclose(rate, [[0.0, 40.0, most / dt]], rtol=1e-5)


def test_graded_relu_network_energy_and_nir():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), L.Dense(12, activation="relu"), L.Dense(3)])
    x = np.abs(inputs(30, 4, (6,)))
    snn = convert(model, calibration_data=x, timesteps=20, static_input=True,
                  spikes="graded", spike_bits=3, synapse=None)
    neuron = next(layer for layer in snn.layers if isinstance(layer, SpikingIF))
    assert neuron.graded and neuron.max_spikes == 7
    spikes = predict(keras.Model(snn.inputs[0], neuron.output), x)
    counts = spikes * neuron.dt / neuron.amplitude
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)
    assert counts.max() > 1.5  # several spikes per message
    # ModelEnergy counts a graded message of n spikes as n events
    energy = ks.ModelEnergy(snn, example_data=x)
    readout = [row for row in energy.layers if row.macs > 0][-1]
    assert readout.activity == pytest.approx(counts.mean(), rel=1e-4)
    with pytest.raises(ConversionError, match="graded spikes.*spikes='binary'"):
        export_nir(convert(model, timesteps=20, spikes="graded", spike_bits=3))
    binary = convert(model, calibration_data=x, timesteps=20, static_input=True)
    assert np.abs(predict(binary, x)[:, -1] - predict(model, x)).max() > np.abs(
        predict(snn, x)[:, -1] - predict(model, x)).max()  # graded is closer at T = 20


def test_graded_spikes_refused_for_lif_and_bad_options():
    model = keras.Sequential([keras.Input((4,)), L.Dense(3), ks.layers.LIFRate(), L.Dense(2)])
    with pytest.raises(ConversionError, match="graded.*LIF"):
        convert(model, spikes="graded")
    for kwargs, match in ((dict(spikes="burst"), "spikes"), (dict(spike_bits=0), "spike_bits"),
                          (dict(spike_bits=33), "spike_bits"), (dict(readout="max"), "readout"),
                          (dict(readout_fraction=0.0), "readout_fraction"),
                          (dict(readout_fraction=1.5), "readout_fraction")):
        with pytest.raises((ValueError, TypeError), match=match):
            convert(model, **kwargs)
    with pytest.raises(ValueError, match="max_spikes.*graded=True"):
        SpikingIF(max_spikes=3)
    with pytest.raises(ValueError, match="reset='subtract'"):
        SpikingIF(graded=True, reset="zero")


@pytest.mark.parametrize("synapse,fraction", [(0.005, 0.5), (None, 1.0), (0.005, 0.3)])
def test_readout_last_step_is_the_running_mean(synapse, fraction):
    keras.utils.set_random_seed(4)
    model = keras.Sequential([keras.Input((6,)), L.Dense(10, activation="relu"), L.Dense(3)])
    x = inputs(8, 5, (6,))
    options = dict(calibration_data=x, timesteps=25, static_input=True, synapse=synapse)
    chosen = None if fraction != 0.3 else 0.3
    snn = convert(model, readout_fraction=chosen, **options)
    raw = predict(convert(model, readout="last", **options), x)
    readout = [layer for layer in snn.layers if isinstance(layer, RunningMean)]
    assert len(readout) == 1 and readout[0].fraction == fraction
    out = predict(snn, x)
    for t in range(1, 26):
        k = max(1, int(round(fraction * t)))
        np.testing.assert_allclose(out[:, t - 1], raw[:, t - k:t].mean(1), atol=1e-4)


def test_running_mean_layer_with_any_length_and_round_trip(tmp_path):
    x = np.random.default_rng(6).normal(size=(2, 9, 4)).astype("float32")
    fixed = keras.Sequential([keras.Input((9, 4)), RunningMean(0.5)])
    free = keras.Sequential([keras.Input((None, 4)), RunningMean(0.5)])
    np.testing.assert_allclose(predict(free, x), predict(fixed, x), atol=1e-6)
    np.testing.assert_allclose(predict(fixed, x)[:, -1], x[:, -4:].mean(1), atol=1e-6)  # round(4.5) = 4
    fixed.save(tmp_path / "m.keras")
    np.testing.assert_array_equal(predict(keras.models.load_model(tmp_path / "m.keras"), x),
                                  predict(fixed, x))
    with pytest.raises(ValueError, match="fraction"):
        RunningMean(0.0)


def test_evaluate_last_equals_mean_with_the_default_readout():
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.Input((6,)), L.Dense(10, activation="relu"), L.Dense(3)])
    x = inputs(60, 8, (6,))
    y = np.argmax(predict(model, x), -1)
    # synapse="auto" has no synapse here: the readout is the mean since step 1
    snn = convert(model, calibration_data=x, timesteps=16, static_input=True)
    ev = evaluate_timesteps(snn, (x, y), [3, 8, 16], verbose=0, mean_fraction=1.0)
    assert ev.last == ev.mean
    # with synapses the readout skips their warm-up: the mean of the last half
    snn = convert(model, calibration_data=x, timesteps=16, static_input=True, synapse=0.005)
    ev = evaluate_timesteps(snn, (x, y), [3, 8, 16], verbose=0)  # mean_fraction 0.5
    assert ev.last == ev.mean


def two_in_two_out():
    keras.utils.set_random_seed(8)
    a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
    h = L.Concatenate()([L.Dense(8, activation="relu")(a),
                         QuantizedReLU(4, 2.0)(L.Dense(6)(b))])
    return keras.Model([a, b], [L.Dense(3)(h), L.Dense(2)(h)])


def test_verify_and_evaluate_several_inputs_and_outputs():
    model = two_in_two_out()
    xs = [inputs(50, 9), inputs(50, 10, (3,))]
    assert verify(model, xs) < 1e-5
    labels = [np.argmax(y, -1) for y in predict(model, xs)]
    snn = convert(model, calibration_data=xs, timesteps=30, static_input=True)
    ev = evaluate_timesteps(snn, (xs, labels), [10, 30], verbose=0)
    outs = predict(snn, xs)
    for T in (10, 30):
        expected = [float(np.mean(np.argmax(o[:, T - 1], -1) == y))
                    for o, y in zip(outs, labels)]
        assert ev.last[T] == expected
    assert len(ev.table().splitlines()) == 1 + 2 * 2
    with pytest.raises(ValueError, match="2 inputs and 2 outputs"):
        evaluate_timesteps(snn, (xs, labels[0]), [10], verbose=0)
