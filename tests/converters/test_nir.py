"""NIR round trips: Keras -> NIR (checked against a numpy NIR simulation) -> Keras."""

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import ConversionError, convert, export_nir, import_nir  # noqa: E402,E501
from nir_reference import (  # noqa: E402
    T,
    channels_first,
    check_round_trip,
    positive_dense,
    random_input,
    seeded_model,
    simulate_nir,
)


# -- round trips ----------------------------------------------------------------------------
def test_dense_leaky_round_trip_matches_numpy_nir():
    model = seeded_model(lambda: [
        keras.Input((T, 6)), positive_dense(7), ks.layers.Leaky(0.8, reset="zero"),
        positive_dense(3, use_bias=False), ks.layers.Leaky(0.9, threshold=0.7, reset="zero"),
    ])
    x = random_input((6,))
    graph, expected = check_round_trip(model, x)
    assert expected.sum() > 10  # the neurons do spike
    assert [type(graph.nodes[n]).__name__ for n in ("dense", "leaky", "dense_1")] == [
        "Affine", "LIF", "Linear"]
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, atol=1e-5)


def test_conv_flatten_dense_channels_last():
    model = seeded_model(lambda: [
        keras.Input((T, 8, 8, 2)),
        ks.layers.TimeFold(keras.layers.Conv2D(4, 3, padding="same")),
        ks.layers.Leaky(0.8, reset="zero"),
        ks.layers.TimeFold(keras.layers.AveragePooling2D(2)),
        ks.layers.TimeFold(keras.layers.Flatten()),
        keras.layers.Dense(5), ks.layers.Leaky(0.9, threshold=0.5, reset="zero",
                                               reset_delay=False),
    ])
    x = random_input((8, 8, 2), high=2.0)
    graph, expected = check_round_trip(model, x)
    assert 5 < expected.sum() < expected.size
    conv = graph.nodes["conv2d"]
    assert conv.weight.shape == (4, 2, 3, 3) and tuple(conv.padding) == (1, 1)
    assert isinstance(graph.nodes["flatten"], nir.Flatten)
    # NIR's own (channels-first) semantics give the same spikes: the Affine's
    # columns were permuted for NIR's flatten order
    np.testing.assert_allclose(simulate_nir(graph, channels_first(x), 0.001), expected)
    # ... and without that permutation they would not
    dense = model.layers[4]
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    assert not np.allclose(graph.nodes["dense"].weight, kernel.T)


def test_flattened_output_is_unpermuted():
    model = seeded_model(lambda: [
        keras.Input((T, 4, 4, 3)),
        ks.layers.TimeFold(keras.layers.Conv2D(2, 3)),
        ks.layers.TimeFold(keras.layers.Flatten()),
        ks.layers.Leaky(0.8, reset="zero"),
    ])
    x = random_input((4, 4, 3), high=2.0)
    graph, expected = check_round_trip(model, x)
    assert "output_unpermute" in graph.nodes
    np.testing.assert_allclose(simulate_nir(graph, channels_first(x), 0.001), expected)


def test_nir_graph_imports_and_exports_back():
    """NIR -> Keras -> NIR: a strided, padded Conv2d (ZeroPadding2D in Keras), NIR's
    flatten order (a Permute in Keras) and global pooling come back unchanged."""
    rng = np.random.default_rng(7)
    nodes = {
        "in": nir.Input(input_type={"input": np.array([2, 7, 7])}),
        "conv": nir.Conv2d(input_shape=(7, 7), weight=rng.normal(0, 0.5, (3, 2, 3, 3)),
                           stride=2, padding=1, dilation=1, groups=1, bias=np.full(3, 0.2)),
        "lif": nir.LIF(tau=np.full((3, 4, 4), 0.01), r=np.ones((3, 4, 4)),
                       v_leak=np.zeros((3, 4, 4)), v_threshold=np.full((3, 4, 4), 0.5)),
        "flat": nir.Flatten(input_type={"input": np.array([3, 4, 4])}, start_dim=0, end_dim=-1),
        "fc": nir.Affine(weight=rng.normal(0, 0.5, (5, 48)), bias=np.zeros(5)),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }
    edges = [("in", "conv"), ("conv", "lif"), ("lif", "flat"), ("flat", "fc"), ("fc", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    x = random_input((7, 7, 2), high=2.0)
    expected = simulate_nir(graph, channels_first(x), 0.001)
    model = import_nir(graph, dt=0.001)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)
    again = export_nir(model)
    np.testing.assert_allclose(simulate_nir(again, channels_first(x), 0.001), expected,
                               rtol=1e-5, atol=1e-5)
    assert tuple(again.nodes["conv"].padding) == (1, 1)
    np.testing.assert_allclose(again.nodes["fc"].weight, nodes["fc"].weight, rtol=1e-6)
    pooled = seeded_model(lambda: [
        keras.Input((T, 6, 6, 2)), ks.layers.TimeFold(keras.layers.Conv2D(4, 3)),
        ks.layers.Leaky(0.8, reset="zero"),
        ks.layers.TimeFold(keras.layers.GlobalAveragePooling2D()),
        positive_dense(3), ks.layers.Leaky(0.9, threshold=0.3, reset="zero"),
    ])
    x = random_input((6, 6, 2), high=2.0)
    graph, expected = check_round_trip(pooled, x)
    assert expected.sum() > 5
    np.testing.assert_allclose(simulate_nir(graph, channels_first(x), 0.001), expected)


def test_synaptic_and_if_round_trip():
    model = seeded_model(lambda: [
        keras.Input((T, 5)), positive_dense(6),
        ks.layers.Synaptic(alpha=0.7, beta=0.85, reset="zero"),
        positive_dense(4), ks.layers.IF(threshold=1.5, reset="zero"),
    ])
    x = random_input((5,))
    graph, expected = check_round_trip(model, x, dt=0.002)
    assert isinstance(graph.nodes["synaptic"], nir.CubaLIF)
    assert isinstance(graph.nodes["if"], nir.IF)
    # IF: dv/dt = r I reproduces v += x per step: r = 1 / dt
    np.testing.assert_allclose(graph.nodes["if"].r, 500.0)
    assert expected.sum() > 5
    np.testing.assert_allclose(simulate_nir(graph, x, 0.002), expected, atol=1e-5)


def test_converted_spiking_lif_net_round_trip():
    ann = seeded_model(lambda: [
        keras.Input((6,)), keras.layers.Dense(8),
        ks.layers.LIFRate(tau_ref=0.0, amplitude=0.01), keras.layers.Dense(3),
    ], seed=2)
    kernel, bias = ann.layers[0].get_weights()  # currents >= 0: the voltage floor never acts
    ann.layers[0].set_weights([np.abs(kernel), np.abs(bias)])
    # readout="last": NIR carries the per-step output, not the running-mean readout
    snn = convert(ann, timesteps=T, initial_voltage="zeros", normalize=False,
                  readout="last")
    x = random_input((6,), high=3.0)
    expected = np.asarray(snn(x))
    for integration in ("euler", "exact"):
        graph = export_nir(snn, integration=integration, approximate="voltage_floor")
        got = np.asarray(import_nir(graph)(x))
        np.testing.assert_allclose(got, expected, atol=1e-4)
    assert isinstance(graph.nodes["lif_rate_neuron"], nir.LIF)
    assert isinstance(graph.nodes["lif_rate_synapse"], nir.LI)
    # the neuron's Nengo parameters as NIR's (exact integration)
    lif = graph.nodes["lif_rate_neuron"]
    neuron = snn.get_layer("lif_rate_neuron")
    np.testing.assert_allclose(lif.tau, neuron.tau_rc, rtol=1e-6)
    np.testing.assert_allclose(lif.v_leak, neuron.offset)
    np.testing.assert_allclose(lif.r, 1.0, rtol=1e-6)
    # imported with the other scheme, the same ODE gives other outputs
    other = np.asarray(import_nir(graph, integration="euler")(x))
    assert np.abs(other - expected).max() > 1e-2


def test_spiking_if_scale_folded_into_next_weights():
    model = seeded_model(lambda: [
        keras.Input((T, 4)), positive_dense(5),
        ks.layers.SpikingIF(threshold=0.02, amplitude=0.5, reset="zero"),
        positive_dense(2),
    ])
    x = random_input((4,))
    graph, expected = check_round_trip(model, x)
    assert not any(isinstance(n, nir.Scale) for n in graph.nodes.values())
    kernel = keras.ops.convert_to_numpy(model.layers[2].kernel)
    np.testing.assert_allclose(graph.nodes["dense_1"].weight, kernel.T * 0.5 / 0.001, rtol=1e-6)
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, rtol=1e-5, atol=1e-4)


def test_alpha_exports_exactly_and_lowpass_both_ways():
    model = seeded_model(lambda: [
        keras.Input((T, 3)), ks.layers.Alpha(tau=0.004), ks.layers.Lowpass(tau=0.01),
    ])
    x = random_input((3,))
    graph, _ = check_round_trip(model, x, integration="exact")
    assert isinstance(graph.nodes["alpha"], nir.CubaLI)
    lowpass = seeded_model(lambda: [keras.Input((T, 3)), ks.layers.Lowpass(tau=0.01)])
    graph, expected = check_round_trip(lowpass, x)  # Euler
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, atol=1e-6)


@pytest.mark.parametrize("kind", ["dense", "one_to_one", "synaptic"])
def test_recurrent_export_is_a_cycle(kind):
    if kind == "synaptic":
        neuron = lambda: ks.layers.RSynaptic(0.6, 0.8, reset="zero", name="rec")  # noqa: E731
    else:
        neuron = lambda: ks.layers.RLeaky(  # noqa: E731
            0.8, all_to_all=kind == "dense", V=-0.5, reset="zero", name="rec")
    model = seeded_model(lambda: [keras.Input((T, 4)), positive_dense(4), neuron()])
    x = random_input((4,), high=1.0)
    expected = np.asarray(model(x))
    graph = export_nir(model)
    assert ("rec", "rec_recurrent") in graph.edges and ("rec_recurrent", "rec") in graph.edges
    # NIR's cycle delivers the previous step's spikes: snnTorch's W s[t-1]
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected)
    assert expected.sum() > 10
    imported = import_nir(graph)  # the loop becomes ContinuousLIF(recurrent=...)
    np.testing.assert_allclose(np.asarray(imported(x)), expected)
    # ... and exports back to the same cycle
    again = export_nir(imported)
    weight = "scale" if kind == "one_to_one" else "weight"
    np.testing.assert_allclose(getattr(again.nodes["rec_recurrent"], weight),
                               getattr(graph.nodes["rec_recurrent"], weight))


def test_functional_add_static_input_and_conv1d():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5,))
    x = ks.layers.RepeatTime(T)(x_in)  # static input: NIR's input is one step
    a, b = positive_dense(4)(x), positive_dense(4)(x)
    y = ks.layers.Leaky(0.8, reset="zero")(keras.layers.Add()([a, b]))
    model = keras.Model(x_in, y)
    graph = export_nir(model)
    static = np.random.default_rng(6).uniform(0, 1, (3, 5)).astype("float32")
    timed = np.repeat(static[:, None], T, axis=1)
    np.testing.assert_allclose(simulate_nir(graph, timed, 0.001), np.asarray(model(static)))
    np.testing.assert_allclose(np.asarray(import_nir(graph)(timed)), np.asarray(model(static)))
    conv = seeded_model(lambda: [
        keras.Input((T, 9, 2)),
        ks.layers.TimeFold(keras.layers.Conv1D(3, 3, strides=2, dilation_rate=1)),
        ks.layers.Leaky(0.7, reset="zero"), ks.layers.TimeFold(keras.layers.Flatten()),
    ])
    check_round_trip(conv, random_input((9, 2), high=2.0))


def test_nir_is_imported_on_first_use():
    import os
    import subprocess
    import sys

    code = ("import sys, keras_spiking.converters as c; assert 'nir' not in sys.modules; "
            "c.export_nir; assert 'nir' not in sys.modules")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)


def _static_cnn():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(3)])


def test_converted_static_input_reset_zero_exports_exactly():
    """convert(static_input=True, reset="zero") (how the README converts, with NIR's reset):
    the once-computed layers are exported per step on the static input (the Rescaling
    folded into the Conv), no approximation, and the graph gives the SNN's output."""
    ann = _static_cnn()
    x = np.random.default_rng(0).uniform(0, 255, (4, 8, 8, 1)).astype("float32")
    snn = convert(ann, timesteps=T, static_input=True, synapse=None, reset="zero",
                  calibration_data=x)
    graph = export_nir(snn)
    kinds = sorted(type(n).__name__ for n in graph.nodes.values())
    assert kinds == ["Affine", "AvgPool2d", "Conv2d", "Flatten", "IF", "Input", "Output"]
    assert graph.metadata["keras_spiking"]["static_input"]
    timed = np.repeat(x[:, None], T, axis=1)
    per_step = np.asarray(import_nir(graph)(timed))
    running_mean = np.cumsum(per_step, 1) / np.arange(1, T + 1)[None, :, None]  # the readout
    np.testing.assert_allclose(running_mean, np.asarray(snn(x)), atol=1e-5)
    xs = channels_first(timed) if timed.ndim == 5 else timed
    np.testing.assert_allclose(simulate_nir(graph, xs, 0.001), per_step, atol=1e-4)
    # reset by subtraction still needs its approximation named, not the input shape blamed
    subtract = convert(ann, timesteps=T, static_input=True, synapse=None)
    with pytest.raises(ConversionError, match="subtract_reset") as info:
        export_nir(subtract)
    assert "shape" not in str(info.value)
