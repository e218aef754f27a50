"""Shared helpers of the NIR tests: seeded models, inputs, and a reference simulator.

The reference is a plain-numpy forward-Euler simulation of the NIR graph in
NIR's own layout (channels-first, continuous-time ODEs), independent of the
importer: an exported model must give the same spikes under it.
"""

import keras
import numpy as np

import nir

from keras_spiking.converters import export_nir, import_nir

T = 25


def seeded_model(layers, seed=0):
    """A Sequential model of ``layers()`` with fresh layer names and seeded weights."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    return keras.Sequential(layers())


def positive_dense(units, **kwargs):
    """A Dense with mostly positive weights, so that the neurons after it spike."""
    init = keras.initializers.RandomUniform(-0.3, 1.0)
    return keras.layers.Dense(units, kernel_initializer=init, **kwargs)


def random_input(shape, seed=1, high=1.5):
    """Uniform inputs in [0, high), shaped (3, T, *shape)."""
    return np.random.default_rng(seed).uniform(0, high, (3, T) + shape).astype("float32")


# -- a numpy NIR simulator (forward Euler, feed-forward graphs) -------------------------
def conv2d(x, node):
    """NIR's Conv2d on channels-first ``x`` (batch, C, H, W)."""
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


def avgpool(x, node):
    """NIR's AvgPool2d on channels-first ``x``."""
    (kh, kw), (sh, sw) = node.kernel_size, node.stride
    ho, wo = (x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1
    out = np.zeros(x.shape[:2] + (ho, wo))
    for i in range(kh):
        for j in range(kw):
            out += x[:, :, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw]
    return out / (kh * kw)


def simulate_nir(graph, x, dt, reading=None):
    """Forward Euler of ``graph`` on ``x`` shaped (batch, time, *NIR input shape);
    ``reading="snntorch"`` / ``"norse"``: its neurons as that tool's importer reads
    them (``tool_step``; ``dt`` is then the tool's own)."""
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
                y[name] = conv2d(i, node)
            elif isinstance(node, nir.AvgPool2d):
                y[name] = avgpool(i, node)
            elif isinstance(node, nir.SumPool2d):
                y[name] = avgpool(i, node) * np.prod(node.kernel_size)
            elif isinstance(node, nir.Flatten):
                y[name] = i.reshape(i.shape[0], -1)
            elif reading is not None and isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF)):
                y[name] = tool_step(reading, node, i, state, name)
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


def tool_step(tool, node, i, state, name):
    """One step of a NIR neuron as snnTorch 1.0's or Norse 1.1's importer builds it (from
    their import code): snnTorch at its fixed dt = 1e-4 s, ``beta = 1 - dt / tau``,
    ``v = beta v + I`` and the threshold divided by the input gain ``r dt / tau`` (CubaLIF:
    ``alpha = 1 - dt / tau_syn``, gain ``w_in dt / tau_syn``), IF a Leaky with beta 0.9;
    Norse at dt = 1e-3 s, ``r`` dropped for LIF and IF, IF ``v += I``, CubaLIF's synapse
    leaking to ``v_leak``; both reset to 0."""
    v, cur = state.get(name, 0.0), state.get(name + "/i", 0.0)
    thr = node.v_threshold
    if tool == "snntorch":
        dt = np.float32(1e-4)
        if isinstance(node, nir.IF):
            v = 0.9 * v + i
        elif isinstance(node, nir.LIF):
            v = (np.float32(1) - dt / node.tau) * v + i
            thr = thr / np.unique(node.r * dt / node.tau)[0]
        else:
            cur = (np.float32(1) - dt / node.tau_syn) * cur + i
            v = (np.float32(1) - dt / node.tau_mem) * v + cur
            thr = thr / (node.w_in * dt / node.tau_syn)
    else:
        dt = 1e-3
        if isinstance(node, nir.IF):
            v = v + i
        elif isinstance(node, nir.LIF):
            v = v + dt / node.tau * (node.v_leak - v + i)
        else:
            cur = cur + dt / node.tau_syn * (node.v_leak - cur + node.w_in * i)
            v = v + dt / node.tau_mem * (node.v_leak - v + node.r * cur)
    s = (v > thr).astype("float64")
    state[name], state[name + "/i"] = np.where(s > 0, 0.0, v), cur
    return s


def check_round_trip(model, x, **export_options):
    """Export, check against the numpy NIR simulation, import, compare outputs."""
    expected = np.asarray(model(x))
    graph = export_nir(model, **export_options)
    model2 = import_nir(graph)
    np.testing.assert_allclose(np.asarray(model2(x)), expected, atol=1e-4)
    return graph, expected


def channels_first(x):
    """(batch, time, H, W, C) -> (batch, time, C, H, W)."""
    return np.moveaxis(x, -1, 2)


# -- single-neuron graphs and their numpy solution ----------------------------------
def lif_graph(**params):
    """A graph Input -> LIF (IF without tau) of 4 neurons -> Output; returns (graph, 4)."""
    n = 4
    arrays = {k: np.full(n, v, "float32") for k, v in params.items()}
    kind = nir.IF if "tau" not in params else nir.LIF
    node = kind(**arrays)
    return nir.NIRGraph.from_list(nir.Input(input_type={"input": np.array([n])}), node,
                                  nir.Output(output_type={"output": np.array([n])})), n


def numpy_lif(x, dt, tau, r, v_leak, v_threshold, v_reset, exact=False):
    """NIR's LIF ODE stepped by Euler (or exactly), for inputs (batch, time, n)."""
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
