"""keras_spiking's LIF layers against snnTorch 1.0: spike for spike, and speed.

Runs the same inputs through keras_spiking.layers (this process, TensorFlow)
and snnTorch (a subprocess in a separate torch venv), then prints

* for each configuration: the number of differing spikes, the largest
  membrane difference and the largest input-gradient difference (loss =
  sum of spikes times fixed random weights, default atan surrogate);
* forward+backward milliseconds of one neuron layer alone
  (B=128, T=25, 1728 units = snnTorch tutorial 6's first LIF layer),
  for Leaky in both packages, and the ratio.

Run (peer venv recipe in ../shared/ANCHORS.md):
    nice -n 10 python benchmarks/leaky_vs_snntorch.py \
        --peer-python /work/venvs/peers-torch/bin/python
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

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
}
SMALL = (8, 30, 16)  # batch, time, units for the equivalence checks


def make_data(path):
    rng = np.random.default_rng(0)
    data = {
        "x": rng.uniform(-0.5, 1.5, SMALL).astype("float32"),
        "w_out": rng.normal(size=SMALL).astype("float32"),
        "per_unit": rng.uniform(0.2, 0.95, SMALL[2]).astype("float32"),
        "kernel": rng.normal(0, 0.3, (SMALL[2], SMALL[2])).astype("float32"),
        "x_big": rng.uniform(0, 1, (B, T, N)).astype("float32"),
    }
    np.savez(path, **data)
    return data


# ---------------------------------------------------------------- snnTorch side
def run_peer(path, out_path):
    import snntorch as snn
    import torch

    torch.set_num_threads(2)
    data = dict(np.load(path))
    results = {}
    for name, (_, _, cls, kwargs) in CONFIGS.items():
        kwargs = dict(kwargs)
        if kwargs.get("beta") == "per_unit":
            kwargs["beta"] = torch.tensor(data["per_unit"])
        layer = getattr(snn, cls)(**kwargs)
        if kwargs.get("linear_features"):
            with torch.no_grad():
                layer.recurrent.weight.copy_(torch.tensor(data["kernel"].T))
                layer.recurrent.bias.zero_()
        x = torch.tensor(data["x"], requires_grad=True)
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
        (spikes * torch.tensor(data["w_out"])).sum().backward()
        results[name] = {
            "spikes": spikes.detach().numpy(),
            "mem": mems.detach().numpy(),
            "grad": x.grad.numpy(),
        }

    layer = snn.Leaky(beta=0.5, spike_grad=snn.surrogate.fast_sigmoid(25))
    x = torch.tensor(data["x_big"], requires_grad=True)

    def fwd_bwd():
        mem = layer.reset_mem()
        mem = None
        total = 0.0
        for t in range(T):
            spk, mem = layer(x[:, t], mem)
            total = total + spk.sum()
        total.backward()

    times = []
    for _ in range(12):
        start = time.perf_counter()
        fwd_bwd()
        times.append(time.perf_counter() - start)
    np.savez(out_path, **{f"{k}|{f}": v for k, r in results.items() for f, v in r.items()})
    print(json.dumps({"ms": 1000 * float(np.median(times[2:]))}))


# ---------------------------------------------------------------- keras_spiking side
def run_ours(data):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    from keras_spiking import layers, surrogates

    results = {}
    for name, (cls, kwargs, _, _) in CONFIGS.items():
        kwargs = dict(kwargs)
        if kwargs.get("beta") == "per_unit":
            kwargs["beta"] = data["per_unit"]
        layer = getattr(layers, cls)(output="both", **kwargs)
        x = tf.constant(data["x"])
        layer.build(x.shape)
        if getattr(layer, "all_to_all", False):
            layer.recurrent_kernel.assign(data["kernel"])
        with tf.GradientTape() as tape:
            tape.watch(x)
            spikes, mem = layer(x)
            loss = tf.reduce_sum(spikes * data["w_out"])
        results[name] = {
            "spikes": spikes.numpy(),
            "mem": mem.numpy(),
            "grad": tape.gradient(loss, x).numpy(),
        }

    layer = layers.Leaky(beta=0.5, surrogate=surrogates.FastSigmoid(25))
    x = tf.constant(data["x_big"])

    @tf.function
    def fwd_bwd(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = tf.reduce_sum(layer(x))
        return tape.gradient(total, x)

    times = []
    for _ in range(12):
        start = time.perf_counter()
        fwd_bwd(x).numpy()
        times.append(time.perf_counter() - start)
    return results, 1000 * float(np.median(times[2:]))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--peer-python", default="/work/venvs/peers-torch/bin/python")
    parser.add_argument("--peer", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        run_peer(*args.peer)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path, out_path = os.path.join(tmp, "data.npz"), os.path.join(tmp, "peer.npz")
        data = make_data(path)
        peer = subprocess.run(
            [args.peer_python, os.path.abspath(__file__), "--peer", path, out_path],
            check=True, capture_output=True, text=True,
        )
        peer_ms = json.loads(peer.stdout.strip().splitlines()[-1])["ms"]
        theirs = dict(np.load(out_path))
        ours, our_ms = run_ours(data)
    print(f"{'configuration':36} {'spikes':>8} {'differ':>7} {'max |dv|':>9} {'max |dgrad|':>11}")
    for name, r in ours.items():
        spikes = theirs[f"{name}|spikes"]
        differ = int(np.sum(r["spikes"] != spikes))
        dv = float(np.max(np.abs(r["mem"] - theirs[f"{name}|mem"])))
        dg = float(np.max(np.abs(r["grad"] - theirs[f"{name}|grad"])))
        print(f"{name:36} {int(spikes.sum()):8d} {differ:7d} {dv:9.2e} {dg:11.2e}")
    print(f"Leaky alone, B={B} T={T} N={N}, forward+backward: keras_spiking "
          f"{our_ms:.1f} ms, snnTorch {peer_ms:.1f} ms, speed ratio {peer_ms / our_ms:.2f}x")


if __name__ == "__main__":
    sys.exit(main())
