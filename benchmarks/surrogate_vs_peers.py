"""Surrogate-gradient CSNN: keras_spiking vs snnTorch 1.0 vs SpikingJelly 2.0, side by side.

The network is examples/surrogate_csnn.py's (snnTorch tutorial 6):
12C5-MP2-64C5-MP2-1024FC10, LIF neurons with beta 0.5 after every layer,
T = 25, batch 128, Adam (lr 2e-3), cross-entropy on output spike counts,
Fashion-MNIST images. Every framework runs in its own process (so each peak RSS
is its own) on the same batches, in one run:

    nice -n 10 python benchmarks/surrogate_vs_peers.py \\
        --keras-python $CLEAN/bin/python --torch-python $PEER_TORCH/bin/python

(``--torch-python`` defaults to ``$KS_TORCH_PYTHON``). The peers live in their own
venv (never in the project's):

    python -m venv $PEER_TORCH
    $PEER_TORCH/bin/python -m pip install torch==2.13.0
    $PEER_TORCH/bin/python -m pip install torch==2.13.0 snntorch==1.0.0 spikingjelly==2.0.0

Quick check of our side only: ``python benchmarks/surrogate_vs_peers.py --peers none
--batches 2 --warmup 1 --repeats 1 --steps 5 --batch-size 16``.

``--keras-python`` runs our side in a venv of its own too, with only what it needs
(``python -m venv $CLEAN; $CLEAN/bin/python -m pip install tensorflow-cpu keras numpy``;
the worker imports keras_spiking from this checkout, through ``PYTHONPATH``):
Keras imports IPython, matplotlib, scipy and PIL at start-up when they are
installed (a development environment has them), which adds ~0.06 GiB to the peak
RSS without being used here.

Measured per framework: training samples/s (``--batches`` optimiser steps after
``--warmup`` untimed ones) and inference samples/s (same batches, no gradient),
and the process's peak resident memory (also shown above its value right after
importing the framework: TensorFlow's runtime alone is much larger than torch's). The
whole sequence runs ``--repeats`` times (default 3), interleaved, and the best time of
each framework is kept (the machine is shared: the best run is the least disturbed one).
Next to wall-clock samples/s, samples per CPU-second of the process (``process_time``)
give ratios that depend less on what else runs on the machine; both ratios are
tabled. Peer variants (see benchmarks/peers_torch.py): ``snntorch`` is the tutorial's
per-step loop;
``spikingjelly`` is multi-step mode with time folded into the batch; the
``-static`` variants compute the first convolution once per image, as ours does.
Test accuracy after a full epoch is measured by the example, not here.

Each process also times the second convolution alone (12 -> 64 channels, 5x5, on
the batch x T folded spike maps, forward and both gradients, float32, in its own
framework's kernel), where most of a training step goes. The "floor" lines divide
each peer's training step by our convolution alone: the most any float32 step
built on that convolution kernel could reach against that peer.

``--backend tensorflow|jax|both`` picks the Keras backend(s) of our side (each a
process of its own with ``KERAS_BACKEND`` set, interleaved with the peers);
``--policy mixed_bfloat16`` runs ours under that Keras dtype policy (bfloat16
convolutions on CPUs with AVX512_BF16; the neurons keep float32 state);
``--policy float32,mixed_bfloat16`` gives one row of ours per policy, interleaved
(ratios are against the first; the peers always run in float32);
``float32+conv2:mixed_bfloat16`` is float32 with only the second convolution in
mixed bfloat16 (the example's ``--conv2-policy``).

Shared machines: torch's OpenMP threads spin while waiting for work, and when
other processes compete for the cores that costs them up to 5x (snnTorch
training measured here at load average ~5: 27 samples/s by default, 151 with
``OMP_WAIT_POLICY=PASSIVE``). So every framework's process runs with
``OMP_WAIT_POLICY=PASSIVE`` by default (TensorFlow does not use OpenMP threads
here; the setting is for the peers' benefit); ``--omp-wait-policy ''`` keeps
the environment's setting. The load average is printed at the start and the end.
"""

import argparse
import itertools
import json
import os
import sys
import tempfile

import common

PEERS = ("snntorch", "snntorch-static", "spikingjelly", "spikingjelly-static")
PHASES = ("train", "infer")


def keras_worker(args):
    """Our half: train and run the example's model, print one JSON line."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np

    import keras_spiking

    csnn = common.load_example("surrogate_csnn")  # this checkout's example
    import_rss = common.peak_rss()
    keras.utils.set_random_seed(args.seed)
    data = np.load(args.data)
    x, y = data["x"], data["y"]
    b, warm = args.batch_size, args.warmup * args.batch_size
    timed = slice(warm, warm + args.batches * b)
    policy, _, conv2 = args.policy.partition("+conv2:")
    keras.config.set_dtype_policy(policy)
    model = csnn.compile_csnn(csnn.build_csnn(args.steps, conv2_dtype=conv2 or None),
                              loss=args.loss)
    stages = dict(imported=import_rss, built=common.peak_rss())
    # fed as the example feeds them (keras_spiking.datasets.batches: tf.data without
    # autotuning; Keras's own pipeline for arrays ran many epochs at half speed)
    feed = keras_spiking.datasets.batches
    model.fit(feed(x[:warm], y[:warm], b), epochs=1, verbose=0, shuffle=False)
    stages["first steps (traced)"] = common.peak_rss()
    with common.Clock() as train:
        history = model.fit(feed(x[timed], y[timed], b), epochs=1, verbose=0, shuffle=False)
    stages["trained"] = common.peak_rss()
    model.predict(feed(x[:warm], batch_size=b), verbose=0)
    with common.Clock() as infer:
        model.predict(feed(x[timed], batch_size=b), verbose=0)
    peak_rss = common.peak_rss()  # before the convolution alone below allocates its own
    conv2 = conv2_alone(b * args.steps, max(args.batches, 3), args.seed)

    print(json.dumps(dict(
        framework="keras_spiking",
        samples=args.batches * b,
        train=dict(wall=train.wall, cpu=train.cpu),
        infer=dict(wall=infer.wall, cpu=infer.cpu),
        peak_rss_bytes=peak_rss,
        import_rss_bytes=import_rss,
        peak_rss_stages=stages,
        conv2=conv2,
        last_loss=float(history.history["loss"][-1]),
        version=f"keras {keras.__version__}, backend {keras.backend.backend()}, "
                f"policy {args.policy}, python {sys.executable}",
    )))


def conv2_alone(maps, calls, seed):
    """The CSNN's second convolution alone (12 -> 64 channels, 5x5, 'valid', on
    ``maps`` 12x12 spike maps: one batch's steps folded), forward and gradients
    with respect to its input and kernel, compiled as a training step is
    (``tf.function`` / ``jax.jit``), in float32: ``dict(wall, cpu)`` seconds of
    the best of ``calls`` calls. The floor of any step that runs this
    convolution with this backend's kernel."""
    import keras
    import numpy as np

    rng = np.random.default_rng(seed)
    x = (rng.random((maps, 12, 12, 12)) < 0.2).astype("float32")
    kernel = rng.uniform(-0.1, 0.1, (5, 5, 12, 64)).astype("float32")
    upstream = rng.standard_normal((maps, 8, 8, 64)).astype("float32")
    if keras.backend.backend() == "jax":
        import jax

        def forward(x, kernel):
            return keras.ops.conv(x, kernel, padding="valid")

        @jax.jit
        def call(x, kernel, upstream):
            y, vjp = jax.vjp(forward, x, kernel)
            return (y,) + vjp(upstream)
    else:
        import tensorflow as tf

        @tf.function
        def call(x, kernel, upstream):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel])
                loss = tf.reduce_sum(tf.nn.conv2d(x, kernel, 1, "VALID") * upstream)
            return tape.gradient(loss, [x, kernel])

        x, kernel, upstream = (tf.constant(a) for a in (x, kernel, upstream))
    best = common.best_of(lambda: common.materialize(call(x, kernel, upstream)), calls)
    return dict(wall=best.wall, cpu=best.cpu)


def floor_lines(results, first, batches):
    """What the second convolution alone costs each framework per batch, and the
    training ratio to each peer ours would reach if the rest of our step were
    free (the peer's step time / our convolution's)."""
    if "conv2" not in results[first]:
        return []
    lines = ["second convolution alone per batch (forward + input and kernel gradients, "
             "float32, on the batch x T spike maps folded):"]
    for name, r in results.items():
        if "conv2" in r:
            lines.append(f"  {name:22s} {1e3 * r['conv2']['wall']:7.1f} ms wall "
                         f"{1e3 * r['conv2']['cpu']:7.1f} ms CPU")
    ours = results[first]["conv2"]
    for name, r in results.items():
        if name.startswith("keras_spiking"):  # our other rows are not peers
            continue
        step = r["train"]
        lines.append(f"  floor against {name}: ours at most "
                     f"{step.wall / batches / ours['wall']:.2f}x its training samples/s, "
                     f"{step.cpu / batches / ours['cpu']:.2f}x per CPU-second, with this "
                     "convolution's kernel")
    return lines


#: issue 14's goals: (phase, peer, least ratio of ours to the peer, wall clock and per CPU-second)
GOALS = (("train", "snntorch", 3.0), ("train", "snntorch-static", 2.0), ("infer", "snntorch", 3.0))
#: ... and our peak RSS at most this fraction of snnTorch's
RSS_GOAL = 0.8


def goal_lines(results):
    """Each of our rows against the goals, for the peers that ran."""
    lines = ["goals (each of our rows; wall clock and per CPU-second):"]
    for name, r in results.items():
        if not name.startswith("keras_spiking"):
            continue
        for phase, peer, least in GOALS:
            if peer in results:
                wall, cpu = common.speedup(r[phase], results[peer][phase])
                met = "met" if min(wall, cpu) >= least else "NOT met"
                lines.append(f"  {name} {phase} >= {least:g}x {peer}: {wall:.2f}x wall, "
                             f"{cpu:.2f}x CPU  {met}")
        if "snntorch" in results:
            ratio = r["peak_rss_bytes"] / results["snntorch"]["peak_rss_bytes"]
            lines.append(f"  {name} peak RSS <= {RSS_GOAL:g}x snntorch's: {ratio:.2f}x  "
                         f"{'met' if ratio <= RSS_GOAL else 'NOT met'}")
    return lines if len(lines) > 1 else []


def ours_name(backend, ours, policy="float32", policies=("float32",)):
    """Our side's row: ``keras_spiking``, with the backend when there are several
    or it is not TensorFlow, and the dtype policy when there are several or it
    is not float32."""
    tags = ([] if ours == ["tensorflow"] else [backend]) + (
        [] if list(policies) == ["float32"] else [policy])
    return f"keras_spiking[{', '.join(tags)}]" if tags else "keras_spiking"


def run(command, env):
    """Run one framework's process; its JSON line (the last line starting with '{')."""
    result = common.run_child(command, env)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    if result.returncode or not lines:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return json.loads(lines[-1])


def logged(name, command, env):
    """A zero-argument ``run(command, env)`` that prints each result's figures."""
    count = itertools.count(1)

    def once():
        r = run(command, env)
        rate = {phase: r["samples"] / r[phase]["wall"] for phase in PHASES}
        print(f"[run {next(count)}] {name:20s} train {rate['train']:7.1f}/s  "
              f"infer {rate['infer']:7.1f}/s  "
              f"peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB "
              f"({r['import_rss_bytes'] / 2**30:.2f} after import)", flush=True)
        return r

    return once


def combine(runs):
    """The best of a framework's runs: per phase the best ``common.Timing`` of its
    samples, and the largest peak and after-import RSS."""
    combined = dict(runs[-1])
    for phase in PHASES:
        combined[phase] = common.best(common.Timing(r[phase]["wall"], r[phase]["cpu"],
                                                    r["samples"]) for r in runs)
    for key in ("peak_rss_bytes", "import_rss_bytes"):
        combined[key] = max(r[key] for r in runs)
    if all("conv2" in r for r in runs):
        combined["conv2"] = {k: min(r["conv2"][k] for r in runs) for k in ("wall", "cpu")}
    return combined


def main():
    """Run every framework's process ``--repeats`` times, interleaved; print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    common.add_peer_argument(parser, "torch")
    parser.add_argument("--keras-python", default=sys.executable,
                        help="python that runs our side (default: this one); see the docstring")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help=f"comma-separated subset of {PEERS}, or 'none'")
    parser.add_argument("--batches", type=int, default=20, help="timed batches")
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches first")
    parser.add_argument("--repeats", type=int, default=common.ROUNDS,
                        help="interleaved runs of every framework; the best is kept")
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=("count", "rate"), default="count",
                        help="cross-entropy on spike counts, or at every step")
    parser.add_argument("--omp-wait-policy", default="PASSIVE",
                        help="OMP_WAIT_POLICY for every framework's process ('' keeps the "
                             "environment's); see the docstring")
    common.add_backend_argument(parser)
    parser.add_argument("--policy", default="float32",
                        help="Keras dtype policy of our side, e.g. mixed_bfloat16, or "
                             "several, comma-separated: one row each (see the docstring)")
    parser.add_argument("--worker", choices=("keras",), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return keras_worker(args)

    peers = [] if args.peers == "none" else [p for p in args.peers.split(",") if p]
    unknown = set(peers) - set(PEERS)
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from {PEERS}")
    if peers:
        args.torch_python = common.peer_python("torch", args.torch_python, parser)
    with common.watch_load():
        compare(args, peers)


def compare(args, peers):
    """The interleaved runs and the tables of ``main``."""
    import numpy as np

    n = (args.warmup + args.batches) * args.batch_size
    (x, y), _ = common.fashion_mnist(train_size=n, test_size=0)
    shared = ["--steps", str(args.steps), "--batch-size", str(args.batch_size),
              "--warmup", str(args.warmup), "--batches", str(args.batches),
              "--seed", str(args.seed), "--loss", args.loss]
    ours = common.backends(args.backend)
    omp = {"OMP_WAIT_POLICY": args.omp_wait_policy} if args.omp_wait_policy else {}
    # our worker imports keras_spiking from this checkout, whatever its venv has installed
    peer_env = common.child_env(**omp)
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "batches.npz")
        np.savez(data, x=x, y=y)
        commands = {}
        policies = args.policy.split(",")
        for backend, policy in itertools.product(ours, policies):
            commands[ours_name(backend, ours, policy, policies)] = (
                [args.keras_python, os.path.abspath(__file__), "--worker", "keras",
                 "--data", data, "--policy", policy] + shared,
                common.child_env(pythonpath=common.ROOT, KERAS_BACKEND=backend, **omp))
        for peer in peers:
            commands[peer] = ([args.torch_python, os.path.join(common.HERE, "peers_torch.py"),
                               "--framework", peer, "--data", data] + shared, peer_env)
        runs = common.interleave_runs(
            {name: logged(name, *c) for name, c in commands.items()}, args.repeats)
    results = {name: combine(r) for name, r in runs.items()}

    print(f"\nCSNN 12C5-MP2-64C5-MP2-1024FC10, T={args.steps}, batch {args.batch_size}, "
          f"{args.batches} timed batches, best of {args.repeats}, {os.cpu_count()} CPUs, "
          f"OMP_WAIT_POLICY={peer_env.get('OMP_WAIT_POLICY', '(unset)')}")
    first = ours_name(ours[0], ours, policies[0], policies)
    for phase, title in (("train", "training"), ("infer", "inference")):
        print("\n" + common.ratio_table({name: r[phase] for name, r in results.items()},
                                        first, "samples", title=title))
    print("\n" + "\n".join(floor_lines(results, first, args.batches)))
    print(f"\n{'framework':22s} {'peak RSS GiB':>13s} {'after import':>13s} "
          f"{'difference':>11s} {'ours/it peak':>13s} {'ours/it above import':>21s}")
    ours = results[first]
    for name, r in results.items():
        peak, base = r["peak_rss_bytes"] / 2**30, r["import_rss_bytes"] / 2**30
        line = f"{name:22s} {peak:13.2f} {base:13.2f} {peak - base:11.2f}"
        if name != first:
            above = ((ours["peak_rss_bytes"] - ours["import_rss_bytes"])
                     / (r["peak_rss_bytes"] - r["import_rss_bytes"]))
            line += f" {ours['peak_rss_bytes'] / r['peak_rss_bytes']:12.2f}x {above:20.2f}x"
        print(f"{line}   ({r['version']})")
    for name, r in results.items():
        if "peak_rss_stages" in r:
            print(f"{name}: peak RSS (GiB) after " + ", ".join(
                f"{stage} {value / 2**30:.2f}" for stage, value in r["peak_rss_stages"].items()))
    goals = goal_lines(results)
    if goals:
        print("\n" + "\n".join(goals))


if __name__ == "__main__":
    main()
