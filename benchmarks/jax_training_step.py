"""The CSNN's training step on JAX: our defaults against each change switched off.

The tutorial CSNN of examples/surrogate_csnn.py (T = 25, batch 128) trains on JAX
with four choices of ours that are on by default (README, "JAX, profiled"):

- ``default``: all four on;
- ``XLA conv``: the second convolution through XLA's convolution instead of the
  event-driven FFI handlers of ``kernels/event_conv_xla.cc``
  (``keras_spiking.default.event_conv = False``);
- ``ynnpack conv``: without the XLA flag of ``keras_spiking.xla_flags`` (jaxlib's
  YNNPACK convolutions; ``KERAS_SPIKING_XLA_FLAGS=0``);
- ``keras pooling``: ``TimeFold(MaxPooling2D)`` through Keras's own pooling, whose
  gradient XLA builds with index tensors and a scatter (``kernels.window_max`` off);
- ``unrolled``: the neurons' 25 steps unrolled instead of ``lax.scan``
  (``timeloop.MAX_UNROLL_JAX = 64``, the old limit);
- ``recomputed``: ``jax.checkpoint`` around the scanned step (the neuron states
  recomputed in the backward pass instead of kept; not a default: it did not pay).

Each variant runs in a process of its own (XLA reads its flags once per process,
and each peak RSS is its own), round by round, interleaved; each keeps its best
round. A process jit-compiles ``value_and_grad`` of the loss through
``model.stateless_call`` (what ``fit`` compiles, without the optimiser), and
reports the compile time, XLA's temporary buffers (``memory_analysis()``), the
best of ``--steps`` timed steps (wall and CPU) and its peak RSS.

    python benchmarks/jax_training_step.py            # JAX installed; TensorFlow need not be

``--quick`` is a smoke run (batch 16, 5 steps, 1 round).
"""

import argparse
import json
import os
import subprocess
import sys

import common

VARIANTS = {
    "default": {},
    "XLA conv": {"BENCH_XLA_CONV": "1"},
    "ynnpack conv": {"KERAS_SPIKING_XLA_FLAGS": "0"},
    "keras pooling": {"BENCH_KERAS_POOLING": "1"},
    "unrolled": {"BENCH_UNROLL": "64"},
    "recomputed": {"BENCH_CHECKPOINT": "1"},
}


def worker(args):
    """One variant (set by the environment): compile and time, print one JSON line."""
    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras
    import numpy as np

    import keras_spiking
    from keras_spiking import timeloop
    from keras_spiking.kernels import window_max

    if os.environ.get("BENCH_XLA_CONV"):
        keras_spiking.default.event_conv = False
    if os.environ.get("BENCH_UNROLL"):
        timeloop.MAX_UNROLL_JAX = int(os.environ["BENCH_UNROLL"])
    if os.environ.get("BENCH_KERAS_POOLING"):
        window_max.applies = lambda layer, x: False
    if os.environ.get("BENCH_CHECKPOINT"):
        scan = keras.ops.scan
        keras.ops.scan = lambda f, init, xs=None, **kw: scan(jax.checkpoint(f), init, xs, **kw)

    csnn = common.load_example("surrogate_csnn")
    model = csnn.build_csnn(args.time_steps)
    loss_fn = keras_spiking.losses.CECount()
    rng = np.random.default_rng(args.seed)
    x = rng.integers(0, 256, (args.batch_size, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, args.batch_size)
    trainable = [v.value for v in model.trainable_variables]
    fixed = [v.value for v in model.non_trainable_variables]

    def loss(trainable, fixed, x, y):
        out, _ = model.stateless_call(trainable, fixed, x, training=True)
        return loss_fn(y, out)

    with common.Clock() as compile_clock:
        step = jax.jit(jax.value_and_grad(loss)).lower(trainable, fixed, x, y).compile()
    temp = step.memory_analysis().temp_size_in_bytes
    jax.block_until_ready(step(trainable, fixed, x, y))
    best = None
    for _ in range(args.steps):
        with common.Clock() as clock:
            jax.block_until_ready(step(trainable, fixed, x, y))
        if best is None or clock.wall < best.wall:
            best = clock.timing
    print(json.dumps(dict(compile=compile_clock.wall, temp_bytes=temp, wall=best.wall,
                          cpu=best.cpu, peak_rss=common.peak_rss(),
                          xla_flag=keras_spiking.xla_flags.added)))


def measure(name, args):
    env = common.child_env(pythonpath=common.ROOT, KERAS_BACKEND="jax", **VARIANTS[name])
    command = [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(args.steps),
               "--batch-size", str(args.batch_size), "--time-steps", str(args.time_steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{name}: worker failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {name:<14} step {result['wall'] * 1e3:7.1f} ms wall {result['cpu'] * 1e3:7.1f} ms "
          f"CPU  compile {result['compile']:5.1f} s  XLA temporaries "
          f"{result['temp_bytes'] / 2**30:.2f} GiB  peak RSS {result['peak_rss'] / 2**30:.2f} GiB",
          flush=True)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=common.ROUNDS)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per process (best)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--time-steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="batch 16, 5 steps, 1 round")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    if args.quick:
        args.batch_size, args.steps, args.rounds = 16, 5, 1
    with common.watch_load():
        print(f"CSNN training step on JAX, batch {args.batch_size}, T = {args.time_steps}, "
              f"best of {args.steps} steps per process, {args.rounds} interleaved rounds")
        runs = {name: (lambda name=name: measure(name, args)) for name in VARIANTS}
        results = common.interleave_runs(runs, rounds=args.rounds)
    best = {name: min(rs, key=lambda r: r["wall"]) for name, rs in results.items()}
    base = best["default"]
    print(f"\n{'':16}{'step ms':>9}{'CPU ms':>9}{'default x':>11}{'CPU x':>8}"
          f"{'temp GiB':>10}{'peak GiB':>10}{'compile s':>11}")
    for name, r in best.items():
        print(f"{name:16}{r['wall'] * 1e3:9.1f}{r['cpu'] * 1e3:9.1f}"
              f"{r['wall'] / base['wall']:10.2f}x{r['cpu'] / base['cpu']:7.2f}x"
              f"{r['temp_bytes'] / 2**30:10.2f}{r['peak_rss'] / 2**30:10.2f}{r['compile']:11.1f}")
    print("(default x: the variant's step time over the default's; > 1: the default is faster)")
    if not base["xla_flag"]:
        print("note: the default run did not add the XLA flag (see keras_spiking/xla_flags.py)")
    return best


if __name__ == "__main__":
    main()
