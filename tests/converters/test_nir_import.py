"""NIR -> Keras: the mapping against the NIR ODE, graphs import_nir reads, its errors;
and ContinuousLIF, NIR's neurons as one layer.
"""

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import ConversionError, export_nir, import_nir  # noqa: E402
from nir_reference import (  # noqa: E402
    T,
    lif_graph,
    numpy_lif,
    positive_dense,
    random_input,
    seeded_model,
)


# -- the mapping against the NIR ODE ----------------------------------------------------
@pytest.mark.parametrize("integration", ["euler", "exact"])
def test_import_honours_r_v_leak_v_reset(integration):
    params = dict(tau=0.01, r=2.5, v_leak=0.3, v_threshold=1.0, v_reset=-0.4)
    graph, n = lif_graph(**params)
    x = np.random.default_rng(3).uniform(-0.2, 0.8, (2, 60, n)).astype("float32")
    got = np.asarray(import_nir(graph, dt=0.001, integration=integration)(x))
    expected = numpy_lif(x, 0.001, exact=integration == "exact", **params)
    np.testing.assert_array_equal(got, expected)
    assert expected.sum() > 10
    # a v_reset of 0 or r = 1 would give other spikes: both are really used
    for change in ({"v_reset": 0.0}, {"r": 1.0}):
        assert not np.array_equal(numpy_lif(x, 0.001, exact=integration == "exact",
                                             **{**params, **change}), expected)


def test_import_if_integrates_r_times_input_over_dt():
    graph, n = lif_graph(r=40.0, v_threshold=1.0, v_reset=0.0)
    x = np.random.default_rng(4).uniform(0, 1, (2, 50, n)).astype("float32")
    got = np.asarray(import_nir(graph, dt=0.002)(x))
    np.testing.assert_array_equal(got, numpy_lif(x, 0.002, None, 40.0, 0.0, 1.0, 0.0))
    # mean rate of dv/dt = r I: about r * mean(I) / threshold Hz
    assert abs(got.sum(1).mean() / (50 * 0.002) - 40 * x.mean()) < 8


def test_euler_and_exact_give_different_spike_counts():
    graph, n = lif_graph(tau=0.005, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
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
    x = random_input((2,), high=4.0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(np.asarray(loaded(x)), np.asarray(model(x)))
    with pytest.raises(ValueError, match="tau_syn"):
        ks.layers.ContinuousLIF(tau=None, tau_syn=0.01)
    with pytest.raises(ValueError, match="integration"):
        ks.layers.ContinuousLIF(integration="rk4")


def test_import_inlines_nested_graphs():
    model = seeded_model(lambda: [
        keras.Input((T, 4)), positive_dense(4), ks.layers.RLeaky(0.8, reset="zero", name="rec"),
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
    x = random_input((4,), high=1.0)
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
    with pytest.raises(ConversionError, match="cycle a -> ab -> b -> ba -> a that"):
        import_nir(graph, dt=0.001)


def test_cycle_error_names_only_the_nodes_of_the_cycle():
    n = 2
    lif = dict(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))
    nodes = {
        "in": nir.Input(input_type={"input": np.array([n])}),
        "pre": nir.Linear(weight=np.eye(n)),
        "a": nir.LIF(**lif), "b": nir.LIF(**lif),
        "ab": nir.Linear(weight=np.eye(n)), "ba": nir.Linear(weight=np.eye(n)),
        "post": nir.Linear(weight=np.eye(n)),  # after the cycle: not part of it
        "out": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("in", "pre"), ("pre", "a"), ("a", "ab"), ("ab", "b"), ("b", "ba"), ("ba", "a"),
             ("b", "post"), ("post", "out")]
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)
    with pytest.raises(ConversionError) as info:
        import_nir(graph, dt=0.001)
    message = str(info.value)
    assert "NIR node 'a' (LIF)" in message
    assert "cycle a -> ab -> b -> ba -> a that" in message
    assert all(f"'{name}'" not in message for name in ("in", "pre", "post", "out"))


@pytest.mark.parametrize("bias", [True, False])
def test_import_snntorch_rleaky_affine_self_loop(bias):
    """snnTorch exports RLeaky as a subgraph Input -> LIF <-> Affine (its recurrent
    torch Linear, bias included) -> Output; the bias reaches the neuron every step."""
    n, m, dt = 3, 2, 1e-4
    rng = np.random.default_rng(0)
    beta, w_ff, w_rec = 0.9, rng.uniform(0, 1, (n, m)), rng.uniform(-0.5, 0.5, (n, n))
    b_rec = rng.uniform(0, 0.3, n) if bias else np.zeros(n)
    tau = np.full(n, dt / (1 - beta))
    lif = nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(n), v_threshold=np.ones(n),
                  v_reset=np.zeros(n))
    loop = nir.Affine(weight=w_rec, bias=b_rec) if bias else nir.Linear(weight=w_rec)
    sub = nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([n])}),
                              "lif": lif, "w_rec": loop,
                              "output": nir.Output(output_type={"output": np.array([n])})},
                       edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"),
                              ("lif", "output")], type_check=False)
    graph = nir.NIRGraph(nodes={"in": nir.Input(input_type={"input": np.array([m])}),
                                "fc": nir.Linear(weight=w_ff), "rlif": sub,
                                "out": nir.Output(output_type={"output": np.array([n])})},
                         edges=[("in", "fc"), ("fc", "rlif"), ("rlif", "out")], type_check=False)
    x = rng.uniform(0, 1, (2, 30, m)).astype("float32")
    v, s, expected = np.zeros((2, n)), np.zeros((2, n)), []
    for t in range(x.shape[1]):  # snnTorch's RLeaky: beta v + W x + (W_rec s_prev + b_rec)
        v = beta * v + x[:, t] @ w_ff.T + s @ w_rec.T + b_rec
        s = (v > 1).astype("float64")
        v = np.where(s > 0, 0.0, v)
        expected.append(s)
    expected = np.stack(expected, 1)
    assert 0.05 < expected.mean() < 0.95
    model = import_nir(graph, dt=dt)
    np.testing.assert_array_equal(np.asarray(model(x)), expected)


def test_import_errors():
    graph, _ = lif_graph(tau=0.01, r=1.0, v_leak=0.0, v_threshold=1.0, v_reset=0.0)
    with pytest.raises(ValueError, match="pass dt"):
        import_nir(graph)
    delay = nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([2])}),
                                   nir.Delay(delay=np.ones(2, "float32")),
                                   nir.Output(output_type={"output": np.array([2])}))
    with pytest.raises(ConversionError, match="'delay' \\(Delay\\).*no Keras form"):
        import_nir(delay, dt=0.001)
