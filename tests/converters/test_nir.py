"""NIR export and import (converters/nir.py) and ContinuousLIF.

The reference is a plain-numpy forward-Euler simulation of the NIR graph in
NIR's own layout (channels-first, continuous-time ODEs), independent of the
importer: an exported model must give the same spikes under it.
"""

import os

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import ConversionError, convert, export_nir, import_nir  # noqa: E402

T = 25


def _seeded_model(layers, seed=0):
    """A Sequential model of ``layers()`` with fresh layer names and seeded weights."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return keras.Sequential(layers())


def _dense(units, **kwargs):
    """A Dense with mostly positive weights, so that the neurons after it spike."""
    init = keras.initializers.RandomUniform(-0.3, 1.0)
    return keras.layers.Dense(units, kernel_initializer=init, **kwargs)


def _input(shape, seed=1, high=1.5):
    return np.random.default_rng(seed).uniform(0, high, (3, T) + shape).astype("float32")


# -- a numpy NIR simulator (forward Euler, feed-forward graphs) -------------------------
def _conv2d(x, node):
    w = node.weight
    (ph, pw), (sh, sw), (dh, dw) = node.padding, node.stride, node.dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    kh, kw = w.shape[2:]
    ho = (x.shape[2] - dh * (kh - 1) - 1) // sh + 1
    wo = (x.shape[3] - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo))
    for i in range(kh):
        for j in range(kw):
            patch = x[:, :, i * dh : i * dh + sh * (ho - 1) + 1 : sh,
                      j * dw : j * dw + sw * (wo - 1) + 1 : sw]
            out += np.einsum("bchw,oc->bohw", patch, w[:, :, i, j])
    return out + node.bias[None, :, None, None]


def _avgpool(x, node):
    (kh, kw), (sh, sw) = node.kernel_size, node.stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(kh):
        for j in range(kw):
            out += x[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
    return out / (kh * kw)


def simulate_nir(graph, x, dt):
    """Forward Euler of ``graph`` on ``x`` shaped (batch, time, *NIR input shape)."""
    parents = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
    order, done = [], set()
    while len(order) < len(graph.nodes):
        ready = [n for n in graph.nodes if n not in done and all(p in done for p in parents[n])]
        # a cycle: start it at a node with a computed input; the rest arrives a step late
        ready = ready or [n for n in graph.nodes if n not in done
                          and any(p in done for p in parents[n])][:1]
        order.extend(ready)
        done.update(ready)
    state, outputs, y = {}, [], {}
    for t in range(x.shape[1]):
        previous, y = y, {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                y[name] = x[:, t].astype("float64")
                continue
            i = sum(y[p] if p in y else previous.get(p, 0.0) for p in parents[name])
            if isinstance(node, nir.Output):
                y[name] = i
            elif isinstance(node, nir.Affine):
                y[name] = i @ node.weight.T + node.bias
            elif isinstance(node, nir.Linear):
                y[name] = i @ node.weight.T
            elif isinstance(node, nir.Scale):
                y[name] = i * node.scale
            elif isinstance(node, nir.Conv2d):
                y[name] = _conv2d(i, node)
            elif isinstance(node, nir.AvgPool2d):
                y[name] = _avgpool(i, node)
            elif isinstance(node, nir.Flatten):
                y[name] = i.reshape(i.shape[0], -1)
            elif isinstance(node, (nir.LIF, nir.IF, nir.LI, nir.CubaLIF)):
                v = state.get(name, 0.0)
                if isinstance(node, nir.CubaLIF):
                    cur = state.get(name + "/i", 0.0)
                    cur = cur + dt / node.tau_syn * (-cur + node.w_in * i)
                    state[name + "/i"] = i = cur
                    tau = node.tau_mem
                else:
                    tau = getattr(node, "tau", None)
                if isinstance(node, nir.IF):
                    v = v + dt * node.r * i
                else:
                    v = v + dt / tau * (node.v_leak - v + node.r * i)
                if isinstance(node, nir.LI):
                    y[name] = v
                else:
                    s = (v > node.v_threshold).astype("float64")
                    v = np.where(s > 0, node.v_reset, v)
                    y[name] = s
                state[name] = v
            else:
                raise NotImplementedError(type(node).__name__)
        outputs.append(sum(y[n] for n in order if isinstance(graph.nodes[n], nir.Output)))
    return np.stack(outputs, axis=1)


def _check_round_trip(model, x, **export_options):
    """Export, check against the numpy NIR simulation, import, compare outputs."""
    expected = np.asarray(model(x))
    graph = export_nir(model, **export_options)
    model2 = import_nir(graph)
    np.testing.assert_allclose(np.asarray(model2(x)), expected, atol=1e-4)
    return graph, expected


def _channels_first(x):
    return np.moveaxis(x, -1, 2)


# -- round trips ----------------------------------------------------------------------------
def test_dense_leaky_round_trip_matches_numpy_nir():
    model = _seeded_model(lambda: [
        keras.Input((T, 6)), _dense(7), ks.layers.Leaky(0.8, reset="zero"),
        _dense(3, use_bias=False), ks.layers.Leaky(0.9, threshold=0.7, reset="zero"),
    ])
    x = _input((6,))
    graph, expected = _check_round_trip(model, x)
    assert expected.sum() > 10  # the neurons do spike
    assert [type(graph.nodes[n]).__name__ for n in ("dense", "leaky", "dense_1")] == [
        "Affine", "LIF", "Linear"]
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, atol=1e-5)


def test_conv_flatten_dense_channels_last():
    model = _seeded_model(lambda: [
        keras.Input((T, 8, 8, 2)),
        ks.layers.TimeFold(keras.layers.Conv2D(4, 3, padding="same")),
        ks.layers.Leaky(0.8, reset="zero"),
        ks.layers.TimeFold(keras.layers.AveragePooling2D(2)),
        ks.layers.TimeFold(keras.layers.Flatten()),
        keras.layers.Dense(5), ks.layers.Leaky(0.9, threshold=0.5, reset="zero",
                                               reset_delay=False),
    ])
    x = _input((8, 8, 2), high=2.0)
    graph, expected = _check_round_trip(model, x)
    assert 5 < expected.sum() < expected.size
    conv = graph.nodes["conv2d"]
    assert conv.weight.shape == (4, 2, 3, 3) and tuple(conv.padding) == (1, 1)
    assert isinstance(graph.nodes["flatten"], nir.Flatten)
    # NIR's own (channels-first) semantics give the same spikes: the Affine's
    # columns were permuted for NIR's flatten order
    np.testing.assert_allclose(simulate_nir(graph, _channels_first(x), 0.001), expected)
    # ... and without that permutation they would not
    dense = model.layers[4]
    kernel = keras.ops.convert_to_numpy(dense.kernel)
    assert not np.allclose(graph.nodes["dense"].weight, kernel.T)


def test_flattened_output_is_unpermuted():
    model = _seeded_model(lambda: [
        keras.Input((T, 4, 4, 3)),
        ks.layers.TimeFold(keras.layers.Conv2D(2, 3)),
        ks.layers.TimeFold(keras.layers.Flatten()),
        ks.layers.Leaky(0.8, reset="zero"),
    ])
    x = _input((4, 4, 3), high=2.0)
    graph, expected = _check_round_trip(model, x)
    assert "output_unpermute" in graph.nodes
    np.testing.assert_allclose(simulate_nir(graph, _channels_first(x), 0.001), expected)


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
    x = _input((7, 7, 2), high=2.0)
    expected = simulate_nir(graph, _channels_first(x), 0.001)
    model = import_nir(graph, dt=0.001)
    np.testing.assert_allclose(np.asarray(model(x)), expected, rtol=1e-5, atol=1e-5)
    again = export_nir(model)
    np.testing.assert_allclose(simulate_nir(again, _channels_first(x), 0.001), expected,
                               rtol=1e-5, atol=1e-5)
    assert tuple(again.nodes["conv"].padding) == (1, 1)
    np.testing.assert_allclose(again.nodes["fc"].weight, nodes["fc"].weight, rtol=1e-6)
    pooled = _seeded_model(lambda: [
        keras.Input((T, 6, 6, 2)), ks.layers.TimeFold(keras.layers.Conv2D(4, 3)),
        ks.layers.Leaky(0.8, reset="zero"),
        ks.layers.TimeFold(keras.layers.GlobalAveragePooling2D()),
        _dense(3), ks.layers.Leaky(0.9, threshold=0.3, reset="zero"),
    ])
    x = _input((6, 6, 2), high=2.0)
    graph, expected = _check_round_trip(pooled, x)
    assert expected.sum() > 5
    np.testing.assert_allclose(simulate_nir(graph, _channels_first(x), 0.001), expected)


def test_synaptic_and_if_round_trip():
    model = _seeded_model(lambda: [
        keras.Input((T, 5)), _dense(6),
        ks.layers.Synaptic(alpha=0.7, beta=0.85, reset="zero"),
        _dense(4), ks.layers.IF(threshold=1.5, reset="zero"),
    ])
    x = _input((5,))
    graph, expected = _check_round_trip(model, x, dt=0.002)
    assert isinstance(graph.nodes["synaptic"], nir.CubaLIF)
    assert isinstance(graph.nodes["if"], nir.IF)
    # IF: dv/dt = r I reproduces v += x per step: r = 1 / dt
    np.testing.assert_allclose(graph.nodes["if"].r, 500.0)
    assert expected.sum() > 5
    np.testing.assert_allclose(simulate_nir(graph, x, 0.002), expected, atol=1e-5)


def test_converted_spiking_lif_net_round_trip():
    ann = _seeded_model(lambda: [
        keras.Input((6,)), keras.layers.Dense(8),
        ks.layers.LIFRate(tau_ref=0.0, amplitude=0.01), keras.layers.Dense(3),
    ], seed=2)
    kernel, bias = ann.layers[0].get_weights()  # currents >= 0: the voltage floor never acts
    ann.layers[0].set_weights([np.abs(kernel), np.abs(bias)])
    snn = convert(ann, timesteps=T, initial_voltage="zeros", normalize=False)
    x = _input((6,), high=3.0)
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
    model = _seeded_model(lambda: [
        keras.Input((T, 4)), _dense(5),
        ks.layers.SpikingIF(threshold=0.02, amplitude=0.5, reset="zero"),
        _dense(2),
    ])
    x = _input((4,))
    graph, expected = _check_round_trip(model, x)
    assert not any(isinstance(n, nir.Scale) for n in graph.nodes.values())
    kernel = keras.ops.convert_to_numpy(model.layers[2].kernel)
    np.testing.assert_allclose(graph.nodes["dense_1"].weight, kernel.T * 0.5 / 0.001, rtol=1e-6)
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, rtol=1e-5, atol=1e-4)


def test_alpha_exports_exactly_and_lowpass_both_ways():
    model = _seeded_model(lambda: [
        keras.Input((T, 3)), ks.layers.Alpha(tau=0.004), ks.layers.Lowpass(tau=0.01),
    ])
    x = _input((3,))
    graph, _ = _check_round_trip(model, x, integration="exact")
    assert isinstance(graph.nodes["alpha"], nir.CubaLI)
    lowpass = _seeded_model(lambda: [keras.Input((T, 3)), ks.layers.Lowpass(tau=0.01)])
    graph, expected = _check_round_trip(lowpass, x)  # Euler
    np.testing.assert_allclose(simulate_nir(graph, x, 0.001), expected, atol=1e-6)


def test_hdf5_write_read_round_trip(tmp_path):
    model = _seeded_model(lambda: [
        keras.Input((T, 4)), _dense(5), ks.layers.Leaky(0.8, reset="zero"),
    ])
    path = tmp_path / "model.nir"
    graph = export_nir(model, path, dt=0.005)
    assert os.listdir(tmp_path) == ["model.nir"]  # no temporary file left behind
    read = nir.read(path)
    assert set(read.nodes) == set(graph.nodes)
    assert sorted(map(tuple, read.edges)) == sorted(graph.edges)
    np.testing.assert_array_equal(read.nodes["dense"].weight, graph.nodes["dense"].weight)
    np.testing.assert_allclose(read.nodes["leaky"].tau, 0.005 / 0.2, rtol=1e-6)
    x = _input((4,))
    model2 = import_nir(path)  # dt and scheme from the file's metadata
    np.testing.assert_allclose(np.asarray(model2(x)), np.asarray(model(x)))
    assert model2.get_layer("leaky").dt == 0.005


# -- the mapping against the NIR ODE ----------------------------------------------------
def _lif_graph(**params):
    n = 4
    arrays = {k: np.full(n, v, "float32") for k, v in params.items()}
    kind = nir.IF if "tau" not in params else nir.LIF
    node = kind(**arrays)
    return nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([n])}), node,
                                  nir.Output(output_type={"output": np.array([n])})), n


def _numpy_lif(x, dt, tau, r, v_leak, v_threshold, v_reset, exact=False):
    v, out = np.zeros(x.shape[::2]), []
    for t in range(x.shape[1]):
        drive = v_leak + r * x[:, t]
        if tau is None:
            v = v + dt * r * x[:, t]
        elif exact:
            v = drive + (v - drive) * np.exp(-dt / tau)
        else:
            v = v + dt / tau * (drive - v)
        s = v > v_threshold
        v = np.where(s, v_reset, v)
        out.append(s)
    return np.stack(out, 1).astype("float32")


@pytest.mark.parametrize("integration", ["euler", "exact"])
def test_import_honours_r_v_leak_v_reset(integration):
    params = dict(tau=0.01, r=2.5, v_leak=0.3, v_threshold=1.0, v_reset=-0.4)
    graph, n = _lif_graph(**params)
    x = np.random.default_rng(3).uniform(-0.2, 0.8, (2, 60, n)).astype("float32")
    got = np.asarray(import_nir(graph, dt=0.001, integration=integration)(x))
    expected = _numpy_lif(x, 0.001, exact=integration == "exact", **params)
    np.testing.assert_array_equal(got, expected)
    assert expected.sum() > 10
    # a v_reset of 0 or r = 1 would give other spikes: both are really used
    for change in ({"v_reset": 0.0}, {"r": 1.0}):
        assert not np.array_equal(_numpy_lif(x, 0.001, exact=integration == "exact",
                                             **{**params, **change}), expected)


def test_import_if_integrates_r_times_input_over_dt():
    graph, n = _lif_graph(r=40.0, v_threshold=1.0, v_reset=0.0)
    x = np.random.default_rng(4).uniform(0, 1, (2, 50, n)).astype("float32")
    got = np.asarray(import_nir(graph, dt=0.002)(x))
    np.testing.assert_array_equal(got, _numpy_lif(x, 0.002, None, 40.0, 0.0, 1.0, 0.0))
    # mean rate of dv/dt = r I: about r * mean(I) / threshold Hz
    assert abs(got.sum(1).mean() / (50 * 0.002) - 40 * x.mean()) < 8


def test_euler_and_exact_give_different_spike_counts():
    graph, n = _lif_graph(tau=0.005, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    x = np.full((1, 60, n), 1.5, "float32")  # Euler fires every 5 steps, exact every 6
    euler = np.asarray(import_nir(graph, dt=0.001, integration="euler")(x)).sum()
    exact = np.asarray(import_nir(graph, dt=0.001, integration="exact")(x)).sum()
    assert (euler, exact) == (12 * n, 10 * n)


def test_threshold_scale_and_sum_of_edges_import():
    nodes = {
        "in": nir.Input(input_type={"input": np.array([3])}),
        "a": nir.Scale(scale=np.array([1.0, 2.0, 3.0], "float32")),
        "b": nir.Linear(weight=np.eye(3, dtype="float32")),
        "thr": nir.Threshold(threshold=np.full(3, 2.5, "float32")),
        "out": nir.Output(output_type={"output": np.array([3])}),
    }
    edges = [("in", "a"), ("in", "b"), ("a", "thr"), ("b", "thr"), ("thr", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges)
    x = np.random.default_rng(5).uniform(0, 1.5, (2, 10, 3)).astype("float32")
    got = np.asarray(import_nir(graph, dt=0.001)(x))
    np.testing.assert_array_equal(got, (x * np.array([2.0, 3.0, 4.0]) > 2.5).astype("float32"))


def test_continuous_lif_saves_and_loads(tmp_path):
    layer = ks.layers.ContinuousLIF(tau=0.02, r=[1.0, 2.0], v_leak=0.1, tau_syn=0.005,
                                    v_reset=-0.1, integration="exact", recurrent="dense")
    model = keras.Sequential([keras.Input((T, 2)), layer])
    layer.set_weights([np.array([[0.0, -0.5], [0.3, 0.0]], "float32")])
    x = _input((2,), high=4.0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    with pytest.raises(ValueError, match="tau_syn"):
        ks.layers.ContinuousLIF(tau=None, tau_syn=0.01)
    with pytest.raises(ValueError, match="integration"):
        ks.layers.ContinuousLIF(integration="rk4")


@pytest.mark.parametrize("kind", ["dense", "one_to_one", "synaptic"])
def test_recurrent_export_is_a_cycle(kind):
    if kind == "synaptic":
        neuron = lambda: ks.layers.RSynaptic(0.6, 0.8, reset="zero", name="rec")  # noqa: E731
    else:
        neuron = lambda: ks.layers.RLeaky(  # noqa: E731
            0.8, all_to_all=kind == "dense", V=-0.5, reset="zero", name="rec")
    model = _seeded_model(lambda: [keras.Input((T, 4)), _dense(4), neuron()])
    x = _input((4,), high=1.0)
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


def test_import_inlines_nested_graphs():
    model = _seeded_model(lambda: [
        keras.Input((T, 4)), _dense(4), ks.layers.RLeaky(0.8, reset="zero", name="rec"),
    ])
    flat = export_nir(model)
    io = {"input_type": {"input": np.array([4])}}
    sub = nir.NIRGraph(
        nodes={"input": nir.Input(**io), "lif": flat.nodes["rec"],
               "w": flat.nodes["rec_recurrent"],
               "output": nir.Output(output_type={"output": np.array([4])})},
        edges=[("input", "lif"), ("lif", "w"), ("w", "lif"), ("lif", "output")],
        type_check=False)
    nested = nir.NIRGraph(
        nodes={"in": nir.Input(**io), "dense": flat.nodes["dense"], "sub": sub,
               "out": nir.Output(output_type={"output": np.array([4])})},
        edges=[("in", "dense"), ("dense", "sub"), ("sub", "out")], type_check=False)
    x = _input((4,), high=1.0)
    imported = import_nir(nested, dt=0.001)
    assert "sub_lif" in [layer.name for layer in imported.layers]
    np.testing.assert_allclose(np.asarray(imported(x)), np.asarray(model(x)))


def test_import_refuses_other_cycles():
    n = 2
    lif = dict(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    nodes = {
        "in": nir.Input(input_type={"input": np.array([n])}),
        "a": nir.LIF(**lif), "b": nir.LIF(**lif),
        "ab": nir.Linear(weight=np.eye(n)), "ba": nir.Linear(weight=np.eye(n)),
        "out": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("in", "a"), ("a", "ab"), ("ab", "b"), ("b", "ba"), ("ba", "a"), ("b", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(ConversionError, match="cycle through"):
        import_nir(graph, dt=0.001)


def test_functional_add_static_input_and_conv1d():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    x_in = keras.Input((5,))
    x = ks.layers.RepeatTime(T)(x_in)  # static input: NIR's input is one step
    a, b = _dense(4)(x), _dense(4)(x)
    y = ks.layers.Leaky(0.8, reset="zero")(keras.layers.Add()([a, b]))
    model = keras.Model(x_in, y)
    graph = export_nir(model)
    static = np.random.default_rng(6).uniform(0, 1, (3, 5)).astype("float32")
    timed = np.repeat(static[:, None], T, axis=1)
    np.testing.assert_allclose(simulate_nir(graph, timed, 0.001), np.asarray(model(static)))
    np.testing.assert_allclose(np.asarray(import_nir(graph)(timed)), np.asarray(model(static)))
    conv = _seeded_model(lambda: [
        keras.Input((T, 9, 2)),
        ks.layers.TimeFold(keras.layers.Conv1D(3, 3, strides=2, dilation_rate=1)),
        ks.layers.Leaky(0.7, reset="zero"), ks.layers.TimeFold(keras.layers.Flatten()),
    ])
    _check_round_trip(conv, _input((9, 2), high=2.0))


# -- errors ------------------------------------------------------------------------------
def _export_error(layers, match, **options):
    model = keras.Sequential([keras.Input((T, 4))] + layers())
    with pytest.raises(ConversionError, match=match) as info:
        export_nir(model, **options)
    return str(info.value)


def test_export_errors_name_layer_reason_and_fix():
    message = _export_error(lambda: [ks.layers.Leaky(0.9, name="leaky")], "subtracting")
    assert "'leaky' (Leaky)" in message and "approximate=('subtract_reset',)" in message
    message = _export_error(lambda: [ks.layers.SpikingLIF(tau_ref=0.002)], "refractory")
    assert "use tau_ref=0" in message and "approximate=('refractory', 'voltage_floor')" in message
    _export_error(lambda: [ks.layers.SpikingLIF(tau_ref=0.0)], "clips its voltage")
    message = _export_error(lambda: [ks.layers.SpikingLIF(initial_voltage="half")], "refractory")
    assert "approximate=('refractory', 'voltage_floor', 'initial_voltage')" in message
    _export_error(lambda: [ks.layers.SpikingIF(reset="zero", initial_voltage="half")], "initial_voltage")
    _export_error(lambda: [ks.layers.Alpha(0.01)], "integration='exact'")
    _export_error(lambda: [ks.layers.Synaptic(0.5, 0.5, reset="zero")], "integration='euler'",
                  integration="exact")
    _export_error(lambda: [ks.layers.Leaky(0.9, reset="none")], "always reset")
    _export_error(lambda: [ks.layers.Leaky(0.9, reset="zero", output="membrane")], "output='spikes'")
    _export_error(lambda: [keras.layers.Dense(3, activation="relu")], "activation")
    _export_error(lambda: [ks.layers.LIFRate()], "no rule")
    _export_error(lambda: [ks.layers.SpikingIF(reset="zero", dt=0.002)], "dt", dt=0.001)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.TimeFold(keras.layers.Conv2D(2, 2, padding="same"))])
    with pytest.raises(ConversionError, match="unevenly"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)), keras.layers.Reshape((T, 16))])
    with pytest.raises(ConversionError, match="TimeFold"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.TimeFold(keras.layers.MaxPooling2D(2, name="pool"))])
    with pytest.raises(ConversionError, match="'pool' .*no rule"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.SpikeMaxPool(keras.layers.MaxPooling2D(2), name="smp")])
    with pytest.raises(ConversionError, match="'smp' \\(SpikeMaxPool\\).*no rule"):
        export_nir(model)  # a TimeFold subclass: not taken for a plain TimeFold
    with pytest.raises(ValueError, match="approximate"):
        export_nir(model, approximate=("everything",))


def test_approximations_export_when_accepted():
    model = _seeded_model(lambda: [keras.Input((T, 4)), ks.layers.Leaky(0.9),
                           ks.layers.SpikingLIF(tau_ref=0.002)])
    graph = export_nir(model, approximate=("subtract_reset", "refractory", "voltage_floor"))
    assert isinstance(graph.nodes["leaky"], nir.LIF)


def test_import_errors():
    graph, _ = _lif_graph(tau=0.01, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    with pytest.raises(ValueError, match="pass dt"):
        import_nir(graph)
    delay = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([2])}),
                                   nir.Delay(delay=np.ones(2, "float32")),
                                   nir.Output(output_type={"output": np.array([2])}))
    with pytest.raises(ConversionError, match="'delay' \\(Delay\\).*no Keras form"):
        import_nir(delay, dt=0.001)
