"""Peer side of ``benchmarks/low_latency.py --spikingjelly``: SpikingJelly 2.0's ANN-to-SNN
converter on the same ReLU weights.

Runs INSIDE the torch peer venv (``common.PEERS["torch"]``; no keras_spiking import),
started as a subprocess by ``low_latency.py``, which passes:

    python benchmarks/peers_spikingjelly.py --weights ann.npz --data data.npz \
        --timesteps 1 2 4 8 16 32 --out result.json

``ann.npz`` holds the main-job CNN's weights in PyTorch layout (conv ``(out, in,
kh, kw)``, linear ``(out, in)`` with the flattened axis in channels-first order);
``data.npz`` the standardised images (the ANN's ``Rescaling`` applied) ``x`` (n, 1,
28, 28) with labels ``y`` and the calibration images ``calibration``. The SNN is
SpikingJelly's ``Converter`` with ``RateCodingRecipe(mode="99.9%")`` calibrated on
those images; its output is summed over the steps (SpikingJelly's own readout, the
running mean since the first step) and read at every T. Writes a JSON result with
the ANN's and the SNN's accuracies.
"""

import argparse
import copy
import json
import os

import numpy as np
import torch
from spikingjelly.activation_based import ann2snn, functional
from torch import nn


def main_job_cnn():
    """Conv 16 7x7 same > avg pool 2 > Conv 32 7x7 > avg pool 2 > Dense 512 > Dense 10, ReLU."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 7, padding=3), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(16, 32, 7), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))


def load(weights):
    model = main_job_cnn()
    layers = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        for i, layer in enumerate(layers):
            layer.weight.copy_(torch.from_numpy(weights[f"w{i}"]))
            layer.bias.copy_(torch.from_numpy(weights[f"b{i}"]))
    return model.eval()


def batches(x, y, size):
    for start in range(0, len(x), size):
        yield torch.from_numpy(x[start:start + size]), torch.from_numpy(y[start:start + size])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--timesteps", type=int, nargs="+", required=True)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    data = np.load(args.data)
    x, y, calibration = data["x"], data["y"].astype("int64"), data["calibration"]
    ann = load(np.load(args.weights))
    with torch.no_grad():
        logits = torch.cat([ann(b) for b, _ in batches(x, y, args.batch_size)])
    ann_accuracy = float((logits.argmax(1).numpy() == y).mean())
    loader = list(batches(calibration, np.zeros(len(calibration), "int64"), 100))
    recipe = ann2snn.RateCodingRecipe(dataloader=loader, mode="99.9%")
    snn = ann2snn.Converter(recipe=recipe).convert(copy.deepcopy(ann)).eval()
    T_max = max(args.timesteps)
    correct = np.zeros(T_max)
    with torch.no_grad():
        for images, labels in batches(x, y, args.batch_size):
            functional.reset_net(snn)
            total = None
            for t in range(T_max):
                out = snn(images)
                total = out if total is None else total + out
                correct[t] += (total.argmax(1) == labels).sum().item()
    result = dict(ann_accuracy=ann_accuracy,
                  snn={str(T): float(correct[T - 1] / len(y)) for T in args.timesteps},
                  torch=torch.__version__)
    tmp = f"{args.out}.tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
