"""Data-parallel training of spiking networks across processes and devices.

Trains two small networks on synthetic images with ``model.fit`` — the
surrogate-gradient CSNN of ``examples/surrogate_csnn.py`` (``Leaky`` neurons,
T = --timesteps) and a SoftLIF CNN — and evaluates the SoftLIF CNN converted
to spikes, on one of four engines:

* one process (no arguments);
* TensorFlow, several worker processes (``TF_CONFIG`` set): 
  ``keras_spiking.distributed.multi_worker_strategy()``;
* JAX, several devices of one process (``--engine devices``):
  ``keras.distribution.DataParallel()``;
* JAX, several processes (``--coordinator``): ``keras.distribution.initialize``
  then ``DataParallel`` over every process's devices, each process fed its part
  of every global batch (``keras_spiking.distributed.process_shard``).

``--batch-size`` is always the global batch, so every engine takes the same
optimisation steps; ``--reference`` makes process 0 also train the same models
on one device afterwards and store both, to check that they agree
(tests/examples/test_distributed_training.py). Commands:

    # two TensorFlow workers on this machine (the script starts them)
    python examples/distributed_training.py --launch 2
    # by hand, one command per machine (here both on localhost)
    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:12346"]},
      "task": {"type": "worker", "index": 0}}' python examples/distributed_training.py &
    TF_CONFIG='{"cluster": {"worker": ["localhost:12345", "localhost:12346"]},
      "task": {"type": "worker", "index": 1}}' python examples/distributed_training.py
    # JAX, two host devices in one process
    KERAS_BACKEND=jax XLA_FLAGS=--xla_force_host_platform_device_count=2 \\
      python examples/distributed_training.py --engine devices
    # JAX, two processes (the script starts them), or by hand:
    KERAS_BACKEND=jax python examples/distributed_training.py --launch 2
    KERAS_BACKEND=jax python examples/distributed_training.py \\
      --coordinator localhost:12355 --processes 2 --process-id 0 &
    KERAS_BACKEND=jax python examples/distributed_training.py \\
      --coordinator localhost:12355 --processes 2 --process-id 1

Each process prints one JSON line (its losses and epoch times); ``--out DIR``
also saves its weights and predictions as ``DIR/process<i>.npz``.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402  (importing runs no TensorFlow op: the strategy can come later)
import numpy as np  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.converters import convert  # noqa: E402
from keras_spiking.distributed import free_port, local_cluster, process_shard  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from surrogate_csnn import build_csnn, compile_csnn  # noqa: E402

MODELS = ("csnn", "softlif", "converted")  # "converted" evaluates the trained SoftLIF CNN


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=None,
                        help=f"comma-separated, of {', '.join(MODELS)} (default: all; "
                             "csnn,softlif with --coordinator)")
    parser.add_argument("--engine", choices=("auto", "devices"), default="auto",
                        help="auto: TF_CONFIG or --coordinator if given, else one process; "
                             "devices: JAX DataParallel over this process's devices")
    parser.add_argument("--launch", type=int, default=0,
                        help="start this many processes of this script on this machine")
    parser.add_argument("--coordinator", default=None, help="JAX: host:port of process 0")
    parser.add_argument("--processes", type=int, default=1, help="JAX: number of processes")
    parser.add_argument("--process-id", type=int, default=0, help="JAX: this process")
    parser.add_argument("--batch-size", type=int, default=16, help="global batch size")
    parser.add_argument("--batches", type=int, default=3, help="batches per epoch")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--timesteps", type=int, default=3, help="T of the CSNN and the SNN")
    parser.add_argument("--reference", action="store_true",
                        help="process 0 also trains on one device afterwards, to compare")
    parser.add_argument("--out", default=None, help="directory for process<i>.npz")
    args = parser.parse_args(argv)
    if (args.coordinator or args.engine == "devices") and keras.backend.backend() != "jax":
        parser.error("--coordinator and --engine devices use keras.distribution: "
                     "set KERAS_BACKEND=jax (TensorFlow: set TF_CONFIG instead)")
    if args.models is None:
        args.models = "csnn,softlif" if args.coordinator else ",".join(MODELS)
    args.models = [m for m in args.models.split(",") if m]
    if args.coordinator and "converted" in args.models:
        parser.error(
            "--models converted: Keras 3.15's predict cannot return outputs that span "
            "several JAX processes (RuntimeError: Fetching value for `jax.Array` that spans "
            "non-addressable (non process local) devices is not possible); use "
            "--engine devices, or TensorFlow workers")
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"--models: unknown {unknown}; choose from {MODELS}")
    if "converted" in args.models and "softlif" not in args.models:
        parser.error("--models: 'converted' converts the trained 'softlif' model; add softlif")
    return args


def launch(argv, processes, env=None, timeout=600):
    """Run this script with ``argv`` as ``processes`` local processes in the
    environment ``env`` (default: this one's): TensorFlow workers (even one:
    a one-worker cluster), or JAX processes around a coordinator on a free port
    (one JAX process runs without). ``[(returncode, stdout, stderr)]`` in
    process order."""
    env = dict(os.environ if env is None else env)
    if env.get("KERAS_BACKEND") == "jax" and processes == 1:  # devices, or one device
        extra, envs = [[]], [env]
    elif env.get("KERAS_BACKEND") == "jax":
        coordinator = f"localhost:{free_port()}"
        extra = [["--coordinator", coordinator, "--processes", str(processes),
                  "--process-id", str(i)] for i in range(processes)]
        envs = [env] * processes
    else:
        extra = [[]] * processes
        envs = [dict(env, TF_CONFIG=c) for c in local_cluster(processes)]
    procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), *argv, *more],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for more, env in zip(extra, envs)]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results.append((p.returncode, out, err))
    return results


# ------------------------------------------------------------------ the work


def synthetic_images(n, seed=0):
    """uint8 images (n, 28, 28, 1): noise plus a bright 8x8 patch whose place
    (one of 10) is the label."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 96, (n, 28, 28, 1))
    for i, label in enumerate(y):
        r, c = divmod(int(label), 5)
        x[i, 4 + 12 * r: 12 + 12 * r, 1 + 5 * c: 9 + 5 * c] += 150
    return x.astype("uint8"), y.astype("int32")


def build(name, timesteps):
    """The model ``name`` ("csnn" or "softlif"), compiled, from seed 0."""
    keras.utils.set_random_seed(0)
    if name == "csnn":
        return compile_csnn(build_csnn(steps=timesteps))
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 5, strides=2),
        keras_spiking.layers.SoftLIF(),
        keras.layers.AveragePooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ], name="softlif_cnn")
    model.compile(keras.optimizers.Adam(2e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class EpochTimes(keras.callbacks.Callback):
    """Records each epoch's wall-clock seconds in ``seconds``."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def run(args, scope, data, batch_size, prefix=""):
    """Train (and convert) ``args.models`` under ``scope``; arrays and logs by key."""
    (x, y), x_eval = data
    arrays, logs, trained = {}, {}, {}
    for name in (m for m in args.models if m != "converted"):
        with scope():
            model = build(name, args.timesteps)
        times = EpochTimes()
        history = model.fit(x, y, batch_size=batch_size, epochs=args.epochs, shuffle=False,
                            verbose=0, callbacks=[times])
        trained[name] = model
        logs[prefix + name] = dict(loss=history.history["loss"], epoch_seconds=times.seconds)
        for i, w in enumerate(model.get_weights()):
            arrays[f"{prefix}{name}/{i}"] = w
    if "converted" in args.models:
        with scope():
            snn = convert(trained["softlif"], calibration_data=x_eval, timesteps=args.timesteps,
                          static_input=True)
        arrays[prefix + "converted/predictions"] = snn.predict(x_eval, batch_size=batch_size,
                                                                verbose=0)
        logs[prefix + "converted"] = dict(layers=[type(l).__name__ for l in snn.layers
                                                  if l.__module__.startswith("keras_spiking")])
    return arrays, logs


def main(argv=None):
    args = parse(argv)
    if args.launch:
        argv = list(sys.argv[1:] if argv is None else argv)
        if "--launch" in argv:
            i = argv.index("--launch")
            del argv[i: i + 2]
        argv = [a for a in argv if not a.startswith("--launch=")]
        results = launch(argv, args.launch)
        for code, out, err in results:
            print(out, end="")
            if code:
                print(err[-3000:], file=sys.stderr)
        sys.exit(max(code for code, _, _ in results))

    engine, index, count, scope = "one process", 0, 1, contextlib.nullcontext
    if "TF_CONFIG" in os.environ:  # first, before any TensorFlow op
        strategy = keras_spiking.distributed.multi_worker_strategy()
        engine, scope = "tf multi-worker", strategy.scope
        index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        count = strategy.cluster_resolver.cluster_spec().num_tasks("worker")
    elif args.coordinator:
        keras.distribution.initialize(args.coordinator, args.processes, args.process_id)
        engine, index, count = "jax processes", args.process_id, args.processes
    if args.engine == "devices" or args.coordinator:
        distribution = keras.distribution.DataParallel()
        distribution.auto_shard_dataset = count == 1  # processes are fed their share
        keras.distribution.set_distribution(distribution)
        engine = engine if args.coordinator else "jax devices"

    samples = args.batch_size * args.batches
    x, y = synthetic_images(samples)
    x_eval = synthetic_images(args.batch_size, seed=1)[0]
    local = (x, y)
    if engine == "jax processes":  # each process feeds its part of every batch
        local = process_shard((x, y), args.batch_size, index, count)
    arrays, logs = run(args, scope, (local, x_eval),
                       args.batch_size // (count if engine == "jax processes" else 1))
    if args.reference and index == 0:
        if engine.startswith("jax"):
            keras.distribution.set_distribution(None)
        more, more_logs = run(args, contextlib.nullcontext, ((x, y), x_eval), args.batch_size,
                              prefix="reference/")
        arrays.update(more)
        logs.update(more_logs)
    replicas = len(keras.distribution.list_devices()) if engine.startswith("jax") else (
        strategy.num_replicas_in_sync if engine.startswith("tf") else 1)
    print(json.dumps(dict(engine=engine, process=index, processes=count, replicas=replicas,
                          backend=keras.backend.backend(), **logs)), flush=True)
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        np.savez(os.path.join(args.out, f"process{index}.npz"),
                 **{k: np.asarray(v) for k, v in arrays.items()})


if __name__ == "__main__":
    main()
