"""Surrogate-gradient CSNN: keras_spiking vs snnTorch 1.0 vs SpikingJelly 2.0, side by side.

The network is examples/surrogate_csnn.py's (snnTorch tutorial 6):
12C5-MP2-64C5-MP2-1024FC10, LIF neurons with beta 0.5 after every layer,
T = 25, batch 128, Adam (lr 2e-3), cross-entropy on output spike counts,
Fashion-MNIST images. Every framework runs in its own process (so each peak RSS
is its own) on the same batches, in one run:

    nice -n 10 python benchmarks/surrogate_vs_peers.py \\
        --keras-python /work/venvs/snnspeed-clean/bin/python \\
        --peer-python /work/venvs/peers-torch/bin/python

The peers live in their own venv (never in the project's):

    python -m venv /work/venvs/peers-torch
    /work/venvs/peers-torch/bin/pip install torch==2.13.0
    /work/venvs/peers-torch/bin/pip install torch==2.13.0 snntorch==1.0.0 spikingjelly==2.0.0

``--keras-python`` runs our side in a venv of its own too, with only what it
needs (``python -m venv V; V/bin/pip install tensorflow-cpu keras numpy``;
the worker imports keras_spiking from this checkout): Keras imports IPython, matplotlib, scipy
and PIL at start-up when they are installed (a development environment has
them), which adds ~0.06 GiB to the peak RSS without being used here.

Measured per framework: training samples/s (``--batches`` optimiser steps after
``--warmup`` untimed ones) and inference samples/s (same batches, no gradient),
and the process's peak resident memory (also shown above its value right after
importing the framework: TensorFlow's runtime alone is much larger than torch's). With ``--repeats N`` the whole sequence
runs N times, interleaved, and the best throughput of each framework is kept
(the machine is shared: the best run is the least disturbed one). Next to
wall-clock samples/s, samples per CPU-second of the process (``process_time``)
give ratios that depend less on what else runs on the machine. Peer variants
(see benchmarks/peers_torch.py): ``snntorch`` is the tutorial's per-step loop;
``spikingjelly`` is multi-step mode with time folded into the batch; the
``-static`` variants compute the first convolution once per image, as ours does.
Test accuracy after a full epoch is measured by the example, not here.

Shared machines: torch's OpenMP threads spin while waiting for work, and when
other processes compete for the cores that costs them up to 5x (snnTorch
training measured here at load average ~5: 27 samples/s by default, 151 with
``OMP_WAIT_POLICY=PASSIVE``). So every framework's process runs with
``OMP_WAIT_POLICY=PASSIVE`` by default (TensorFlow does not use OpenMP threads
here; the setting is for the peers' benefit); ``--omp-wait-policy ''`` keeps
the environment's setting. The load average is printed with the results.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS = ("snntorch", "snntorch-static", "spikingjelly", "spikingjelly-static")
DEFAULT_PEER_PYTHON = "/work/venvs/peers-torch/bin/python"


def peak_rss():
    """Peak resident memory of this process, bytes (VmHWM: unlike ru_maxrss it
    starts afresh at exec, so a big parent does not leak into the figure)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def keras_worker(args):
    """Our half: train and run the example's model, print one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    # this checkout's package and example, whatever the venv has installed
    sys.path[:0] = [ROOT, os.path.join(ROOT, "examples")]
    from surrogate_csnn import build_csnn, compile_csnn

    import_rss = peak_rss()
    keras.utils.set_random_seed(args.seed)
    data = np.load(args.data)
    x, y = data["x"], data["y"]
    b, warm = args.batch_size, args.warmup * args.batch_size
    timed = slice(warm, warm + args.batches * b)
    model = compile_csnn(build_csnn(args.steps), loss=args.loss)

    model.fit(x[:warm], y[:warm], batch_size=b, epochs=1, verbose=0, shuffle=False)
    start, cpu = time.perf_counter(), time.process_time()
    history = model.fit(x[timed], y[timed], batch_size=b, epochs=1, verbose=0, shuffle=False)
    train_time, train_cpu = time.perf_counter() - start, time.process_time() - cpu

    model.predict(x[:warm], batch_size=b, verbose=0)
    start, cpu = time.perf_counter(), time.process_time()
    model.predict(x[timed], batch_size=b, verbose=0)
    infer_time, infer_cpu = time.perf_counter() - start, time.process_time() - cpu

    samples = args.batches * b
    print(json.dumps(dict(
        framework="keras_spiking",
        train_samples_per_s=samples / train_time,
        infer_samples_per_s=samples / infer_time,
        train_samples_per_cpu_s=samples / train_cpu,
        infer_samples_per_cpu_s=samples / infer_cpu,
        peak_rss_bytes=peak_rss(),
        import_rss_bytes=import_rss,
        last_loss=float(history.history["loss"][-1]),
        version=f"keras {keras.__version__}, backend {keras.backend.backend()}, "
                f"python {sys.executable}",
    )))


def run(command, env):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON,
                        help="python of the venv with torch, snntorch and spikingjelly")
    parser.add_argument("--keras-python", default=sys.executable,
                        help="python that runs our side (default: this one); see the docstring")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated subset of {PEERS}, or 'none'")
    parser.add_argument("--batches", type=int, default=20, help="timed batches")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=("count", "rate"), default="count",
                        help="cross-entropy on spike counts, or at every step")
    parser.add_argument("--omp-wait-policy", default="PASSIVE",
                        help="OMP_WAIT_POLICY for every framework's process ('' keeps the "
                             "environment's); see the docstring")
    parser.add_argument("--worker", choices=("keras",), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return keras_worker(args)

    peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from {PEERS}")
    if peers and not os.path.exists(args.peer_python):
        parser.error(f"--peer-python {args.peer_python} does not exist (see the docstring)")

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np

    sys.path.insert(0, ROOT)
    from keras_spiking.datasets import load_fashion_mnist

    n = (args.warmup + args.batches) * args.batch_size
    x, y = load_fashion_mnist("train", as_numpy=True)
    common = ["--steps", str(args.steps), "--batch-size", str(args.batch_size),
              "--warmup", str(args.warmup), "--batches", str(args.batches),
              "--seed", str(args.seed), "--loss", args.loss]
    load_at_start = os.getloadavg()[0]
    env = dict(os.environ)
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "batches.npz")
        np.savez(data, x=x[:n], y=y[:n])
        commands = {"keras_spiking": [args.keras_python, os.path.abspath(__file__),
                                      "--worker", "keras", "--data", data] + common}
        for peer in peers:
            commands[peer] = [args.peer_python, os.path.join(HERE, "peers_torch.py"),
                              "--framework", peer, "--data", data] + common
        for repeat in range(args.repeats):
            for name, command in commands.items():
                r = run(command, env)
                print(f"[run {repeat + 1}] {name:20s} train {r['train_samples_per_s']:7.1f}/s  "
                      f"infer {r['infer_samples_per_s']:7.1f}/s  "
                      f"peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB "
                      f"({r['import_rss_bytes'] / 2**30:.2f} after import)", flush=True)
                best = results.setdefault(name, r)
                for key in ("train_samples_per_s", "infer_samples_per_s",
                            "train_samples_per_cpu_s", "infer_samples_per_cpu_s"):
                    best[key] = max(best[key], r[key])
                for key in ("peak_rss_bytes", "import_rss_bytes"):
                    best[key] = max(best[key], r[key])

    print(f"\nCSNN 12C5-MP2-64C5-MP2-1024FC10, T={args.steps}, batch {args.batch_size}, "
          f"{args.batches} timed batches, best of {args.repeats}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} (at start {load_at_start:.1f}), "
          f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', '(unset)')}")
    print(f"{'framework':22s} {'train samples/s':>16s} {'infer samples/s':>16s} "
          f"{'train /CPU-s':>13s} {'infer /CPU-s':>13s} "
          f"{'peak RSS GiB':>13s} {'after import':>13s} {'difference':>11s}")
    for name, r in results.items():
        peak, base = r["peak_rss_bytes"] / 2**30, r["import_rss_bytes"] / 2**30
        print(f"{name:22s} {r['train_samples_per_s']:16.1f} {r['infer_samples_per_s']:16.1f} "
              f"{r['train_samples_per_cpu_s']:13.1f} {r['infer_samples_per_cpu_s']:13.1f} "
              f"{peak:13.2f} {base:13.2f} {peak - base:11.2f}   ({r['version']})")
    ours = results["keras_spiking"]

    def ratio(key, peer):
        return ours[key] / results[peer][key]

    for peer in peers:
        r = results[peer]
        print(f"keras_spiking / {peer:20s} train x{ratio('train_samples_per_s', peer):.2f}"
              f"  infer x{ratio('infer_samples_per_s', peer):.2f}"
              f"  (per CPU-s: train x{ratio('train_samples_per_cpu_s', peer):.2f}"
              f"  infer x{ratio('infer_samples_per_cpu_s', peer):.2f})"
              f"  peak RSS x{ratio('peak_rss_bytes', peer):.2f}"
              f"  (above import x{(ours['peak_rss_bytes'] - ours['import_rss_bytes']) / (r['peak_rss_bytes'] - r['import_rss_bytes']):.2f})")


if __name__ == "__main__":
    main()
