"""keras_spiking's LIF layers against snnTorch 1.0 (and SpikingJelly 2.0's LIFNode):
spike for spike, and speed.

Runs the same inputs through keras_spiking.layers (this process, TensorFlow)
and snnTorch (a subprocess in a separate torch venv), then prints

* for each configuration: the number of differing spikes, the largest
  membrane difference and the largest input-gradient difference (loss =
  sum of spikes times fixed random weights, default atan surrogate);
* forward+backward milliseconds of one neuron layer alone
  (B=128, T=25, 1728 units = snnTorch tutorial 6's first LIF layer),
  for Leaky in both packages (best of 10 after 2 warm-ups, of ``--repeats``
  alternating runs (default 3), and for torch the better of 1 and 2 threads:
  the machine is shared), and the ratios per wall-clock and per CPU-second.
  The load average is printed at the start and the end.

Run, with snnTorch 1.0 and SpikingJelly 2.0 in a venv of their own
(``python -m venv $PEER_TORCH; $PEER_TORCH/bin/python -m pip install torch==2.13.0``,
then ``... install torch==2.13.0 snntorch==1.0.0 spikingjelly==2.0.0``):

    nice -n 10 python benchmarks/leaky_vs_snntorch.py --torch-python $PEER_TORCH/bin/python

(``--torch-python`` defaults to ``$KS_TORCH_PYTHON``).
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

import common

B, T, N = 128, 25, 1728

# name: (keras_spiking layer class, kwargs, snnTorch class, kwargs)
CONFIGS = {
    "Leaky subtract": ("Leaky", {"beta": 0.5}, "Leaky", {"beta": 0.5}),
    "Leaky zero": ("Leaky", {"beta": 0.8, "reset": "zero"}, "Leaky",
                   {"beta": 0.8, "reset_mechanism": "zero"}),
    "Leaky none": ("Leaky", {"beta": 0.9, "reset": "none"}, "Leaky",
                   {"beta": 0.9, "reset_mechanism": "none"}),
    "Leaky threshold 0.7, per-unit beta": (
        "Leaky", {"beta": "per_unit", "threshold": 0.7}, "Leaky",
        {"beta": "per_unit", "threshold": 0.7}),
    "Leaky zero, reset_delay=False": (
        "Leaky", {"beta": 0.8, "reset": "zero", "reset_delay": False, "reset_detached": False},
        "Leaky",
        {"beta": 0.8, "reset_mechanism": "zero", "reset_delay": False}),
    "Leaky subtract, reset_delay=False": (
        "Leaky", {"beta": 0.5, "reset_delay": False, "reset_detached": False},
        "Leaky",
        {"beta": 0.5, "reset_delay": False}),
    "Synaptic subtract": ("Synaptic", {"alpha": 0.6, "beta": 0.7}, "Synaptic",
                          {"alpha": 0.6, "beta": 0.7}),
    "RLeaky one-to-one": ("RLeaky", {"beta": 0.5, "all_to_all": False, "V": 0.3},
                          "RLeaky", {"beta": 0.5, "all_to_all": False, "V": 0.3}),
    "RLeaky all-to-all": ("RLeaky", {"beta": 0.5}, "RLeaky",
                          {"beta": 0.5, "linear_features": 16}),
    "RSynaptic all-to-all": ("RSynaptic", {"alpha": 0.5, "beta": 0.6}, "RSynaptic",
                             {"alpha": 0.5, "beta": 0.6, "linear_features": 16}),
    # SpikingJelly's LIFNode(tau, decay_input=False): v += (v_reset - v) / tau + x,
    # immediate reset, reset not detached: Leaky with beta = 1 - 1/tau
    "SpikingJelly LIFNode, hard reset": (
        "Leaky", {"beta": 0.5, "reset": "zero", "reset_delay": False, "reset_detached": False},
        "sj.LIFNode", {"tau": 2.0, "decay_input": False, "v_reset": 0.0}),
    "SpikingJelly LIFNode, soft reset": (
        "Leaky", {"beta": 0.5, "reset_delay": False, "reset_detached": False},
        "sj.LIFNode", {"tau": 2.0, "decay_input": False, "v_reset": None}),
    "RLeaky 3x3 conv recurrence": (
        "RLeaky", {"beta": 0.5, "recurrent_kernel_size": 3}, "RLeaky",
        {"beta": 0.5, "conv2d_channels": 3, "kernel_size": 3}),
}
CONV = (4, 12, 5, 6, 3)  # batch, time, height, width, channels
SMALL = (8, 30, 16)  # batch, time, units for the equivalence checks


def make_data(path):
    """The shared random inputs, weights and per-unit parameters, saved to ``path``."""
    rng = np.random.default_rng(0)
    data = {
        "x": rng.uniform(-0.5, 1.5, SMALL).astype("float32"),
        "w_out": rng.normal(size=SMALL).astype("float32"),
        "per_unit": rng.uniform(0.2, 0.95, SMALL[2]).astype("float32"),
        "kernel": rng.normal(0, 0.3, (SMALL[2], SMALL[2])).astype("float32"),
        "x_big": rng.uniform(0, 1, (B, T, N)).astype("float32"),
        "x_conv": rng.uniform(-0.5, 1.5, CONV).astype("float32"),
        "w_conv": rng.normal(size=CONV).astype("float32"),
        "kernel_conv": rng.normal(0, 0.3, (3, 3, 3, 3)).astype("float32"),
    }
    np.savez(path, **data)
    return data


# ---------------------------------------------------------------- snnTorch side
def run_peer(path, out_path):
    """snnTorch's side (in the torch venv): every configuration's spikes, membrane
    and input gradient to ``out_path``; prints the Leaky timing as one JSON line."""
    import snntorch as snn
    import torch

    torch.set_num_threads(2)
    data = dict(np.load(path))
    results = {}
    for name, (_, _, cls, kwargs) in CONFIGS.items():
        if cls.startswith("sj."):
            results[name] = run_spikingjelly(data, cls[3:], kwargs)
            continue
        kwargs = dict(kwargs)
        if kwargs.get("beta") == "per_unit":
            kwargs["beta"] = torch.tensor(data["per_unit"])
        layer = getattr(snn, cls)(**kwargs)
        conv = "kernel_size" in kwargs
        if kwargs.get("linear_features") or conv:
            # ours: (in, out) or (kh, kw, in, out); torch: (out, in) or (out, in, kh, kw)
            kernel = data["kernel_conv"].transpose(3, 2, 0, 1) if conv else data["kernel"].T
            with torch.no_grad():
                layer.recurrent.weight.copy_(torch.tensor(kernel))
                layer.recurrent.bias.zero_()
        x_leaf = torch.tensor(data["x_conv" if conv else "x"], requires_grad=True)
        # channels first per step for convolutions
        x = x_leaf.permute(0, 1, 4, 2, 3) if conv else x_leaf
        spikes, mems = [], []
        state = {}
        for t in range(x.shape[1]):
            if cls == "Leaky":
                spk, mem = layer(x[:, t], state.get("mem"))
                state = {"mem": mem}
            elif cls == "Synaptic":
                spk, syn, mem = layer(x[:, t], state.get("syn"), state.get("mem"))
                state = {"syn": syn, "mem": mem}
            elif cls == "RLeaky":
                spk, mem = layer(x[:, t], state.get("spk"), state.get("mem"))
                state = {"spk": spk, "mem": mem}
            else:
                spk, syn, mem = layer(x[:, t], state.get("spk"), state.get("syn"),
                                      state.get("mem"))
                state = {"spk": spk, "syn": syn, "mem": mem}
            spikes.append(spk)
            mems.append(mem)
        spikes, mems = torch.stack(spikes, 1), torch.stack(mems, 1)
        if conv:
            spikes, mems = spikes.permute(0, 1, 3, 4, 2), mems.permute(0, 1, 3, 4, 2)
        (spikes * torch.tensor(data["w_conv" if conv else "w_out"])).sum().backward()
        results[name] = {
            "spikes": spikes.detach().numpy(),
            "mem": mems.detach().numpy(),
            "grad": x_leaf.grad.numpy(),
        }

    layer = snn.Leaky(beta=0.5, spike_grad=snn.surrogate.fast_sigmoid(25))
    x = torch.tensor(data["x_big"], requires_grad=True)

    def fwd_bwd():
        layer.reset_mem()
        mem = None
        total = 0.0
        # unbind (one op; its backward is one stack) instead of x[:, t], whose
        # backward materialises a full-size zero tensor per step
        for x_t in x.unbind(1):
            spk, mem = layer(x_t, mem)
            total = total + spk.sum()
        total.backward()

    best = {}
    for threads in (2, 1):  # under load, 2 torch threads can be 5x slower than 1
        torch.set_num_threads(threads)
        best[threads] = common.best_of(fwd_bwd, repeats=10, warmup=2)
    threads = min(best, key=lambda n: best[n].wall)
    np.savez(out_path, **{f"{k}|{f}": v for k, r in results.items() for f, v in r.items()})
    print(json.dumps({"wall": best[threads].wall, "cpu": best[threads].cpu,
                      "threads": threads}))


def run_spikingjelly(data, cls, kwargs):
    """SpikingJelly's ``neuron.<cls>`` on the small input: spikes, membrane, gradient."""
    import torch
    from spikingjelly.activation_based import neuron, surrogate

    node = getattr(neuron, cls)(surrogate_function=surrogate.ATan(alpha=2.0), **kwargs)
    x = torch.tensor(data["x"], requires_grad=True)
    spikes, mems = [], []
    for t in range(x.shape[1]):
        spikes.append(node(x[:, t]))
        mems.append(node.v)
    spikes, mems = torch.stack(spikes, 1), torch.stack(mems, 1)
    (spikes * torch.tensor(data["w_out"])).sum().backward()
    return {"spikes": spikes.detach().numpy(), "mem": mems.detach().numpy(),
            "grad": x.grad.numpy()}


# ---------------------------------------------------------------- keras_spiking side
def run_ours(data):
    """keras_spiking's side: every configuration's spikes, membrane and input gradient."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from keras_spiking import layers

    results = {}
    for name, (cls, kwargs, _, _) in CONFIGS.items():
        kwargs = dict(kwargs)
        if kwargs.get("beta") == "per_unit":
            kwargs["beta"] = data["per_unit"]
        layer = getattr(layers, cls)(output="both", **kwargs)
        conv = "recurrent_kernel_size" in kwargs
        x = tf.constant(data["x_conv" if conv else "x"])
        layer.build(x.shape)
        if getattr(layer, "all_to_all", False):
            layer.recurrent_kernel.assign(data["kernel_conv" if conv else "kernel"])
        with tf.GradientTape() as tape:
            tape.watch(x)
            spikes, mem = layer(x)
            loss = tf.reduce_sum(spikes * data["w_conv" if conv else "w_out"])
        results[name] = {
            "spikes": spikes.numpy(),
            "mem": mem.numpy(),
            "grad": tape.gradient(loss, x).numpy(),
        }
    return results


def time_ours(data):
    """Best forward+backward ``common.Timing`` of one ``Leaky`` layer on the big input."""
    import tensorflow as tf

    from keras_spiking import layers, surrogates

    layer = layers.Leaky(beta=0.5, surrogate=surrogates.FastSigmoid(25))
    x = tf.constant(data["x_big"])

    @tf.function
    def fwd_bwd(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(layer(x))
        return tape.gradient(total, x)

    return common.best_of(lambda: fwd_bwd(x).numpy(), repeats=10, warmup=2)


def main():
    """Compare every configuration spike for spike, then time Leaky on both sides."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_peer_argument(parser, "torch")
    parser.add_argument("--repeats", type=int, default=common.ROUNDS,
                        help="alternate the two timings this many times, keep the best")
    parser.add_argument("--peer", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        run_peer(*args.peer)
        return
    python = common.peer_python("torch", args.torch_python, parser)
    with common.watch_load():
        compare(python, args.repeats)


def compare(python, repeats):
    """The comparison of ``main``: run both sides, print the tables."""
    with tempfile.TemporaryDirectory() as tmp:
        path, out_path = os.path.join(tmp, "data.npz"), os.path.join(tmp, "peer.npz")
        data = make_data(path)
        ours = run_ours(data)
        command = [python, os.path.abspath(__file__), "--peer", path, out_path]

        def peer():
            done = common.run_child(command, env=common.child_env())
            if done.returncode:
                raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n"
                                   f"{done.stderr[-3000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        runs = common.interleave_runs(
            {"snnTorch": peer, "keras_spiking": lambda: time_ours(data)}, repeats)
        theirs = dict(np.load(out_path))
    print(f"{'configuration':36} {'spikes':>8} {'differ':>7} {'max |dv|':>9} {'max |dgrad|':>11}")
    for name, r in ours.items():
        spikes = theirs[f"{name}|spikes"]
        differ = int(np.sum(r["spikes"] != spikes))
        dv = float(np.max(np.abs(r["mem"] - theirs[f"{name}|mem"])))
        dg = float(np.max(np.abs(r["grad"] - theirs[f"{name}|grad"])))
        print(f"{name:36} {int(spikes.sum()):8d} {differ:7d} {dv:9.2e} {dg:11.2e}")
    our_time = common.best(runs["keras_spiking"])
    peer_run = min(runs["snnTorch"], key=lambda r: r["wall"])
    peer_time = common.best(common.Timing(r["wall"], r["cpu"]) for r in runs["snnTorch"])
    threads = peer_run["threads"]
    print(f"\nLeaky alone, B={B} T={T} N={N}, forward+backward: keras_spiking "
          f"{1e3 * our_time.wall:.1f} ms, snnTorch {1e3 * peer_time.wall:.1f} ms (best with "
          f"{threads} torch thread(s)), speed ratio {peer_time.wall / our_time.wall:.2f}x")
    title = f"best of {repeats} alternating runs; one pass = forward+backward"
    print(common.ratio_table({"keras_spiking": our_time, "snnTorch": peer_time},
                             "keras_spiking", unit="passes", title=title))


if __name__ == "__main__":
    sys.exit(main())
