"""Wall-clock scaling of data-parallel training: two workers against one, same global batch.

Runs ``examples/distributed_training.py`` (the CSNN of examples/surrogate_csnn.py
and a SoftLIF CNN, synthetic 28x28 images) for each engine with one and with
two workers, interleaved (one, two, one, two, ...), and reports each model's
training samples/s over the epochs after the first (the first compiles), the
best of --rounds, and the scaling two / one. Both sizes train on the same
global batch, so the two-worker run does half the work per worker per step
plus an all-reduce of the gradients.

* ``tf``: TensorFlow ``MultiWorkerMirroredStrategy``, 1 vs 2 worker processes
  (``TF_CONFIG``; the one-worker run uses the strategy too);
* ``jax-devices``: JAX ``keras.distribution.DataParallel`` over 1 vs 2 host
  devices of one process (``XLA_FLAGS=--xla_force_host_platform_device_count``);
* ``jax-processes``: one plain JAX process vs two under ``jax.distributed``.

    TF_CPP_MIN_LOG_LEVEL=2 nice -n 10 python benchmarks/multi_worker.py \\
        [--engines tf,jax-devices,jax-processes] [--rounds 3] [--batch-size 64] [--batches 32]

On a 2-core machine the two workers share the cores one multi-threaded worker
already uses, so a scaling near or below 1 measures the all-reduce's cost, not
the gain on two machines. The load average is printed at the start and the end.
The README's figures came from one loaded run with ``--rounds 1 --batches 8``
(too short for the SoftLIF CNN: its timed epochs lasted tens of milliseconds).
"""

import argparse
import json
import os

import common

ENGINES = {  # name: (backend, engine arguments, XLA host devices for N workers)
    "tf": ("tensorflow", [], False),
    "jax-devices": ("jax", ["--engine", "devices"], True),
    "jax-processes": ("jax", [], False),
}


def run_once(example, engine, workers, args):
    """Samples/s per model of one run of ``workers`` workers of ``engine``."""
    backend, extra, devices = ENGINES[engine]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    processes = workers
    if devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={workers}"
        processes = 1
    argv = ["--models", args.models, "--batch-size", str(args.batch_size),
            "--batches", str(args.batches), "--epochs", str(args.epochs),
            "--timesteps", str(args.timesteps), *extra]
    with common.Clock() as clock:
        results = example.launch(argv, processes, env=env)
    logs = []
    for code, out, err in results:
        lines = [line for line in out.splitlines() if line.startswith("{")]
        if code or not lines:
            raise RuntimeError(f"{engine} x{workers} failed:\n{err[-3000:]}")
        logs.append(json.loads(lines[-1]))
    samples = args.batch_size * args.batches * (args.epochs - 1)
    rates = {}
    for model in args.models.split(","):
        seconds = max(sum(log[model]["epoch_seconds"][1:]) for log in logs)  # in lock step
        rates[model] = samples / seconds
    return rates, clock.wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="tf,jax-devices,jax-processes")
    parser.add_argument("--models", default="csnn,softlif")
    parser.add_argument("--rounds", type=int, default=common.ROUNDS)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--batches", type=int, default=32, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=3, help="the first is not timed")
    parser.add_argument("--timesteps", type=int, default=8)
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error("--epochs must be >= 2 (the first epoch compiles and is not timed)")
    example = common.load_example("distributed_training")
    with common.watch_load():
        for engine in args.engines.split(","):
            best = {1: {}, 2: {}}
            walls = {1: [], 2: []}
            for _ in range(args.rounds):
                for workers in (1, 2):
                    rates, wall = run_once(example, engine, workers, args)
                    walls[workers].append(wall)
                    for model, rate in rates.items():
                        best[workers][model] = max(rate, best[workers].get(model, 0))
            for model in args.models.split(","):
                one, two = best[1][model], best[2][model]
                print(f"{engine:13s} {model:8s} training samples/s: 1 worker {one:7.1f}, "
                      f"2 workers {two:7.1f}, scaling {two / one:.2f}x "
                      f"(best of {args.rounds}; whole runs incl. start-up "
                      f"{min(walls[1]):.0f} s / {min(walls[2]):.0f} s)", flush=True)


if __name__ == "__main__":
    main()
