"""SpikeMaxPool: gated max pooling of spike trains, and max_pool='spike'."""

import keras
import numpy as np
import pytest

from keras_spiking.converters import ConversionError, convert, verify
from keras_spiking.layers import SpikeMaxPool

L = keras.layers


def reference_pool(spikes, size):
    """Plain numpy: per 2-D window, the spike of the input with the most
    earlier spikes; a spike if any tied leader spikes."""
    batch, steps, h, w, c = spikes.shape
    out = np.zeros((batch, steps, h // size, w // size, c), spikes.dtype)
    counts = np.zeros((batch, h, w, c))
    for t in range(steps):
        for i in range(h // size):
            for j in range(w // size):
                window = np.s_[:, i * size:(i + 1) * size, j * size:(j + 1) * size]
                cnt = counts[window].reshape(batch, -1, c)
                s = spikes[:, t][window].reshape(batch, -1, c)
                leaders = cnt == cnt.max(axis=1, keepdims=True)
                out[:, t, i, j] = np.max(np.where(leaders, s, 0), axis=1)
        counts += spikes[:, t] > 0
    return out


def random_spikes(shape, amplitude=0.5, seed=0):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0, 0.6, size=shape[:1] + shape[2:])[:, None]
    return (rng.uniform(size=shape) < rates).astype("float32") * amplitude


def test_matches_numpy_reference():
    x = random_spikes((3, 30, 4, 6, 2))
    y = SpikeMaxPool(L.MaxPooling2D(2))(x)
    np.testing.assert_array_equal(np.asarray(y), reference_pool(x, 2))


def test_output_rate_approaches_the_largest_input_rate():
    steps = 4000
    t = np.arange(steps)[:, None]
    rates = np.array([0.1, 0.31, 0.3, 0.05])
    # regular spike trains: a spike when the phase wraps (at most one per step)
    spikes = (np.floor((t + 1) * rates) > np.floor(t * rates)).astype("float32")
    x = spikes.reshape(1, steps, 4, 1)
    y = np.asarray(SpikeMaxPool(L.GlobalMaxPooling1D())(x))
    assert set(np.unique(y)) <= {0.0, 1.0}
    assert abs(y.mean() - 0.31) < 5 / steps
    # the plain max of spike trains would fire far too often
    assert x.max(axis=2).mean() > 0.5


def test_stateful_chunks_equal_one_run_and_reset():
    x = random_spikes((2, 40, 4, 4, 3), seed=1)
    whole = SpikeMaxPool(L.MaxPooling2D(2))(x)
    inp = keras.Input((10, 4, 4, 3), batch_size=2)
    model = keras.Model(inp, SpikeMaxPool(L.MaxPooling2D(2), stateful=True)(inp))
    chunks = [model(x[:, i:i + 10]) for i in range(0, 40, 10)]
    np.testing.assert_array_equal(np.concatenate(chunks, axis=1), whole)
    model.layers[-1].reset_state()
    np.testing.assert_array_equal(model(x[:, :10]), np.asarray(whole)[:, :10])


def test_saved_model_round_trip(tmp_path):
    inp = keras.Input((None, 4, 4, 3))
    model = keras.Model(inp, SpikeMaxPool(L.MaxPooling2D(2, padding="same"))(inp))
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = random_spikes((2, 7, 4, 4, 3), seed=2)
    np.testing.assert_array_equal(loaded(x), model(x))
    assert isinstance(loaded.layers[-1], SpikeMaxPool)


def test_bad_arguments():
    with pytest.raises(TypeError, match="max pooling layer"):
        SpikeMaxPool(L.AveragePooling2D(2))
    with pytest.raises(ValueError, match="stateful=True needs a fixed batch size"):
        SpikeMaxPool(L.MaxPooling1D(2), stateful=True)(keras.Input((5, 4, 1)))


def maxpool_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"),
                             L.MaxPooling2D(2), L.Flatten(), L.Dense(3)])


def test_converter_pools_spikes_before_the_synapse():
    model = maxpool_model()
    x = np.random.default_rng(4).uniform(size=(16, 8, 8, 1)).astype("float32")
    assert verify(model, x, max_pool="spike") <= 1e-5  # rate mode: the exact max
    snn = convert(model, max_pool="spike", calibration_data=x, timesteps=20,
                  static_input=True)
    pools = [layer for layer in snn.layers if isinstance(layer, SpikeMaxPool)]
    assert len(pools) == 1
    probe = keras.Model(snn.input, pools[0].output)
    pooled = np.asarray(probe(x))
    source = pools[0]._inbound_nodes[0].input_tensors[0]._keras_history.operation
    if isinstance(source, L.Rescaling):  # channel_norm: spikes of 1 times each channel's value
        neuron = source._inbound_nodes[0].input_tensors[0]._keras_history.operation
        assert neuron.amplitude == neuron.dt
        spike = np.broadcast_to(np.asarray(source.scale, "float32"), pooled.shape[-1:])
    else:  # Nengo: amplitude / dt per spike
        spike = np.full(pooled.shape[-1:], source.amplitude / source.dt, "float32")
    for c in range(pooled.shape[-1]):
        assert set(np.unique(pooled[..., c])) <= {0.0, spike[c]}
    assert pooled.any()


def test_spike_pool_needs_a_neuron_before_it():
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3), L.MaxPooling2D(2),
                              L.ReLU(), L.Flatten(), L.Dense(3)])
    with pytest.raises(ConversionError, match="not the output of a spiking neuron"):
        convert(model, max_pool="spike", timesteps=4)
