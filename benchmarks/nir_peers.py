"""Benchmark: our NIR exports read by snnTorch's and Norse's own NIR importers, spike for spike.

Trains briefly on Fashion-MNIST (1 epoch on ``--train-size`` images) three
networks on a static image repeated over T = 16 steps of dt = 1 ms:

* ``leaky``: Dense 100 > Leaky(beta 0.9) > Dense 10 > Leaky(0.9), surrogate
  gradients (the spike rates as logits);
* ``synaptic``: the same with Synaptic(alpha 0.8, beta 0.9);
* ``converted``: a ReLU CNN (Conv 8 3x3 > AvgPool 2 > Conv 16 3x3 > AvgPool 2 >
  Dense 10) converted with ``reset="zero"``, ``synapse=None``,
  ``static_input=True`` and ``readout="last"`` (IF neurons; the output is the
  Dense's value per step);

exports each with ``export_nir(for_tool=...)`` for ``"snntorch"`` and
``"norse"``, and also the exact graph (``for_tool="nir"``) as those tools would
read it today, runs the files in the peer venv (``nir_peer_run.py``, one
subprocess per tool) on ``--test-size`` test images and prints, per network and
tool, the share of output values equal to ours (spikes; for the converted
network's real-valued output: within 1e-4 of the largest value) and the share
of equal predictions (the class with the most output summed over time), or the
peer's error.

Run (from the repository root; the torch venv of ``common.PEERS``):

    python benchmarks/nir_peers.py --torch-python /work/venvs/torch/bin/python

Options: --train-size (default 5000), --test-size (default 200), --timesteps
(default 16). Accuracy/agreement only: no timing.
"""

import argparse
import os
import subprocess
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ("snntorch", "norse")


def dense_net(neuron, timesteps):
    """Static 784 pixels > RepeatTime > Dense 100 > neuron > Dense 10 > neuron."""
    from keras_spiking import layers

    return keras.Sequential([keras.Input((784,)), layers.RepeatTime(timesteps),
                             keras.layers.Dense(100), neuron(), keras.layers.Dense(10),
                             neuron()])


def train_surrogate(net, x, y):
    """One epoch of surrogate-gradient training on the spike rates (as logits)."""
    trainer = keras.Sequential([net, keras.layers.GlobalAveragePooling1D(),
                                keras.layers.Rescaling(10.0)])
    trainer.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                    metrics=["accuracy"])
    trainer.fit(x, y, epochs=1, batch_size=64, verbose=2)
    return net


def converted_cnn(x, y, timesteps):
    """A ReLU CNN trained one epoch, converted for exact NIR export."""
    from keras_spiking.converters import convert

    ann = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, activation="relu"), keras.layers.AveragePooling2D(2),
        keras.layers.Conv2D(16, 3, activation="relu"), keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(), keras.layers.Dense(10)])
    ann.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])
    ann.fit(x, y, epochs=1, batch_size=64, verbose=2)
    return convert(ann, timesteps=timesteps, static_input=True, synapse=None, reset="zero",
                   readout="last", calibration_data=x[:1000])


def networks(data, timesteps):
    """``{name: (model, static test inputs, the same in NIR's layout over time)}``."""
    from keras_spiking import layers

    (x, y), (x_test, _) = data
    flat, flat_test = (a.reshape(len(a), -1).astype("float32") / 255 for a in (x, x_test))
    keras.utils.set_random_seed(0)
    nets = {
        "leaky": train_surrogate(dense_net(lambda: layers.Leaky(0.9, reset="zero"), timesteps),
                                 flat, y),
        "synaptic": train_surrogate(dense_net(lambda: layers.Synaptic(0.8, 0.9, reset="zero"),
                                              timesteps), flat, y),
    }
    out = {name: (net, flat_test, np.repeat(flat_test[:, None], timesteps, 1))
           for name, net in nets.items()}
    cnn = converted_cnn(x.astype("float32"), y, timesteps)
    images = x_test.astype("float32")
    nir_layout = np.repeat(np.moveaxis(images, -1, 1)[:, None], timesteps, 1)
    out["converted"] = (cnn, images, nir_layout)
    return out


def agreement(ours, peer):
    """(share of equal output values, share of equal predictions)."""
    peer = peer.reshape(ours.shape)
    tolerance = 1e-4 * max(float(np.max(np.abs(ours))), 1e-12)
    same = np.mean(np.abs(ours - peer) <= tolerance)
    predictions = np.mean(ours.sum(1).argmax(-1) == peer.sum(1).argmax(-1))
    return float(same), float(predictions)


def run_peers(python, nets, folder):
    """``{(net, tool, flavour): (agreement or error text)}``."""
    from keras_spiking.converters import export_nir

    jobs, results = {tool: [] for tool in TOOLS}, {}
    for name, (model, static, timed) in nets.items():
        np.save(os.path.join(folder, f"{name}.x.npy"), timed)
        for tool in TOOLS:
            for flavour in (tool, "nir"):
                path = os.path.join(folder, f"{name}.{tool}.{flavour}")
                try:
                    export_nir(model, path + ".nir", for_tool=flavour)
                except Exception as e:  # noqa: BLE001  (reported in the table)
                    results[name, tool, flavour] = f"export refused: {e}"
                    continue
                jobs[tool].append((name, flavour, path))
    for tool, items in jobs.items():
        for name, flavour, path in items:  # one at a time: a failing file is reported alone
            done = subprocess.run(
                [python, os.path.join(HERE, "nir_peer_run.py"), tool, path + ".nir",
                 os.path.join(folder, f"{name}.x.npy"), path + ".y.npy"],
                capture_output=True, text=True, env=common.child_env())
            if done.returncode:
                lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
                results[name, tool, flavour] = "peer error: " + (lines[-1] if lines else "?")
                continue
            ours = np.asarray(nets[name][0].predict(nets[name][1], verbose=0))
            results[name, tool, flavour] = agreement(ours, np.load(path + ".y.npy"))
    return results


def table(results, nets):
    lines = ["network    tool      for_tool   equal outputs   equal predictions"]
    for name in nets:
        for tool in TOOLS:
            for flavour in (tool, "nir"):
                r = results[name, tool, flavour]
                text = (f"{100 * r[0]:12.2f} %  {100 * r[1]:12.2f} %" if isinstance(r, tuple)
                        else r[:110])
                lines.append(f"{name:10s} {tool:9s} {flavour:9s}  {text}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-size", type=int, default=5000)
    parser.add_argument("--test-size", type=int, default=200)
    parser.add_argument("--timesteps", type=int, default=16)
    common.add_peer_argument(parser, "torch")
    args = parser.parse_args(argv)
    python = common.peer_python("torch", args.torch_python, parser)
    data = common.fashion_mnist(args.train_size, args.test_size)
    nets = networks(data, args.timesteps)
    with tempfile.TemporaryDirectory() as folder:
        results = run_peers(python, nets, folder)
    print(f"{args.test_size} test images, T = {args.timesteps}, dt = 1 ms")
    print(table(results, nets))


if __name__ == "__main__":
    main()
