"""synapse="auto" (the convert default): which neurons get a synapse and why, and that
a deep converted network settles faster than with the former 5 ms synapses."""

import keras
import numpy as np
import pytest

from keras_spiking.converters import Converter, convert
from keras_spiking.converters.convert import AUTO_TAU
from keras_spiking.layers import Lowpass, QuantizedReLU, RunningMean, SpikingIF

L = keras.layers


def relu_stack(depth, width=24, seed=0):
    """Dense ReLU layers with He-normal numpy weights (the same on every backend)."""
    hidden = [L.Dense(width, activation="relu") for _ in range(depth)]
    model = keras.Sequential([keras.Input((8,)), *hidden, L.Dense(4)])
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        kernel, bias = layer.get_weights()
        layer.set_weights([rng.normal(0, np.sqrt(2 / kernel.shape[0]), kernel.shape)
                           .astype("float32"), bias])
    return model


def data(n=200, seed=0):
    return np.random.default_rng(seed).uniform(0, 1, (n, 8)).astype("float32")


def of_type(snn, cls):
    return [layer for layer in snn.layers if isinstance(layer, cls)]


def consumer(snn, layer):
    """The layer that takes ``layer``'s output (the only one)."""
    users = [other for other in snn.layers
             if any(getattr(t, "_keras_history", None) is not None
                    and t._keras_history.operation is layer
                    for t in keras.tree.flatten(other.input))]
    assert len(users) == 1
    return users[0]


def test_auto_has_no_synapse_under_the_running_mean_readout():
    model = relu_stack(3)
    x = data(50)
    snn = convert(model, calibration_data=x, timesteps=10, static_input=True)
    assert Converter().synapse is None and Converter(synapse=0.005).synapse is not None
    neurons = of_type(snn, SpikingIF)
    assert len(neurons) == 3 and not of_type(snn, Lowpass)
    for neuron in neurons:  # half the (calibrated) threshold to start
        d = neuron.dynamics()
        assert d.initial_voltage == pytest.approx(d.threshold / 2)
        assert d.reset == "subtract"
    # each neuron feeds the next Dense directly; the readout averages since step 1
    assert all(not isinstance(consumer(snn, n), Lowpass) for n in neurons)
    (readout,) = of_type(snn, RunningMean)
    assert readout.fraction == 1.0


def test_quantized_relu_networks_read_out_since_the_first_step():
    # QuantizedReLU sites are exact over all T steps (T = L): the mean since step 1
    keras.utils.set_random_seed(2)
    inp = keras.Input((5,))
    qcfs = keras.Model(inp, L.Dense(3)(QuantizedReLU(4, 1.5)(L.Dense(7)(inp))))
    (readout,) = of_type(convert(qcfs, timesteps=4), RunningMean)
    assert readout.fraction == 1.0
    x = data(30)[:, :5]
    snn = convert(qcfs, timesteps=4, static_input=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(snn(x))[:, -1],
                               keras.ops.convert_to_numpy(qcfs(x)), atol=1e-5)
    mixed = keras.Model(inp, L.Dense(3)(QuantizedReLU(4, 1.5)(
        L.Dense(7, activation="relu")(inp))))
    (readout,) = of_type(convert(mixed, timesteps=4), RunningMean)
    assert readout.fraction == 1.0  # no synapse anywhere


@pytest.mark.parametrize("options", [dict(readout="last"),
                                     dict(stateful=True, batch_size=4)])
def test_auto_keeps_a_5ms_synapse_without_the_running_mean(options):
    # no average is taken (raw per-step output, or chunked runs): every spiking
    # neuron gets the AUTO_TAU lowpass, the same model as synapse=0.005
    inp = keras.Input((8,))
    h = QuantizedReLU(4, 2.0)(L.Dense(6)(L.Dense(5, activation="relu")(inp)))
    model = keras.Model(inp, L.Dense(3)(h))
    snn = convert(model, timesteps=10, **options)
    (relu,) = [n for n in of_type(snn, SpikingIF) if "quantized" not in n.name]
    (synapse,) = of_type(snn, Lowpass)
    assert consumer(snn, relu) is synapse and synapse.tau == pytest.approx(AUTO_TAU)
    assert AUTO_TAU == 0.005  # the former default
    # QuantizedReLU sites never take a synapse (their levels are spike counts)
    (qcfs,) = [n for n in of_type(snn, SpikingIF) if "quantized" in n.name]
    assert not isinstance(consumer(snn, qcfs), Lowpass)
    explicit = convert(model, timesteps=10, synapse=0.005, **options)
    x = np.repeat(data(4)[:, None], 10, axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(snn(x)),
                               keras.ops.convert_to_numpy(explicit(x)), atol=1e-6)


def test_auto_filters_the_trace_a_max_pool_takes_its_max_of():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6, 6, 1)), L.Conv2D(3, 3, activation="relu"),
                              L.MaxPooling2D(2), L.Flatten(), L.Dense(2)])
    snn = convert(model, timesteps=8, max_pool="max")
    (neuron,), (synapse,) = of_type(snn, SpikingIF), of_type(snn, Lowpass)
    assert consumer(snn, neuron) is synapse  # max of raw spikes would be their OR
    assert isinstance(consumer(snn, synapse).layer, L.MaxPooling2D)
    (readout,) = of_type(snn, RunningMean)
    assert readout.fraction == 0.5  # skips the synapse's warm-up
    for mode in ("spike", "avg"):  # spikes pooled as spikes, or averaged: no filter
        assert not of_type(convert(model, timesteps=8, max_pool=mode), Lowpass)
    assert not of_type(convert(model, timesteps=8, max_pool="max", synapse=None), Lowpass)


def test_bad_synapse_string():
    with pytest.raises(ValueError, match="synapse must be 'auto'"):
        convert(relu_stack(1), synapse="fast")


def relative_error(snn, model, x):
    """Per step, mean |snn output - ANN output| / mean |ANN output|."""
    ann = keras.ops.convert_to_numpy(model(x))
    out = keras.ops.convert_to_numpy(snn(x))
    return np.abs(out - ann[:, None]).mean((0, 2)) / np.abs(ann).mean()


def test_deep_network_settles_faster_than_with_5ms_synapses():
    # six spiking layers: six 5 ms lowpasses in series delay the output by tens of
    # steps, while IF neurons without synapses pass on their first spikes at once
    model, x = relu_stack(6), data()
    errors = {syn: relative_error(convert(model, calibration_data=x, timesteps=40,
                                          static_input=True, synapse=syn), model, x)
              for syn in ("auto", 0.005)}
    settled = {syn: int(np.argmax(e < 0.5)) + 1 if np.any(e < 0.5) else None
               for syn, e in errors.items()}
    assert settled["auto"] <= 12
    assert settled[0.005] is None or settled[0.005] >= 25
    assert np.all(errors["auto"][5:] < errors[0.005][5:])  # from step 6 on
    assert errors["auto"][-1] < 0.5 * errors[0.005][-1]


def test_auto_keeps_the_5ms_synapse_of_lif_neurons():
    # a leaky neuron loses the charge of raw spikes between them: LIF sites keep the
    # former default, so an all-LIF network converts exactly as with synapse=0.005
    from keras_spiking.layers import LIFRate, SpikingLIF

    keras.utils.set_random_seed(5)
    inp = keras.Input((8,))
    h = LIFRate(amplitude=0.05)(L.Dense(10)(inp))
    h = LIFRate(amplitude=0.05)(L.Dense(10)(h))
    lif = keras.Model(inp, L.Dense(3)(h))
    x = data(20) * 3
    snn = convert(lif, calibration_data=x, timesteps=30, static_input=True)
    neurons, synapses = of_type(snn, SpikingLIF), of_type(snn, Lowpass)
    assert len(neurons) == len(synapses) == 2
    assert all(consumer(snn, n) in synapses for n in neurons)
    explicit = convert(lif, calibration_data=x, timesteps=30, static_input=True,
                       synapse=0.005)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(snn(x)),
                               keras.ops.convert_to_numpy(explicit(x)), atol=1e-6)
    # mixed: the ReLU site has no synapse, the LIF site has one
    mixed = keras.Model(inp, L.Dense(3)(LIFRate(amplitude=0.05)(
        L.Dense(10, activation="relu")(inp))))
    snn = convert(mixed, calibration_data=x, timesteps=10)
    (relu,), (neuron,) = of_type(snn, SpikingIF), of_type(snn, SpikingLIF)
    assert not isinstance(consumer(snn, relu), Lowpass)
    assert isinstance(consumer(snn, neuron), Lowpass)
