"""ModelEnergy: counts against hand-computed values, measured activity, energies."""

import keras
import numpy as np
import pytest

from keras_spiking import energy as E
from keras_spiking.converters import convert
from keras_spiking.layers import Leaky, Lowpass, RepeatTime, TimeFold


def counts(layer, input_shape):
    """(macs, neurons) of ``layer`` in a one-layer model, via ModelEnergy."""
    inp = keras.Input(input_shape)
    model = keras.Model(inp, layer(inp))
    (stats,) = E.ModelEnergy(model).layers
    return stats.macs, stats.neurons


@pytest.mark.parametrize("layer, input_shape, expected", [
    (keras.layers.Dense(5), (7,), (35, 0)),
    (keras.layers.Dense(5, activation="relu"), (7,), (35, 5)),
    (keras.layers.Dense(5), (3, 7), (105, 0)),  # Dense on every row
    # 9x9x3 -> 4x4x4 outputs, each 3*3 kernel x 3 channels
    (keras.layers.Conv2D(4, 3, strides=2), (9, 9, 3), (4 * 4 * 4 * 27, 0)),
    # 'same' with stride 2: ceil(9/2) = 5 -> 5x5x4 outputs
    (keras.layers.Conv2D(4, 3, strides=2, padding="same"), (9, 9, 3), (5 * 5 * 4 * 27, 0)),
    # groups=3: each output sees 3*3 kernel x 1 channel; 7x7x6 outputs
    (keras.layers.Conv2D(6, 3, groups=3), (9, 9, 3), (7 * 7 * 6 * 9, 0)),
    (keras.layers.Conv1D(2, 4, activation="relu"), (10, 3), (7 * 2 * 12, 14)),
    (keras.layers.Conv2D(2, 3, data_format="channels_first"), (3, 5, 5), (3 * 3 * 2 * 27, 0)),
    # depthwise, multiplier 2: 7x7x6 outputs, each 3*3 kernel of one channel
    (keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (9, 9, 3), (7 * 7 * 6 * 9, 0)),
    (keras.layers.AveragePooling2D(2), (8, 8, 3), (4 * 4 * 3 * 4, 0)),
    (keras.layers.GlobalAveragePooling2D(), (8, 8, 3), (192, 0)),
    (keras.layers.MaxPooling2D(2), (8, 8, 3), (0, 0)),
    (keras.layers.ReLU(), (8, 3), (0, 24)),
    (keras.layers.Activation("linear"), (8, 3), (0, 0)),
    (keras.layers.Flatten(), (8, 3), (0, 0)),
])
def test_counts(layer, input_shape, expected):
    assert counts(layer, input_shape) == expected


def test_timefold_counts_per_step():
    inp = keras.Input((None, 9, 9, 3))  # any number of steps
    x = TimeFold(keras.layers.Conv2D(4, 3, strides=2))(inp)
    x = Leaky(beta=0.9)(x)
    x = TimeFold(keras.layers.Flatten())(x)
    x = TimeFold(keras.layers.Dense(10))(x)
    energy = E.ModelEnergy(keras.Model(inp, x))
    assert [(s.macs, s.neurons) for s in energy.layers] == [
        (4 * 4 * 4 * 27, 0), (0, 64), (0, 0), (64 * 10, 0)]
    assert energy.macs == 1728 + 640 and energy.neurons == 64


def quarter_spikes(batch=4, steps=10, n=8):
    """Spike trains with exactly 2 of every 8 inputs spiking at every step."""
    rng = np.random.default_rng(0)
    x = np.zeros((batch, steps, n), "float32")
    for b in range(batch):
        for t in range(steps):
            x[b, t, rng.choice(n, 2, replace=False)] = 1.0
    return x


def spiking_model(filtered=False):
    inp = keras.Input((None, 8))
    x = Lowpass(tau=0.01, dt=0.001)(inp) if filtered else inp
    x = TimeFold(keras.layers.Dense(3))(x)
    return keras.Model(inp, Leaky(beta=0.9)(x))


@pytest.mark.parametrize("filtered", [False, True])
def test_activity_and_energy(filtered):
    energy = E.ModelEnergy(spiking_model(filtered), quarter_spikes())
    dense = energy.layers[-2]
    # a synaptic filter is linear: the events are the spikes before it
    assert dense.activity == pytest.approx(0.25)
    assert dense.synops == pytest.approx(0.25 * 24)
    assert energy.synops == pytest.approx(6) and energy.neurons == 3
    loihi, cpu = E.DEVICES["loihi"], E.DEVICES["cpu"]
    expected = 7 * (6 * loihi.energy_per_synop + 3 * loihi.energy_per_neuron)
    assert energy.total_energy("loihi", timesteps=7) == pytest.approx(expected)
    ann = 24 * cpu.energy_per_op + 3 * cpu.energy_per_neuron
    assert energy.total_energy("cpu", timesteps=7) == pytest.approx(ann)
    assert energy.total_energy("cpu", timesteps=1) == pytest.approx(ann)


def test_spiking_device_needs_example_data():
    energy = E.ModelEnergy(spiking_model())
    assert energy.layers[0].activity is None and energy.synops == energy.macs
    with pytest.raises(ValueError, match="example_data"):
        energy.total_energy("loihi", timesteps=5)
    lines = []
    energy.summary(devices=("cpu", "loihi"), timesteps=5, print_fn=lines.append)
    assert "loihi: skipped" in lines[0]
    with pytest.raises(ValueError, match="timesteps must be an integer >= 1"):
        energy.total_energy("cpu", timesteps=0)


def test_register_device():
    try:
        device = E.register_device("test-chip", spiking=True, energy_per_synop=2e-12,
                                   energy_per_neuron=5e-12, source="made up")
        assert E.ModelEnergy.register_device is E.register_device
        energy = E.ModelEnergy(spiking_model(), quarter_spikes())
        assert energy.total_energy(device, 2) == pytest.approx(2 * (6 * 2e-12 + 3 * 5e-12))
        assert energy.total_energy("test-chip", 2) == energy.total_energy(device, 2)
    finally:
        E.DEVICES.pop("test-chip", None)
    with pytest.raises(ValueError, match="energy_per_synop must be >= 0, got -1"):
        E.register_device("bad", spiking=True, energy_per_synop=-1, energy_per_neuron=0)
    with pytest.raises(ValueError, match="needs energy_per_op"):
        E.register_device("bad", spiking=False, energy_per_neuron=1e-9)
    with pytest.raises(ValueError, match="not used by a spiking device"):
        E.register_device("bad", spiking=True, energy_per_synop=1e-12,
                          energy_per_neuron=1e-12, energy_per_op=1e-9)
    with pytest.raises(TypeError, match="spiking must be True or False"):
        E.register_device("bad", spiking=1, energy_per_op=1e-9, energy_per_neuron=1e-9)
    assert "bad" not in E.DEVICES
    energy = E.ModelEnergy(spiking_model())
    with pytest.raises(ValueError, match=r"unknown device 'tpu'.*\['cpu', 'gpu', 'loihi'"):
        energy.total_energy("tpu")


def test_unknown_layer_with_weights_warns():
    inp = keras.Input((6, 6, 2))
    model = keras.Model(inp, keras.layers.SeparableConv2D(3, 3)(inp))
    with pytest.warns(UserWarning, match="no counting rule"):
        E.ModelEnergy(model)


def test_converted_model_end_to_end():
    keras.utils.set_random_seed(1)
    ann = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"),
                            keras.layers.Dense(3)])
    x = np.random.default_rng(1).uniform(0, 1, (32, 6)).astype("float32")
    snn = convert(ann, timesteps=20, static_input=True, calibration_data=x)
    energy = E.ModelEnergy(snn, x)
    by_type = {s.type: s for s in energy.layers}
    first, readout = energy.layers[0], energy.layers[-1]
    assert (first.macs, readout.macs) == (6 * 16, 16 * 3)
    assert first.once and not readout.once  # the first layer sees the static input
    assert energy.totals(once=True)[0] == 6 * 16 and energy.macs == 16 * 3
    assert by_type["SpikingIF"].neurons == 16
    neuron = next(layer for layer in snn.layers if type(layer).__name__ == "SpikingIF")
    spikes = keras.Model(snn.inputs, neuron.output).predict(x, verbose=0)
    assert 0 < readout.activity < 1
    assert readout.activity == pytest.approx(np.mean(spikes != 0), rel=1e-5)
    loihi = E.DEVICES["loihi"]
    expected = (first.synops * loihi.energy_per_synop
                + 20 * (readout.synops * loihi.energy_per_synop
                        + 16 * loihi.energy_per_neuron))
    assert energy.total_energy("loihi", timesteps=20) == pytest.approx(expected)
    lines = []
    energy.summary(devices=("cpu", "gpu", "loihi"), timesteps=20, print_fn=lines.append)
    assert "Energy per inference on loihi (20 steps" in lines[0]
    assert "* once per inference" in lines[0]


def test_recurrent_weights_and_last_step_output():
    from keras_spiking.layers import RLeaky

    inp = keras.Input((None, 8))
    x = TimeFold(keras.layers.Dense(5))(inp)
    x = RLeaky(beta=0.9)(x)  # all-to-all 5x5 feedback of its own spikes
    x = TimeFold(keras.layers.Dense(2))(x)
    y = RLeaky(beta=0.9, all_to_all=False, return_sequences=False)(x)
    model = keras.Model(inp, y)
    energy = E.ModelEnergy(model, quarter_spikes())
    rows = {s.name: s for s in energy.layers}
    first, second = (layer.name for layer in model.layers if type(layer) is RLeaky)
    assert (rows[first].neurons, rows[f"{first}/recurrent"].macs) == (5, 25)
    assert (rows[second].neurons, rows[f"{second}/recurrent"].macs) == (2, 2)
    spikes = keras.Model(inp, model.get_layer(first).output).predict(quarter_spikes(),
                                                                    verbose=0)
    assert rows[f"{first}/recurrent"].activity == pytest.approx(np.mean(spikes != 0))
    # the last layer only returns its final step: its feedback is not measured
    assert rows[f"{second}/recurrent"].activity is None


def test_example_data_must_be_arrays():
    with pytest.raises(TypeError, match="example_data must be an array"):
        E.ModelEnergy(spiking_model(), example_data=iter([quarter_spikes()]))


@pytest.mark.parametrize("recurrent, macs", [("dense", 16), ("one_to_one", 4)])
def test_recurrent_weights_of_imported_continuous_neurons(recurrent, macs):
    # ContinuousLIF(recurrent=...) is what import_nir builds for NIR cycles; its
    # feedback is read from the dynamics core's description (failed before: it
    # read the Leaky family's all_to_all / output_mode attributes)
    from keras_spiking.layers import ContinuousLIF

    inp = keras.Input((6, 3))
    x = TimeFold(keras.layers.Dense(4))(inp)
    y = ContinuousLIF(tau=0.02, r=20.0, recurrent=recurrent)(x)
    model = keras.Model(inp, y)
    kernel = np.eye(4, dtype="float32") * 0.5 if recurrent == "dense" else np.full(4, 0.5, "float32")
    model.layers[-1].recurrent_kernel.assign(kernel)
    data = np.random.default_rng(0).uniform(0, 1, (8, 6, 3)).astype("float32")
    energy = E.ModelEnergy(model, data)
    rows = {s.name: s for s in energy.layers}
    name = model.layers[-1].name
    assert rows[name].neurons == 4 and rows[f"{name}/recurrent"].macs == macs
    spikes = model.predict(data, verbose=0)
    assert rows[f"{name}/recurrent"].activity == pytest.approx(np.mean(spikes != 0))
