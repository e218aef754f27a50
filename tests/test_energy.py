"""ModelEnergy: counts against hand-computed values, measured activity, energies;
KerasSpiking 0.3's interface (layer_stats, summary columns, register_layer/device)."""

import keras
import numpy as np
import pytest

import keras_spiking
from keras_spiking import energy as E
from keras_spiking.config import default
from keras_spiking.converters import convert
from keras_spiking.layers import Leaky, Lowpass, RepeatTime, SpikingActivation, TimeFold


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
    first, readout = energy.layers[0], energy.layers[-2]  # [-1]: the RunningMean readout
    assert energy.layers[-1].type == "RunningMean" and energy.layers[-1].macs == 0
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


# -- KerasSpiking 0.3's interface ------------------------------------------------------------


def two_layer_model():
    """6 inputs -> Dense(4, relu), every weight 0.5 -> Dense(3)."""
    inp = keras.Input((6,))
    hidden = keras.layers.Dense(4, activation="relu", kernel_initializer="zeros")
    model = keras.Model(inp, keras.layers.Dense(3)(hidden(inp)))
    hidden.kernel.assign(np.full((6, 4), 0.5, "float32"))
    return model


HALF_ON = np.tile(np.array([[1, 0, 1, 0, 1, 0]], "float32"), (5, 1))  # 3 of 6 inputs on


def test_two_layer_model_hand_computed():
    model = two_layer_model()
    first, second = model.layers[1], model.layers[2]
    energy = keras_spiking.ModelEnergy(model, example_data=HALF_ON)
    # connections 6*4 and 4*3; relu= counts 4 neurons (non-spiking), Dense(3) none
    assert energy.layer_stats[first] == {"connections": 24, "neurons": 4, "spiking": False}
    assert energy.layer_stats[second] == {"connections": 12, "neurons": 0, "spiking": True}
    rows = energy.node_stats[second]
    assert len(rows) == 1 and rows[0].connections == 12
    # the first layer's inputs: 3 of 6 nonzero -> 0.5 events per input per step;
    # the relu outputs relu(3 * 0.5) = 1.5, read as a rate of 1.5 Hz
    assert energy.node_stats[first][0].activity == pytest.approx(0.5)
    assert rows[0].rate == pytest.approx(1.5)
    for T in (1, 5):  # non-spiking devices: one pass, every connection
        for name in ("cpu", "gpu", "arm"):
            d = E.DEVICES[name]
            assert energy.total_energy(name, timesteps_per_inference=T) == pytest.approx(
                36 * d.energy_per_op + 4 * d.energy_per_neuron)
    assert E.DEVICES["arm"].energy_per_op == 0.9e-9
    # spiking: 5 steps; 24 * 0.5 events, 12 * 1.5 Hz * dt events, 4 neuron updates
    for name in ("loihi", "spinnaker", "spinnaker2"):
        d = E.DEVICES[name]
        for dt, rate_dt in ((None, default.dt), (0.002, 0.002)):
            synops = 24 * 0.5 + 12 * 1.5 * rate_dt
            expected = 5 * (synops * d.energy_per_synop + 4 * d.energy_per_neuron)
            assert energy.total_energy(name, 5, dt) == pytest.approx(expected)
    loihi = E.DEVICES["loihi"]
    synop, neuron = energy.layer_energy(second, "loihi", timesteps_per_inference=5)
    assert synop == pytest.approx(5 * 12 * 1.5 * default.dt * loihi.energy_per_synop)
    assert neuron == 0
    assert energy.layer_energy(first.name, "loihi", 5) == pytest.approx(
        (5 * 12 * loihi.energy_per_synop, 5 * 4 * loihi.energy_per_neuron))
    # this package's form: one total per row
    assert energy.layer_energy("loihi", 5) == pytest.approx(
        [sum(energy.layer_energy(layer, "loihi", 5)) for layer in (first, second)])


@pytest.mark.parametrize("steps", [None, 7])
def test_timedistributed_counts_per_step(steps):
    inp = keras.Input((steps, 5, 4))  # None: any number of steps
    td = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="relu"))
    x = keras.layers.TimeDistributed(keras.layers.Flatten())(td(inp))
    model = keras.Model(inp, keras.layers.Dense(2)(x))  # Dense over (batch, time, 15)
    energy = keras_spiking.ModelEnergy(model, example_data=np.ones((3, 4, 5, 4), "float32")
                                       if steps is None else np.ones((3, 7, 5, 4), "float32"))
    # per step: 5 rows x 4 inputs x 3 units, 15 relu neurons; then 15 x 2
    assert [(s.connections, s.neurons) for s in energy.layers] == [(60, 15), (0, 0), (30, 0)]
    assert energy.layer_stats[td] == {"connections": 60, "neurons": 15, "spiking": False}
    assert keras_spiking.ModelEnergy.compute_layer_stats(td) == energy.layer_stats[td]
    cpu = E.DEVICES["cpu"]
    assert energy.total_energy("cpu", 10) == pytest.approx(105 * cpu.energy_per_op)


def test_time_axis_as_kerasspiking_reads_it():
    def neurons(shape, wrap):
        inp = keras.Input(shape)
        relu = keras.layers.ReLU()
        out = (keras.layers.TimeDistributed(relu) if wrap else relu)(inp)
        return keras_spiking.ModelEnergy(keras.Model(inp, out)).neurons

    assert neurons((28, 28), wrap=False) == 784  # no time axis: 784 neurons
    assert neurons((28, 28), wrap=True) == 28  # TimeDistributed: 28 steps of 28
    assert neurons((None, 28), wrap=False) == 28  # a None first axis is time


def test_spiking_activation_graded_spikes_count_by_number():
    inp = keras.Input((None, 4))
    spiking = SpikingActivation("relu", dt=0.5, seed=0)
    dense = keras.layers.Dense(2)
    model = keras.Model(inp, dense(spiking(inp)))
    # input 6 at dt 0.5: the voltage gains 3 per step, so 3 spikes per step (6 Hz)
    energy = keras_spiking.ModelEnergy(model, np.full((2, 5, 4), 6.0, "float32"))
    assert energy.layer_stats[spiking] == {"connections": 0, "neurons": 4, "spiking": True}
    row = energy.node_stats[dense][0]
    assert row.kind == "spikes" and row.activity == pytest.approx(3.0)
    assert row.rate == pytest.approx(6.0) and row.synops == pytest.approx(24.0)
    loihi = E.DEVICES["loihi"]
    assert energy.total_energy("loihi", 2) == pytest.approx(
        2 * (24 * loihi.energy_per_synop + 4 * loihi.energy_per_neuron))
    # on a device stepping 1 s the 6 Hz give 6 events per step
    assert energy.total_energy("loihi", 2, dt=1.0) == pytest.approx(
        2 * (48 * loihi.energy_per_synop + 4 * loihi.energy_per_neuron))


def test_summary_string_columns():
    energy = keras_spiking.ModelEnergy(two_layer_model(), example_data=HALF_ON)
    text = energy.summary_string()  # KerasSpiking's default columns
    for header in ("Layer (type)", "Output shape", "Param #", "Conn #", "Neuron #",
                   "J/inf (cpu)"):
        assert header in text
    assert "Total energy per inference [Joules/inf] (cpu): 3.44e-07" in text
    columns = ("name", "rate", "activity", "synops", "energy loihi", "synop_energy loihi",
               "neuron_energy gpu")
    text = energy.summary_string(columns, timesteps_per_inference=5, line_length=200)
    for header in ("Rate [Hz]", "Events/input/step", "Synops/step", "J/inf (loihi)",
                   "Synop J/inf (loihi)", "Neuron J/inf (gpu)"):
        assert header in text
    assert "(loihi)" in text and "5 steps, event-driven" in text
    assert "non-spiking neurons" in text  # the relu on a spiking device
    assert "non-spiking" not in energy.summary_string(columns, print_warnings=False)
    narrow = energy.summary_string(columns, line_length=60).splitlines()
    assert all(len(line) <= 60 for line in narrow[:5])  # the table fits
    lines = []
    energy.summary(columns, timesteps_per_inference=5, line_length=200, print_fn=lines.append)
    assert lines == [energy.summary_string(columns, 5, line_length=200)]


def test_register_layer():
    class Doubler(keras.layers.Layer):
        def build(self, input_shape):
            self.scale = self.add_weight(shape=(), initializer="ones")

        def call(self, x):
            return x * self.scale

    inp = keras.Input((3, 4))
    layer = Doubler()
    model = keras.Model(inp, layer(inp))
    with pytest.warns(UserWarning, match="no counting rule"):
        keras_spiking.ModelEnergy(model)
    try:
        @keras_spiking.ModelEnergy.register_layer(Doubler)
        def doubler_stats(node):
            return dict(connections=int(np.prod(node.output_shapes[1:])))

        assert keras_spiking.ModelEnergy.compute_layer_stats(layer) == {
            "connections": 12, "neurons": 0, "spiking": True}
        assert keras_spiking.ModelEnergy(model).layer_stats[layer]["connections"] == 12

        @keras_spiking.ModelEnergy.register_layer(Doubler)
        def bad_stats(node):
            return {"synops": 1}

        with pytest.raises(ValueError, match="bad_stats registered for Doubler must return"):
            keras_spiking.ModelEnergy(model)
    finally:
        E.counting._STATS.pop(Doubler, None)
    with pytest.raises(TypeError, match="layer_class must be a Keras layer class"):
        keras_spiking.ModelEnergy.register_layer("Dense")
    with pytest.raises(ValueError, match="has not been called on an input yet"):
        keras_spiking.ModelEnergy.compute_layer_stats(keras.layers.Dense(2))


def test_register_device_both_call_styles():
    model = two_layer_model()
    energy = keras_spiking.ModelEnergy(model, HALF_ON)
    try:
        # KerasSpiking's positional order: name, energy_per_synop, energy_per_neuron, spiking
        chip = keras_spiking.ModelEnergy.register_device("ks-chip", 2e-12, 5e-12, True)
        assert (chip.spiking, chip.energy_per_synop, chip.energy_per_neuron) == (
            True, 2e-12, 5e-12)
        # a non-spiking device's energy_per_synop is its energy per MAC
        gpu = keras_spiking.model_energy.ModelEnergy.register_device(
            device_name="ks-gpu", energy_per_synop=1e-9, energy_per_neuron=2e-9,
            spiking=False)
        assert gpu.energy_per_op == 1e-9 and gpu.energy_per_synop is None
        assert energy.total_energy("ks-gpu") == pytest.approx(36e-9 + 8e-9)
        ours = E.register_device("our-gpu", spiking=False, energy_per_op=1e-9,
                                 energy_per_neuron=2e-9)
        assert energy.total_energy(ours) == energy.total_energy("ks-gpu")
        with pytest.raises(ValueError, match="same figure; give one"):
            E.register_device("bad", 1e-9, 1e-9, False, energy_per_op=1e-9)
        with pytest.raises(TypeError, match="spiking must be True or False, got None"):
            E.register_device("bad", 1e-9, 1e-9)
        with pytest.raises(ValueError, match="needs energy_per_neuron"):
            E.register_device("bad", 1e-9, spiking=True)
    finally:
        for name in ("ks-chip", "ks-gpu", "our-gpu"):
            E.DEVICES.pop(name, None)
    assert "bad" not in E.DEVICES


def test_errors_name_the_owner_argument_and_fix():
    energy = keras_spiking.ModelEnergy(two_layer_model(), HALF_ON)
    with pytest.raises(ValueError, match=r"ModelEnergy: unknown device 'tpu'.*register_device"):
        energy.summary_string(("name", "energy tpu"))
    with pytest.raises(ValueError, match=r"ModelEnergy: unknown device 'tpu'"):
        energy.layer_energy(energy.model.layers[1], "tpu")
    with pytest.raises(ValueError, match=r"unknown column 'joules' in columns; use any of"):
        energy.summary_string(("name", "joules"))
    with pytest.raises(TypeError, match="columns must be a non-empty list or tuple"):
        energy.summary_string("name")
    with pytest.raises(ValueError, match="timesteps_per_inference must be an integer >= 1, "
                                         "got 0"):
        energy.total_energy("loihi", timesteps_per_inference=0)
    with pytest.raises(TypeError, match="timesteps_per_inference must be an integer >= 1, "
                                        "got 2.5"):
        energy.summary_string(timesteps_per_inference=2.5)
    with pytest.raises(TypeError, match="same argument .* pass one"):
        energy.total_energy("loihi", 5, timesteps=5)
    with pytest.raises(ValueError, match="ModelEnergy: dt must be > 0, got 0"):
        energy.total_energy("loihi", 5, dt=0)
    with pytest.raises(ValueError, match="layer 'nope' is not counted in model"):
        energy.layer_energy("nope", "cpu")
    with pytest.raises(TypeError, match="got both columns and devices"):
        energy.summary_string(("name",), devices=("cpu",))
    with pytest.raises(ValueError, match="device 'loihi' is spiking.*pass example_data"):
        keras_spiking.ModelEnergy(two_layer_model()).summary_string(("name", "energy loihi"))


def test_builtin_devices_and_their_sources():
    figures = {name: (d.spiking, d.energy_per_connection, d.energy_per_neuron)
               for name, d in E.DEVICES.items()}
    assert figures == {
        "cpu": (False, 8.6e-9, 8.6e-9), "gpu": (False, 0.3e-9, 0.3e-9),
        "arm": (False, 0.9e-9, 0.9e-9),
        "loihi": (True, 23.6e-12, 81e-12),  # Davies et al. 2018, Table 2 (see devices.py)
        "spinnaker": (True, 13.3e-9, 26e-9), "spinnaker2": (True, 450e-12, 2.19e-9)}
    assert all(d.source for d in E.DEVICES.values())
    assert "not checked" in E.DEVICES["spinnaker2"].source
    assert keras_spiking.model_energy.ModelEnergy is keras_spiking.ModelEnergy
    assert keras_spiking.model_energy.DEVICES is E.DEVICES
