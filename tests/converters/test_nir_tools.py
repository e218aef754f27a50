"""export_nir(for_tool=...): graphs that snnTorch's and Norse's NIR importers read right.

Without torch: the written parameters against closed forms (the tool's step,
its gains, its node set, its Flatten), the graph against the numpy NIR
simulation at the tool's step, and the refusals. With the peer venv (``KS_TORCH_PYTHON``,
else ``/work/venvs/torch/bin/python``): the file imported by the tool's own
importer gives our spikes (``benchmarks/nir_peer_run.py`` in a subprocess).
"""

import os
import pathlib
import subprocess

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import ConversionError, export_nir, import_nir  # noqa: E402
from nir_reference import (  # noqa: E402
    T,
    channels_first,
    positive_dense,
    random_input,
    seeded_model,
    simulate_nir,
)

DT = 0.001
TOOL_DT = {"snntorch": 1e-4, "norse": 1e-3}
PEER_RUN = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "nir_peer_run.py"


def _dense_net(neuron, last=None):
    return lambda: [keras.Input((T, 6)), positive_dense(8), neuron(), positive_dense(3),
                    (last or neuron)()]


NETS = {
    "leaky": _dense_net(lambda: ks.layers.Leaky(beta=0.9, reset="zero")),
    "if": _dense_net(lambda: ks.layers.IF(threshold=1.5, reset="zero")),
    "synaptic": _dense_net(lambda: ks.layers.Synaptic(alpha=0.6, beta=0.85, reset="zero"),
                           lambda: ks.layers.Synaptic(alpha=0.6, beta=0.85, reset="zero",
                                                      threshold=4.0)),
    "spiking_if": _dense_net(lambda: ks.layers.SpikingIF(reset="zero", threshold=0.004,
                                                         amplitude=0.0005),
                             lambda: ks.layers.Leaky(beta=0.9, reset="zero")),
}


#: recurrent nets: Norse runs NIR's cycles; snnTorch's importer fails on them (refused)
RECURRENT = {
    "rleaky": _dense_net(lambda: ks.layers.RLeaky(beta=0.9, reset="zero")),
    "rleaky_one_to_one": _dense_net(lambda: ks.layers.RLeaky(beta=0.9, reset="zero",
                                                             all_to_all=False, V=-0.5)),
}


def cnn():
    return [keras.Input((T, 6, 6, 1)),
            ks.layers.TimeFold(keras.layers.Conv2D(3, 3, padding="same",
                                                   kernel_initializer=keras.initializers.
                                                   RandomUniform(-0.2, 0.8))),
            ks.layers.IF(threshold=1.0, reset="zero"),
            ks.layers.TimeFold(keras.layers.AveragePooling2D(2)),
            ks.layers.TimeFold(keras.layers.Flatten()),
            keras.layers.Dense(4, kernel_initializer=keras.initializers.RandomUniform(-0.5, 0.6)),
            ks.layers.Leaky(beta=0.8, reset="zero", threshold=2.0)]


def _model(name):
    return seeded_model(cnn if name == "cnn" else {**NETS, **RECURRENT}[name])


def _inputs(name):
    return random_input((6, 6, 1) if name == "cnn" else (6,), high=1.0)


def _nodes(graph, cls):
    return [n for n in graph.nodes.values() if type(n) is cls]


# -- the written graph, without torch -------------------------------------------------------
@pytest.mark.parametrize("tool, name", [(tool, name) for tool in ("snntorch", "norse")
                                        for name in (*NETS, "cnn")] +
                         [("norse", name) for name in RECURRENT])
def test_tool_graph_equals_the_model_at_the_tools_step(name, tool):
    """NIR-true at the tool's step (numpy Euler and import_nir), read back by nir."""
    model, x = _model(name), _inputs(name)
    expected = np.asarray(model(x))
    assert 0.02 < expected.mean() < 0.98  # the neurons spike, not always
    graph = export_nir(model, dt=DT, for_tool=tool)
    meta = graph.metadata["keras_spiking"]
    assert (meta["dt"], meta["model_dt"], meta["for_tool"]) == (TOOL_DT[tool], DT, tool)
    xs = channels_first(x) if x.ndim == 5 else x
    np.testing.assert_array_equal(simulate_nir(graph, xs, TOOL_DT[tool]), expected)
    np.testing.assert_array_equal(np.asarray(import_nir(graph)(x)), expected)
    # as the tool's importer reads it (numpy, from its import code): the same spikes
    np.testing.assert_array_equal(simulate_nir(graph, xs, None, reading=tool), expected)


@pytest.mark.parametrize("tool", ["snntorch", "norse"])
def test_the_exact_graph_is_read_wrongly_by_the_tools(tool):
    """What for_tool fixes: the exact Leaky graph at dt = 1 ms, read as the tool reads it."""
    model, x = _model("leaky"), _inputs("leaky")
    exact = export_nir(model, dt=DT)
    read = simulate_nir(exact, x, None, reading=tool)
    assert np.mean(read != np.asarray(model(x))) > 0.05


def test_snntorch_closed_forms(tmp_path):
    """snnTorch reads beta = 1 - 1e-4 / tau and the gain r 1e-4 / tau: the layer's beta and
    gain 1 (the gain is in the weights); IF is a LIF whose float32 beta is exactly 1."""
    model = _model("spiking_if")
    exact = export_nir(model, dt=DT)
    graph = export_nir(model, tmp_path / "g.nir", dt=DT, for_tool="snntorch")
    node = graph.nodes[[k for k, n in exact.nodes.items() if type(n) is nir.IF][0]]
    beta = np.float32(1) - np.float32(1e-4) / node.tau
    assert type(node) is nir.LIF and np.all(beta == 1)
    assert np.allclose(node.r * 1e-4 / node.tau, 1) and np.all(node.v_leak == 0)
    (w_exact, w) = (_nodes(g, nir.Affine)[0] for g in (exact, graph))
    gain = _nodes(exact, nir.IF)[0].r * DT  # the IF's v <- v + gain I
    np.testing.assert_allclose(w.weight, w_exact.weight * gain[:, None], rtol=1e-6)
    np.testing.assert_allclose(w.bias, w_exact.bias * gain, rtol=1e-6)
    assert nir.read(tmp_path / "g.nir").nodes.keys() == graph.nodes.keys()

    graph = export_nir(_model("leaky"), dt=DT, for_tool="snntorch")
    for node in _nodes(graph, nir.LIF):
        np.testing.assert_allclose(1 - 1e-4 / node.tau, 0.9, rtol=1e-6)
    graph = export_nir(_model("synaptic"), dt=DT, for_tool="snntorch")
    node = _nodes(graph, nir.CubaLIF)[0]
    np.testing.assert_allclose(1 - 1e-4 / node.tau_syn, 0.6, rtol=1e-6)
    np.testing.assert_allclose(node.r, node.tau_mem / 1e-4, rtol=1e-6)  # snnTorch's assert
    np.testing.assert_allclose(node.w_in * 1e-4 / node.tau_syn, 1, rtol=1e-6)


def test_norse_closed_forms(tmp_path):
    """Norse drops r (LIF; IF also dt): r = 1, IF r dt = 1, the gains in the weights;
    AvgPool2d is a SumPool2d with 1 / window in the next weights; Flatten keeps the batch."""
    model = _model("cnn")
    exact = export_nir(model, dt=DT)
    graph = export_nir(model, tmp_path / "g.nir", dt=DT, for_tool="norse")
    nir.read(tmp_path / "g.nir")
    assert not _nodes(graph, nir.AvgPool2d) and len(_nodes(graph, nir.SumPool2d)) == 1
    (lif,) = _nodes(graph, nir.LIF)
    (iaf,) = _nodes(graph, nir.IF)
    assert np.all(lif.r == 1) and np.allclose(iaf.r * 1e-3, 1)
    conv_exact, conv = (_nodes(g, nir.Conv2d)[0] for g in (exact, graph))
    gain = _nodes(exact, nir.IF)[0].r[:, 0, 0] * DT
    np.testing.assert_allclose(conv.weight, conv_exact.weight * gain[:, None, None, None])
    dense_exact, dense = (_nodes(g, nir.Affine)[0] for g in (exact, graph))
    r = _nodes(exact, nir.LIF)[0].r
    np.testing.assert_allclose(dense.weight, dense_exact.weight * r[:, None] / 4, rtol=1e-6)
    (flat,) = _nodes(graph, nir.Flatten)
    assert (flat.start_dim, flat.end_dim) == (-3, -1)
    assert _nodes(exact, nir.Flatten)[0].start_dim == 0  # for_tool="nir": as before


def test_one_to_one_recurrence_is_a_diagonal_linear_for_norse():
    layers = lambda: [keras.Input((T, 6)), positive_dense(5),  # noqa: E731
                      ks.layers.RLeaky(beta=0.9, reset="zero", all_to_all=False, V=0.4)]
    model, x = seeded_model(layers), random_input((6,), high=1.0)
    graph = export_nir(model, dt=DT, for_tool="norse")
    weights = [n for k, n in graph.nodes.items() if k.endswith("_recurrent")]
    assert len(weights) == 1 and type(weights[0]) is nir.Linear
    np.testing.assert_allclose(weights[0].weight, np.diag(np.full(5, 0.4)) * 10, rtol=1e-6)  # r = 1 / (1 - beta)
    np.testing.assert_array_equal(np.asarray(import_nir(graph)(x)), np.asarray(model(x)))


def _refusal(layers, tool, match):
    model = seeded_model(layers)
    with pytest.raises(ConversionError, match=match) as info:
        export_nir(model, dt=DT, for_tool=tool)
    return str(info.value)


def test_what_a_tool_cannot_run_is_refused_naming_the_layer_and_fix():
    message = _refusal(lambda: [keras.Input((T, 4)), keras.layers.Dense(3),
                                ks.layers.Lowpass(0.01, name="syn")], "norse", "no LI node")
    assert "'syn' (Lowpass)" in message and "for Norse" in message and "synapse=None" in message
    message = _refusal(lambda: [keras.Input((T, 4)), keras.layers.Dense(3),
                                ks.layers.RLeaky(beta=0.9, reset="zero", name="rec")],
                       "snntorch", "recurrent")
    assert "'rec' (RLeaky)" in message and "for_tool='norse'" in message
    _refusal(lambda: [keras.Input((T, 4)), keras.layers.Dense(3),
                      ks.layers.Leaky(beta=np.array([0.9, 0.8, 0.7]), reset="zero",
                                      threshold=np.array([1.0, 2.0, 1.0]))],
             "snntorch", "one threshold per layer")
    _refusal(lambda: [keras.Input((T, 4)), ks.layers.Leaky(beta=0.9, reset="zero", name="lk")],
             "norse", "'lk' .*Dense or Conv right before")
    _refusal(lambda: [keras.Input((T, 4)), keras.layers.Dense(3),
                      ks.layers.SpikingIF(reset="zero", amplitude=2.0, name="out")],
             "snntorch", "'out_amplitude'|'out' .*Scale")
    with pytest.raises(ValueError, match="for_tool"):
        export_nir(seeded_model(NETS["leaky"]), for_tool="loihi")
    with pytest.raises(ValueError, match="integration='euler'"):
        export_nir(seeded_model(NETS["leaky"]), for_tool="norse", integration="exact")


# -- the peers' own importers (skipped without the peer venv) --------------------------------
def _peer_python():
    python = os.environ.get("KS_TORCH_PYTHON") or "/work/venvs/torch/bin/python"
    if not os.path.isfile(python):
        pytest.skip("no peer venv with torch, snnTorch and Norse (set KS_TORCH_PYTHON)")
    check = subprocess.run([python, "-c", "import nir, snntorch, norse"], capture_output=True)
    if check.returncode:
        pytest.skip("the peer venv lacks nir, snntorch or norse")
    return python


@pytest.mark.parametrize("tool", ["snntorch", "norse"])
def test_peer_importer_gives_our_spikes(tool, tmp_path):
    python = _peer_python()
    names = ("leaky", "if", "synaptic", "spiking_if", "cnn") + (
        tuple(RECURRENT) if tool == "norse" else ())
    expected, files = [], []
    for name in names:
        model, x = _model(name), _inputs(name)
        expected.append(np.asarray(model(x)))
        paths = [str(tmp_path / f"{name}.{ext}") for ext in ("nir", "x.npy", "y.npy")]
        export_nir(model, paths[0], dt=DT, for_tool=tool)
        np.save(paths[1], channels_first(x) if x.ndim == 5 else x)
        files.extend(paths)
    subprocess.run([python, str(PEER_RUN), tool, *files], check=True, capture_output=True)
    for name, want, path in zip(names, expected, files[2::3]):
        np.testing.assert_array_equal(np.load(path), want, err_msg=f"{name} in {tool}")
