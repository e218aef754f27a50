"""The peer half of ``surrogate_vs_peers.py``: the same CSNN in snnTorch and SpikingJelly.

Runs in a separate venv with torch, snnTorch 1.0 and SpikingJelly 2.0 (never in
the project's), started by ``surrogate_vs_peers.py`` as a subprocess, one
process per framework so that each peak RSS is its own:

    $KS_TORCH_PYTHON benchmarks/peers_torch.py --framework snntorch --data /tmp/batches.npz

The network is snnTorch's tutorial-6 CSNN, 12C5-MP2-64C5-MP2-1024FC10, every
layer followed by a LIF neuron with beta = 0.5 (threshold 1, subtractive reset),
trained with Adam (lr 2e-3) and cross-entropy on the output spike counts over T
steps (or at every step, snnTorch's ce_rate, with ``--loss rate``). Written here
from the peers' documented APIs:

* ``snntorch``: the tutorial's per-step loop, ``snn.Leaky`` with the
  ``fast_sigmoid(slope=25)`` surrogate; ``snntorch-static`` computes the first
  convolution and pooling once (the input image is the same at every step).
* ``spikingjelly``: multi-step mode (``step_mode='m'``), time folded into the
  batch for convolutions, pooling and the dense layer, ``LIFNode(tau=2,
  decay_input=False, v_reset=None)`` (``v = 0.5 v + x``, subtractive reset) with
  its built-in ``SoftSign(alpha=25)`` surrogate (fast-sigmoid shape; SpikingJelly
  has no fast-sigmoid of snnTorch's scale, and its built-ins take its fast
  path); ``spikingjelly-static`` computes the first convolution and pooling
  once, as SpikingJelly's own Fashion-MNIST example does.

Prints one JSON line: training and inference wall-clock and CPU seconds of the
process for ``samples`` samples, peak RSS in bytes (and the RSS right after
importing the framework), measured with ``benchmarks/common.py`` as ours is.
"""

import argparse
import importlib.metadata
import json

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import common  # the same measures on every side (standard library and numpy only)


FRAMEWORKS = ("snntorch", "snntorch-static", "spikingjelly", "spikingjelly-static")


class SnnTorchCSNN(nn.Module):
    """The CSNN in snnTorch, stepped in a Python loop over time (the tutorial's)."""

    def __init__(self, steps, static_first):
        import snntorch as snn
        from snntorch import surrogate

        super().__init__()
        grad = surrogate.fast_sigmoid(slope=25)
        self.steps, self.static_first = steps, static_first
        self.conv1 = nn.Conv2d(1, 12, 5)
        self.conv2 = nn.Conv2d(12, 64, 5)
        self.fc = nn.Linear(64 * 4 * 4, 10)
        self.lif1 = snn.Leaky(beta=0.5, spike_grad=grad)
        self.lif2 = snn.Leaky(beta=0.5, spike_grad=grad)
        self.lif3 = snn.Leaky(beta=0.5, spike_grad=grad)

    def forward(self, x):
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        if self.static_first:
            cur1_static = F.max_pool2d(self.conv1(x), 2)
        out = []
        for _ in range(self.steps):
            cur1 = cur1_static if self.static_first else F.max_pool2d(self.conv1(x), 2)
            spk1, mem1 = self.lif1(cur1, mem1)
            spk2, mem2 = self.lif2(F.max_pool2d(self.conv2(spk1), 2), mem2)
            spk3, mem3 = self.lif3(self.fc(spk2.flatten(1)), mem3)
            out.append(spk3)
        return torch.stack(out)  # (T, B, 10)


class SpikingJellyCSNN(nn.Module):
    """The CSNN in SpikingJelly's multi-step mode."""

    def __init__(self, steps, static_first):
        from spikingjelly.activation_based import layer, neuron, surrogate

        super().__init__()
        self.steps, self.static_first = steps, static_first

        def lif():
            return neuron.LIFNode(
                tau=2.0, decay_input=False, v_reset=None,
                surrogate_function=surrogate.SoftSign(alpha=25.0), step_mode="m",
            )

        first = [layer.Conv2d(1, 12, 5), layer.MaxPool2d(2)]
        for module in first:
            module.step_mode = "s" if static_first else "m"
        self.first = nn.Sequential(*first)
        self.rest = nn.Sequential(
            lif(),
            layer.Conv2d(12, 64, 5, step_mode="m"), layer.MaxPool2d(2, step_mode="m"), lif(),
            layer.Flatten(step_mode="m"), layer.Linear(64 * 4 * 4, 10, step_mode="m"), lif(),
        )

    def forward(self, x):
        from spikingjelly.activation_based import functional

        functional.reset_net(self)
        if self.static_first:
            cur = self.first(x).unsqueeze(0).repeat(self.steps, 1, 1, 1, 1)
        else:
            cur = self.first(x.unsqueeze(0).repeat(self.steps, 1, 1, 1, 1))
        return self.rest(cur)  # (T, B, 10)


def conv2_alone(maps, calls, seed):
    """The CSNN's second convolution alone, as ``surrogate_vs_peers.conv2_alone``
    times ours: 12 -> 64 channels, 5x5, on ``maps`` 12x12 spike maps (one batch's
    steps folded; the per-step loop of snnTorch runs it on T batches instead),
    forward and gradients of input and kernel, float32: ``dict(wall, cpu)``
    seconds of the best of ``calls`` calls."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy((rng.random((maps, 12, 12, 12)) < 0.2).astype("float32"))
    kernel = torch.from_numpy(rng.uniform(-0.1, 0.1, (64, 12, 5, 5)).astype("float32"))
    upstream = torch.from_numpy(rng.standard_normal((maps, 64, 8, 8)).astype("float32"))
    x.requires_grad_(True)
    kernel.requires_grad_(True)

    best = common.best_of(
        lambda: torch.autograd.grad(F.conv2d(x, kernel), (x, kernel), upstream), calls)
    return dict(wall=best.wall, cpu=best.cpu)


def build(framework, steps):
    """The CSNN of ``framework`` (one of ``FRAMEWORKS``) over ``steps`` steps."""
    static = framework.endswith("-static")
    if framework.startswith("snntorch"):
        return SnnTorchCSNN(steps, static)
    return SpikingJellyCSNN(steps, static)


def main():
    """Train and run one framework's CSNN on the given batches; print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--framework", choices=FRAMEWORKS, required=True)
    parser.add_argument("--data", required=True, help="npz with x (N,28,28,1) uint8, y (N,)")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=("count", "rate"), default="count",
                        help="cross-entropy on spike counts, or at every step")
    args = parser.parse_args()

    if args.framework.startswith("snntorch"):
        import snntorch  # noqa: F401
    else:
        import spikingjelly.activation_based  # noqa: F401
    import_rss = common.peak_rss()
    torch.manual_seed(args.seed)
    data = np.load(args.data)
    x = torch.from_numpy(data["x"].astype("float32") / 255.0).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(data["y"].astype("int64"))
    need = (args.warmup + args.batches) * args.batch_size
    if len(x) < need:
        raise SystemExit(f"--data holds {len(x)} samples, need {need}")
    batches = [
        (x[i * args.batch_size:(i + 1) * args.batch_size], y[i * args.batch_size:(i + 1) * args.batch_size])
        for i in range(args.warmup + args.batches)
    ]

    model = build(args.framework, args.steps)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, betas=(0.9, 0.999))

    def train_step(xb, yb):
        spikes = model(xb)
        if args.loss == "count":
            loss = F.cross_entropy(spikes.sum(0), yb)
        else:
            loss = torch.stack([F.cross_entropy(s, yb) for s in spikes]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    model.train()
    for xb, yb in batches[: args.warmup]:
        train_step(xb, yb)
    with common.Clock() as train:
        losses = [train_step(xb, yb) for xb, yb in batches[args.warmup:]]

    model.eval()
    with torch.no_grad():
        for xb, _ in batches[: args.warmup]:
            model(xb)
        with common.Clock() as infer:
            correct = 0
            for xb, yb in batches[args.warmup:]:
                correct += int((model(xb).sum(0).argmax(-1) == yb).sum())

    peak_rss = common.peak_rss()  # before the convolution alone allocates its own
    conv2 = conv2_alone(args.batch_size * args.steps, max(args.batches, 3), args.seed)
    print(json.dumps(dict(
        conv2=conv2,
        framework=args.framework,
        samples=args.batches * args.batch_size,
        train=dict(wall=train.wall, cpu=train.cpu),
        infer=dict(wall=infer.wall, cpu=infer.cpu),
        peak_rss_bytes=peak_rss,
        import_rss_bytes=import_rss,
        first_loss=losses[0], last_loss=losses[-1],
        threads=torch.get_num_threads(),
        version=importlib.metadata.version(args.framework.split("-")[0]),
    )))


if __name__ == "__main__":
    main()
