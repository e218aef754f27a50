"""What the benchmarks share: timing, the ratio report, machine load, peak memory,
peer interpreters, and our side's data and main-job model.

Scripts in ``benchmarks/`` run as ``python benchmarks/<script>.py`` and so have
this folder on ``sys.path``: ``import common``. The peer halves
(``peers_conversion.py``, ``peers_torch.py``, ``leaky_vs_snntorch.py --peer``)
import it too, inside the peers' venvs, where our package is not installed:
so this module imports only the standard library and numpy at the top, and
Keras / keras_spiking inside the functions of its last section.

Rules every comparison follows (issue 14): ours and the peer are timed
interleaved in one run (ours, peer, ours, peer, ...), each keeps its best of
>= 3 rounds (the least disturbed one on a shared machine), the load average is
printed at the start and the end, and ratios are reported both per wall-clock
second and per CPU-second of the process (the latter depends less on what else
runs on the machine).
"""

import contextlib
import importlib.util
import os
import resource
import subprocess
import sys
import time
from typing import NamedTuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

#: Rounds (best of) of every interleaved comparison, unless a script says otherwise.
ROUNDS = 3

# ---------------------------------------------------------------------- timing


class Timing(NamedTuple):
    """Wall-clock and process CPU seconds of ``work`` units (images, samples, ...).

    ``rate = work / wall`` and ``cpu_rate = work / cpu`` are the throughputs
    per wall-clock second and per CPU-second of the process (all its threads).
    """

    wall: float
    cpu: float
    work: float = 1

    @property
    def rate(self):
        """Work per wall-clock second."""
        return self.work / self.wall

    @property
    def cpu_rate(self):
        """Work per CPU-second of the process."""
        return self.work / max(self.cpu, 1e-12)


class Clock:
    """Wall-clock (``perf_counter``) and process CPU (``process_time``) seconds
    of a ``with`` block: ``clock.wall``, ``clock.cpu`` and ``clock.timing``."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    @property
    def timing(self):
        """The measured block as a ``Timing`` of one unit of work."""
        return Timing(self.wall, self.cpu)


def materialize(out):
    """Wait for ``out`` (a tensor, or a list/tuple/dict of them) by turning it
    into numpy arrays, so that asynchronous work is inside the timing."""
    if isinstance(out, dict):
        return {k: materialize(v) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return [materialize(v) for v in out]
    return np.asarray(out)


class Batched:
    """``fn`` applied to ``x`` in batches, as one zero-argument callable.

    ``prepare(batch)`` (outside the timing) turns each slice of ``x`` into
    the batch ``fn`` gets; ``drop_remainder`` leaves out a last short batch.
    Each output is materialised. ``warm_up()`` runs the first batch only
    (traces ``fn``); ``best_of`` and ``interleave`` use it instead of a full
    pass. ``work`` is the number of samples in the batches.
    """

    def __init__(self, fn, x, batch_size, prepare=None, drop_remainder=False):
        self.fn = fn
        slices = [x[i:i + batch_size] for i in range(0, len(x), batch_size)]
        if drop_remainder:
            slices = [b for b in slices if len(b) == batch_size]
        if not slices:
            raise ValueError(f"Batched: no batch of {batch_size} in {len(x)} samples; "
                             "pass more samples or a smaller batch_size.")
        self.work = sum(len(b) for b in slices)
        self.batches = [prepare(b) if prepare else b for b in slices]

    def warm_up(self):
        """Run the first batch (traces and warms up ``fn``)."""
        materialize(self.fn(self.batches[0]))

    def __call__(self):
        for batch in self.batches:
            materialize(self.fn(batch))


def _warm_up(fn, warmup):
    for _ in range(warmup):
        getattr(fn, "warm_up", fn)()


def best(timings):
    """The best of several ``Timing``s of the same work: least wall and least
    CPU seconds, each taken separately."""
    timings = list(timings)
    return Timing(min(t.wall for t in timings), min(t.cpu for t in timings),
                  timings[0].work)


def interleave_samples(contenders, rounds=ROUNDS, warmup=1, work=1):
    """Every ``Timing`` of each contender, timed round by round.

    ``contenders`` maps names to zero-argument callables. Each is first
    warmed up ``warmup`` times (``fn.warm_up()`` if it has one, else ``fn()``),
    then each round calls them once in order (a, b, a, b, ...), so that a
    change in machine load hits all of them alike. ``work`` (a number, or a
    dict by name) is stored in each ``Timing``. Returns ``{name: [Timing, ...]}``.
    """
    for fn in contenders.values():
        _warm_up(fn, warmup)
    samples = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            with Clock() as clock:
                fn()
            units = work[name] if isinstance(work, dict) else work
            samples[name].append(clock.timing._replace(work=units))
    return samples


def interleave(contenders, rounds=ROUNDS, warmup=1, work=1):
    """The best ``Timing`` of each contender over ``rounds`` interleaved rounds
    (``interleave_samples``): ``{name: Timing}``."""
    samples = interleave_samples(contenders, rounds, warmup, work)
    return {name: best(t) for name, t in samples.items()}


def best_of(fn, repeats=ROUNDS, warmup=1, work=1):
    """Best wall-clock and CPU seconds of ``repeats`` calls of ``fn()`` after
    ``warmup`` untimed ones: a ``Timing`` of ``work`` units."""
    return interleave({"fn": fn}, repeats, warmup, work)["fn"]


def interleave_runs(runs, rounds=ROUNDS):
    """Call each of ``runs`` (name -> zero-argument callable that measures
    itself, e.g. a subprocess) once per round, round by round, and return
    ``{name: [result of round 1, round 2, ...]}``."""
    results = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    return results


def speedup(ours, peer):
    """``(wall, cpu)`` ratios of our throughput to the peer's: ``ours.rate /
    peer.rate`` and ``ours.cpu_rate / peer.cpu_rate`` (> 1: ours is faster)."""
    return ours.rate / peer.rate, ours.cpu_rate / peer.cpu_rate


def ratio_table(timings, ours, unit="samples", title=None):
    """A table of ``timings`` (name -> ``Timing``): best wall and CPU seconds,
    ``unit``/s, ``unit`` per CPU-second and, for everyone but ``ours``, the
    wall-clock and per-CPU-second ratios ``speedup(timings[ours], ...)``."""
    width = max(12, *(len(name) for name in timings)) + 2
    lines = [title] if title else []
    lines.append(f"{'':{width}}{'wall s':>9}{'CPU s':>9}{unit + '/s':>16}"
                 f"{unit + '/CPU-s':>18}{'ours/it wall':>14}{'ours/it CPU':>13}")
    for name, t in timings.items():
        line = (f"{name:{width}}{t.wall:>9.3f}{t.cpu:>9.3f}{t.rate:>16.1f}"
                f"{t.cpu_rate:>18.1f}")
        if name != ours:
            wall, cpu = speedup(timings[ours], t)
            line += f"{wall:>13.2f}x{cpu:>12.2f}x"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------- backends

#: The Keras backends our side runs on (``--backend``).
BACKENDS = ("tensorflow", "jax")


def add_backend_argument(parser):
    """Add ``--backend tensorflow|jax|both``: the Keras backend(s) of our side
    (default: this process's, i.e. ``$KERAS_BACKEND``). See ``backends``."""
    parser.add_argument("--backend", choices=BACKENDS + ("both",), default=None,
                        help="Keras backend of our side; another one (or both) runs this "
                             "script again in a child with KERAS_BACKEND set")


def current_backend():
    """The Keras backend this process uses, without importing Keras when
    ``$KERAS_BACKEND`` says it (Keras' own default is TensorFlow)."""
    if "keras" in sys.modules:
        return sys.modules["keras"].backend.backend()
    return os.environ.get("KERAS_BACKEND", "tensorflow")


def backends(choice):
    """The backends ``--backend choice`` asks for, in order (None: this process's)."""
    if choice is None:
        return [current_backend()]
    return list(BACKENDS) if choice == "both" else [choice]


def without_backend(argv):
    """``argv`` without its ``--backend X`` / ``--backend=X`` arguments."""
    cleaned, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--backend":
            skip = True
        elif not arg.startswith("--backend="):
            cleaned.append(arg)
    return cleaned


def rerun_per_backend(choice, argv=None):
    """Run this script once per backend of ``choice`` that is not this process's,
    each in a child with ``KERAS_BACKEND`` set and ``--backend`` dropped (output
    straight to ours). Returns True when it ran children, then the caller
    stops; False when ``choice`` is this process's own backend (run here).

    ``both`` runs every backend in a child, one after the other, each printing
    its own tables (figures from separate processes on a shared machine:
    compare CPU-seconds, and rerun if the load average changed)."""
    wanted = backends(choice)
    if wanted == [current_backend()]:
        return False
    cleaned = without_backend(sys.argv[1:] if argv is None else argv)
    script = os.path.abspath(sys.argv[0])
    failed = []
    for backend in wanted:
        print(f"\n===== our side on KERAS_BACKEND={backend} =====", flush=True)
        done = run_child([sys.executable, script] + cleaned,
                         env=child_env(pythonpath=os.environ.get("PYTHONPATH"),
                                       KERAS_BACKEND=backend), capture=False)
        print(f"(KERAS_BACKEND={backend}: exit {done.returncode}, peak RSS "
              f"{done.peak_rss / 2**30:.2f} GiB)", flush=True)
        if done.returncode:
            failed.append(backend)
    if failed:
        raise SystemExit(f"the run failed on {', '.join(failed)}")
    return True


# ------------------------------------------------------------------ machine load

#: Above this 1-minute load average (on this 2-core kind of machine) figures are suspect.
LOAD_WARNING = 1.5


def load_average():
    """The 1, 5 and 15-minute load averages (``os.getloadavg``)."""
    return os.getloadavg()


#: Above this share of CPU time stolen by the host (a virtual machine's neighbours)
#: figures are suspect: on 2026-12-03 steal of 16-25 % came with one fresh process of the
#: same ANN forward pass running at half the images/s of another.
STEAL_WARNING = 0.05


def cpu_times():
    """``(steal, total)`` CPU ticks of the whole machine since boot (``/proc/stat``);
    None where there is no such file."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal [guest guest_nice: inside user]
    return (fields[7] if len(fields) > 7 else 0), sum(fields[:8])


_first_times = []


def print_load(label, file=None):
    """Print the load average as ``load average (1/5/15 min) <label>: a/b/c``,
    and a warning line when the 1-minute load is above ``LOAD_WARNING``. From
    the second call on, also the share of CPU time the host stole from this
    machine since the first call (``/proc/stat``), with a warning above
    ``STEAL_WARNING``: the load average does not show it."""
    file = file or sys.stdout
    one, five, fifteen = load = load_average()
    print(f"load average (1/5/15 min) {label}: {one:.2f}/{five:.2f}/{fifteen:.2f}",
          file=file, flush=True)
    if one > LOAD_WARNING:
        print(f"WARNING: 1-minute load {one:.2f} > {LOAD_WARNING}: figures taken under "
              "load flatter us against torch peers; rerun on a quiet machine",
              file=file, flush=True)
    times = cpu_times()
    if times is not None and not _first_times:
        _first_times.append(times)
    elif times is not None and times[1] > _first_times[0][1]:
        steal = (times[0] - _first_times[0][0]) / (times[1] - _first_times[0][1])
        print(f"CPU steal (time the host took from this machine) since the first reading: "
              f"{steal:.1%}", file=file, flush=True)
        if steal > STEAL_WARNING:
            print(f"WARNING: steal {steal:.1%} > {STEAL_WARNING:.0%}: the host's other guests "
                  "took CPU time; figures vary between processes, rerun later", file=file,
                  flush=True)
    return load


@contextlib.contextmanager
def watch_load():
    """Print the load average when the block starts and when it ends."""
    print_load("at start")
    try:
        yield
    finally:
        print_load("at end")


# ---------------------------------------------------------------------- memory


def peak_rss(pid="self"):
    """Peak resident memory of a process (this one by default), bytes.

    Linux's ``VmHWM`` in ``/proc/<pid>/status``: unlike ``ru_maxrss`` it
    starts afresh at exec, so a big parent does not leak into a child's
    figure. Elsewhere, for this process, ``resource.getrusage``'s
    ``ru_maxrss`` (KiB on Linux, bytes on macOS).
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    if pid != "self":
        raise ProcessLookupError(
            f"peak_rss: no VmHWM for process {pid} (it exited, or this is not Linux)")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss if sys.platform == "darwin" else maxrss * 1024


class ChildResult(NamedTuple):
    """A finished child: exit code, its output (None unless captured) and the
    largest ``VmHWM`` seen while it ran (bytes; a lower bound, sampled)."""

    returncode: int
    stdout: str
    stderr: str
    peak_rss: int


def run_child(command, env=None, capture=True, poll=0.05):
    """Run ``command`` to the end, sampling its peak RSS every ``poll`` seconds.

    The sample misses growth in the child's last ``poll`` seconds; a child of
    ours reports its own ``peak_rss()`` as well, which is exact.
    """
    pipe = subprocess.PIPE if capture else None
    with subprocess.Popen(command, env=env, stdout=pipe, stderr=pipe, text=True) as p:
        peak = 0
        while True:
            with contextlib.suppress(ProcessLookupError):
                peak = max(peak, peak_rss(p.pid))
            try:
                out, err = p.communicate(timeout=poll)
                break
            except subprocess.TimeoutExpired:
                continue
    return ChildResult(p.returncode, out, err, peak)


#: the XLA flag ``import keras_spiking`` adds on JAX (keras_spiking/xla_flags.py):
#: an older XLA aborts on it ("Unknown flags in XLA_FLAGS", TensorFlow 2.15 under
#: ``jit_compile``), so children in other venvs do not inherit it
_OUR_XLA_FLAG = "--xla_cpu_experimental_ynn_fusion_type="


def child_env(pythonpath=None, **variables):
    """The environment for a child in another venv: ours, without
    ``PYTHONPATH`` (or with the given one), user site-packages and our XLA flag,
    TensorFlow's start-up log quiet, plus ``variables``."""
    env = dict(os.environ, PYTHONNOUSERSITE="1")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.pop("PYTHONPATH", None)
    flags = [f for f in env.get("XLA_FLAGS", "").split() if not f.startswith(_OUR_XLA_FLAG)]
    if flags:
        env["XLA_FLAGS"] = " ".join(flags)
    else:
        env.pop("XLA_FLAGS", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.update(variables)
    return env


# ----------------------------------------------------------------------- peers


class Peer(NamedTuple):
    """A peer framework's venv: command-line flag, environment variable, what it
    holds and the commands that make it (they work offline on this machine kind)."""

    flag: str
    variable: str
    what: str
    recipe: str


PEERS = {
    "torch": Peer(
        "--torch-python", "KS_TORCH_PYTHON", "torch 2.13, snnTorch 1.0 and SpikingJelly 2.0",
        "python -m venv V && V/bin/python -m pip install torch==2.13.0 && "
        "V/bin/python -m pip install torch==2.13.0 snntorch==1.0.0 spikingjelly==2.0.0"),
    "kerasspiking": Peer(
        "--kerasspiking-python", "KS_KERASSPIKING_PYTHON", "KerasSpiking 0.3 on Keras 2",
        "python -m venv V && V/bin/python -m pip install tensorflow-cpu==2.15.1 "
        "keras-spiking==0.3.0"),
    "nengodl": Peer(
        "--nengodl-python", "KS_NENGODL_PYTHON", "NengoDL 3.6 on Keras 2",
        "python -m venv V && V/bin/python -m pip install tensorflow-cpu==2.12.1 "
        "nengo==4.1.0 jinja2 progressbar2 packaging && "
        "V/bin/python -m pip install --no-deps nengo-dl==3.6.0"),
}


class PeerNotFoundError(RuntimeError):
    """No usable Python was given for a peer's venv."""


def add_peer_argument(parser, peer):
    """Add ``--<peer>-python`` to ``parser`` (default: the peer's environment variable)."""
    p = PEERS[peer]
    parser.add_argument(p.flag, default=None, metavar="PYTHON",
                        help=f"python of a venv with {p.what} (default: ${p.variable})")


def peer_python(peer, given=None, parser=None):
    """The Python of ``peer``'s venv: ``given`` (from its flag), else the
    environment variable (``KS_TORCH_PYTHON``, ``KS_KERASSPIKING_PYTHON``,
    ``KS_NENGODL_PYTHON``). Raises ``PeerNotFoundError`` with the install recipe
    when neither names an existing file (with ``parser``: ``parser.error``)."""
    p = PEERS[peer]
    python = given or os.environ.get(p.variable)
    problem = None
    if not python:
        problem = f"no Python for {p.what}"
    elif not os.path.isfile(python):
        problem = f"the Python given for {p.what} ({python!r}) does not exist"
    if problem is None:
        return python
    message = (f"{problem}: pass {p.flag} V/bin/python or set {p.variable}=V/bin/python, "
               f"where V is a venv of its own (never the project's) made with:\n    "
               f"{p.recipe}\n(see the benchmark's docstring)")
    if parser is not None:
        parser.error(message)
    raise PeerNotFoundError(message)


# -------------------------------------------------------- our side: data, models


def load_example(name):
    """Import ``examples/<name>.py`` of this checkout as a module."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "examples",
                                                                     f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def subset(data, size):
    """The first ``size`` samples of ``(x, y)`` (all of them when ``size`` is None)."""
    x, y = data
    return (x, y) if size is None else (x[:size], y[:size])


def add_data_arguments(parser, *, epochs, train_size=None, test_size=None, quick_test=1000):
    """Add ``--epochs``, ``--train-size``, ``--test-size`` (None: all) and ``--quick``
    (1 epoch on 5000 training images, ``quick_test`` test images; see ``quick``)."""
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--train-size", type=int, default=train_size)
    parser.add_argument("--test-size", type=int, default=test_size)
    parser.add_argument("--quick", action="store_const", const=quick_test, default=None,
                        help=f"1 epoch on 5000 training images, {quick_test} test images")


def quick(args):
    """Apply ``--quick`` (from ``add_data_arguments``) to ``args``; returns ``args``."""
    if args.quick:
        args.epochs, args.train_size, args.test_size = 1, 5000, args.quick
    return args


def fashion_mnist(train_size=None, test_size=None):
    """Fashion-MNIST as numpy, ``((x_train, y_train), (x_test, y_test))`` (uint8
    images (n, 28, 28, 1)), the first ``train_size`` / ``test_size`` of each
    (``keras_spiking.datasets.load_fashion_mnist``)."""
    from keras_spiking.datasets import load_fashion_mnist

    train, test = load_fashion_mnist(as_numpy=True)
    return subset(train, train_size), subset(test, test_size)


def build_main_job(activation="soft_lif"):
    """The main job's untrained CNN (``keras_spiking.demo.build_cnn``): Conv 16 7x7 >
    pool > Conv 32 7x7 > pool > Dense 512 > Dense 10, ``activation`` after each
    hidden layer (``"soft_lif"`` or a Keras activation such as ``"relu"``)."""
    from keras_spiking import demo

    return demo.build_cnn(activation)


def main_job_model(path=None, data=None, *, epochs=3, finetune_epochs=0, batch_size=64,
                   verbose=2):
    """The main job's LIF network: loaded from ``path`` (a ``.keras`` file the main
    job saved), or, without one, trained here on ``data`` (``((x, y), (x_test,
    y_test))``) as the main job trains it (``keras_spiking.demo.train``) for
    ``epochs`` + ``finetune_epochs``. Returns ``(model, where it came from)``."""
    if path:
        import keras

        return keras.models.load_model(path), path
    from keras_spiking import demo

    model, accuracy, _, _ = demo.train("soft_lif", data, epochs, batch_size,
                                       finetune_epochs=finetune_epochs, verbose=verbose)
    n = len(data[0][0])
    schedule = f"{epochs} epoch(s)" + (f" + {finetune_epochs} fine-tuning" if finetune_epochs
                                       else "")
    return model, f"trained here: {schedule} on {n} images, test accuracy {accuracy:.2%}"




def compiled_forward(model):
    """The converter's compiled, cached inference pass of ``model``
    (``keras_spiking.converters.evaluate.compiled_forward``; imported here on use,
    so that the peers' halves can import this module without keras_spiking)."""
    from keras_spiking.converters.evaluate import compiled_forward as forward

    return forward(model)
