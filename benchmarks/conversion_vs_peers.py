"""Benchmark: our converter vs NengoDL 3.6's Converter and KerasSpiking 0.3, side by side.

Run (from the repository root, in our environment; 18-21 min on 2 cores shared at load 5-11,
including 2-4 min to train the ANN the first time), with the peers' venvs (below) named
by ``--kerasspiking-python`` / ``--nengodl-python`` or by environment variables:

    export KS_KERASSPIKING_PYTHON=$PEER_KS/bin/python
    export KS_NENGODL_PYTHON=$PEER_NENGODL/bin/python
    nice -n 10 python benchmarks/conversion_vs_peers.py
    nice -n 10 python benchmarks/conversion_vs_peers.py --pixels raw

Our time loops A/B (``--loop-ab``: while loop, unrolled chunks, fully unrolled, closed form
for the first layer with the rest unrolled or in a while loop; no peers):

    nice -n 10 python benchmarks/conversion_vs_peers.py --loop-ab --synapse auto --timesteps 120

Quick check of our side only (no peers; trains a 1-epoch ANN into a scratch file):

    python benchmarks/conversion_vs_peers.py --skip-kerasspiking --skip-nengodl --epochs 1 \
        --ann /tmp/ann_quick.keras --test-images 100 --timing-images 50 --timesteps 10 20

The reference ANN (ANCHORS.md): Conv2D 32 3x3 > Conv2D 64 3x3 s2
> Conv2D 128 3x3 s2 > Flatten > Dense 10, ReLU, Adam, 2 epochs on Fashion-MNIST
with pixels in [0, 1] (``--pixels unit``) or in [0, 255] (``--pixels raw``; an
ANN trained on raw pixels has larger activations (printed: the 99.9th
percentile per layer), which moves the peers' spike rates and accuracy). ``--ann PATH`` loads it from PATH,
or trains it and saves it there when PATH does not exist (default
``runs/conversion_vs_peers/ann_<pixels>.keras``).

One run measures, on the same test images and the same T list (default
T = 10 20 30 50 120):

* ours: ``keras_spiking.converters.convert(ann, calibration_data=<1000
  training images>, synapse=0.005)`` (binary spikes, data-based
  normalisation, NengoDL's 5 ms synapse, the default until 2026-12-02 when
  ``synapse="auto"`` replaced it; dt 1 ms, no hand-tuned scale), built for static
  input (``timesteps=T, static_input=True``; timed also with the input tiled
  over time, as the peers get it);
* KerasSpiking 0.3 as a converter: every ReLU -> ``SpikingActivation("relu",
  dt)`` followed by ``Lowpass(tau)``, at dt = 0.1 and at dt = 1.0 (many spikes
  per neuron per step);
* NengoDL 3.6 ``Converter``: ReLU -> ``SpikingRectifiedLinear``, synapse 5 ms,
  dt 1 ms, at each ``scale_firing_rates`` of ``--nengodl-scales`` (it needs
  hand tuning; all are reported). NengoDL runs ~3.5 images/s at T = 120, so it
  gets the first ``--nengodl-test-images`` images (everyone's accuracy is also
  printed on that subset);
* the plain Keras forward pass of the ANN (the dense bound: one SNN step
  cannot cost less than one ANN pass), timed on the timing images repeated
  T times (as much work as the SNN's T steps). The dense-bound ratio is printed
  twice: against the fastest ANN pass of the whole run (strict), and against the
  ANN timed interleaved with the SNN at the same T (the same machine state).

Each peer runs ``benchmarks/peers_conversion.py`` in its own venv as a
subprocess (so its CPU time is its own), with the ANN's weights passed through
an .npz file; it checks that its Keras 2 copy of the ANN gives our logits.
Readouts: ``last`` = output at step T, ``mean`` = mean over the last
max(1, round(T/2)) steps. Throughput: images/s, image-steps/s and image-steps
per CPU-second, each framework timed at every T on the first
``--timing-images`` images (NengoDL: ``--nengodl-timing-images``), best of
``--repeats`` passes (default 3; ours: the ANN and both SNN inputs interleaved),
with the ratios ours / peer per wall-clock second and per CPU-second. The load
average is printed at the start, after each framework and at the end.

Peer venvs (plain venvs of their own, never the project's; ``common.PEERS``):

    python -m venv $PEER_KS
    $PEER_KS/bin/python -m pip install tensorflow-cpu==2.15.1 keras-spiking==0.3.0
    python -m venv $PEER_NENGODL
    $PEER_NENGODL/bin/python -m pip install tensorflow-cpu==2.12.1 nengo==4.1.0 \
        jinja2 progressbar2 packaging
    $PEER_NENGODL/bin/python -m pip install --no-deps nengo-dl==3.6.0

``--skip-nengodl`` / ``--skip-kerasspiking`` leave a peer out. ``--backend
tensorflow|jax|both`` runs our side on that Keras backend (another one than this
process's in a child with ``KERAS_BACKEND`` set; ``both``: one child per backend,
each with the peers again). On JAX our forward pass is ``predict_on_batch`` (jit).
"""

import argparse
import json
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import common  # noqa: E402
from keras_spiking.converters import convert, firing_rates  # noqa: E402
from keras_spiking.converters.evaluate import mean_firing_rate, predict_steps  # noqa: E402
from peers_conversion import LAYERS, readouts  # noqa: E402

PEER_SCRIPT = os.path.join(common.HERE, "peers_conversion.py")


#: our default synapse (s): NengoDL's, for the same filtering on both sides
#: (``--synapse auto`` times convert's own default instead)
SYNAPSE = 0.005


def _synapse(text):
    """``--synapse``: seconds, ``none`` or ``auto``."""
    text = text.lower()
    return None if text == "none" else text if text == "auto" else float(text)


def build_ann():
    """The reference ANN of ANCHORS.md (layer names shared with the peer script)."""
    inp = keras.Input((28, 28, 1))
    x = inp
    for name, filters, stride in LAYERS:
        x = keras.layers.Conv2D(filters, 3, strides=stride, activation="relu", name=name)(x)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(10, name="readout")(x)
    return keras.Model(inp, out, name="reference_ann")


def train_ann(x, y, epochs, path):
    """Train ``build_ann()`` (Adam, batch 64, seed 0) and save it atomically to ``path``."""
    keras.utils.set_random_seed(0)
    model = build_ann()
    model.compile(keras.optimizers.Adam(), keras.losses.SparseCategoricalCrossentropy(
        from_logits=True), metrics=["accuracy"])
    model.fit(x, y, batch_size=64, epochs=epochs, verbose=2)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path[:-len(".keras")] + ".tmp.keras"
    model.save(tmp)
    os.replace(tmp, path)
    return model


def save_npz(path, **arrays):
    """``np.savez`` to a temporary file, then rename it into place."""
    tmp = path[:-len(".npz")] + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def run_ours(ann, x_cal, x, y, x_time, timesteps, batch_size, repeats, synapse=SYNAPSE):
    """Accuracy (one run of the longest T) and timings at every T of our converter:
    at each T the ANN, the SNN on static input and the SNN on input tiled over T
    are timed interleaved, best of ``repeats`` passes each (``common.Timing``s of
    ``len(x_time)`` images)."""
    T_max = timesteps[-1]
    snn = convert(ann, calibration_data=x_cal, synapse=synapse, timesteps=T_max,
                  static_input=True)
    with common.Clock() as clock:
        pred = predict_steps(snn, x, T_max, batch_size=batch_size,
                             reduce=lambda out: np.stack(readouts(out, timesteps), 1))
    rate = mean_firing_rate(firing_rates(snn, x[:100], T_max))
    result = dict(last=(pred[:, 0] == y[:, None]), mean=(pred[:, 1] == y[:, None]),
                  accuracy_run=dict(images=len(x), steps=T_max, wall=clock.wall,
                                    cpu=clock.cpu),
                  spikes_per_neuron_step=rate, timing={}, timing_tiled={}, ann_timing=[])
    ann_call = common.compiled_forward(ann)
    for T in timesteps:
        static = convert(ann, calibration_data=x_cal, synapse=synapse, timesteps=T,
                         static_input=True)
        tiled = convert(ann, calibration_data=x_cal, synapse=synapse, timesteps=T)
        tiled_call = common.compiled_forward(tiled)
        # the ANN passes over the same images T times (as much work as the SNN's
        # T steps), so that its time is as long, and as steady, as the SNN's
        best = common.interleave({
            "ann": common.Batched(ann_call, np.concatenate([x_time] * T), batch_size),
            "static": common.Batched(common.compiled_forward(static), x_time, batch_size),
            "tiled": common.Batched(
                lambda b: tiled_call(np.repeat(b[:, None], T, axis=1)), x_time, batch_size),
        }, rounds=repeats, work=len(x_time))
        result["ann_timing"].append(best["ann"]._replace(work=len(x_time) * T))
        result["timing"][T], result["timing_tiled"][T] = best["static"], best["tiled"]
        print(f"  ours T={T}: {best['static'].rate:.1f} images/s", flush=True)
    return result


#: ``--loop-ab`` contenders: name -> (the unroll limit, timeloop.CHUNK, closed_form)
LOOPS = {"while loop": (1, None, False), "chunks of 16": (1, 16, False),
         "chunks of 32": (1, 32, False), "unrolled": (10 ** 6, None, False),
         "closed form": (10 ** 6, None, True), "closed + while": (1, None, True)}


def loop_ab(ann, x_cal, x_time, timesteps, batch_size, repeats, synapse):
    """Our SNN at each T with each time loop of ``LOOPS`` (the whole network's
    neurons stepped one step per while-loop iteration, in unrolled chunks, fully
    unrolled, and with the first layer in closed form and the rest unrolled or in a
    while loop), timed
    interleaved; prints the first call (trace and run one batch) and images/s of
    each, checks that the loops give the same outputs and prints how far the
    closed form's are from them (a spike may move by a step)."""
    from keras_spiking import timeloop

    default = timeloop.MAX_UNROLL, timeloop.MAX_UNROLL_JAX, timeloop.CHUNK
    for T in timesteps:
        contenders, first, outputs, keep = {}, {}, {}, []
        for name, (limit, chunk, closed) in LOOPS.items():
            # read while tracing (both backends' limits: the A/B runs on either)
            timeloop.MAX_UNROLL, timeloop.MAX_UNROLL_JAX, timeloop.CHUNK = limit, limit, chunk
            try:
                snn = convert(ann, calibration_data=x_cal, synapse=synapse, timesteps=T,
                              static_input=True, closed_form=closed)
                keep.append(snn)  # compiled_forward holds its model weakly
                forward = common.compiled_forward(snn)
                with common.Clock() as clock:
                    outputs[name] = np.asarray(forward(x_time[:batch_size]))
            finally:
                timeloop.MAX_UNROLL, timeloop.MAX_UNROLL_JAX, timeloop.CHUNK = default
            first[name] = clock.wall
            contenders[name] = common.Batched(forward, x_time, batch_size)
        base_out = outputs["while loop"]
        same = all(np.array_equal(outputs[n], base_out) for n in LOOPS if not LOOPS[n][2])
        best = common.interleave(contenders, rounds=repeats, work=len(x_time))
        base = best["while loop"]
        print(f"\nT = {T}: time loops A/B (the loops' outputs equal: {same})")
        for name, t in best.items():
            print(f"  {name:<14} first call {first[name]:5.1f} s  {t.rate:7.1f} images/s  "
                  f"{t.cpu_rate:7.1f} images/CPU-s  x while loop: {base.wall / t.wall:.2f} "
                  f"wall, {base.cpu / t.cpu:.2f} CPU", flush=True)
        closed = outputs["closed form"]
        answers = np.mean(np.argmax(closed[:, -1], -1) == np.argmax(base_out[:, -1], -1))
        print(f"  closed form vs loop: max |output difference| "
              f"{np.abs(closed - base_out).max():.3g}, same answer {answers:.1%} "
              f"({len(closed)} images)")
        common.print_load(f"after T = {T}")


def run_peer(python, framework, workdir, args, settings, timed_settings, images,
             timing_images):
    """Run ``peers_conversion.py`` for ``framework`` with ``python``; its JSON
    result, with every timing as a ``common.Timing`` of images (None if it failed)."""
    out = os.path.join(workdir, f"{framework}.json")
    if os.path.exists(out):
        os.remove(out)
    command = [python, PEER_SCRIPT, "--framework", framework,
               "--weights", os.path.join(workdir, "ann_weights.npz"),
               "--data", os.path.join(workdir, "test_data.npz"), "--out", out,
               "--images", str(images), "--timing-images", str(timing_images),
               "--timesteps", *map(str, args.timesteps),
               "--settings", *map(str, settings),
               "--timed-settings", *map(str, timed_settings),
               "--repeats", str(args.repeats)]
    if framework == "kerasspiking":
        command += ["--tau", str(args.ks_tau)]
    print(f"\n$ {' '.join(command)}", flush=True)
    with common.Clock() as clock:
        done = common.run_child(command, env=common.child_env(), capture=False)
    if done.returncode:
        print(f"!! {framework} failed (exit {done.returncode}); left out of the table")
        return None
    with open(out) as f:
        result = json.load(f)
    print(f"({framework} took {clock.wall:.0f} s, peak RSS {done.peak_rss / 2**30:.2f} GiB)",
          flush=True)
    for entry in result["settings"].values():
        if "timing" in entry:
            entry["timing"] = {int(T): as_timing(t) for T, t in entry["timing"].items()}
    if "ann_forward" in result:
        result["ann_forward"] = as_timing(result["ann_forward"])
    return result


def as_timing(entry):
    """A peer's ``{"images", "wall", "cpu"}`` entry as a ``common.Timing``."""
    return common.Timing(entry["wall"], entry["cpu"], entry["images"])


def rate(t, T):
    """(images/s, image-steps/s, image-steps per CPU-second) of a ``Timing`` at T."""
    return t.rate, t.rate * T, t.cpu_rate * T


def main(argv=None):
    """Parse the arguments, find the peers' Pythons, run everything, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pixels", choices=("unit", "raw"), default="unit",
                        help="images scaled to [0, 1] (unit) or kept in [0, 255] (raw)")
    parser.add_argument("--ann", default=None,
                        help="trained ANN (.keras): loaded if it exists, else trained and "
                             "saved (default runs/conversion_vs_peers/ann_<pixels>.keras)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--timesteps", type=int, nargs="+", default=[10, 20, 30, 50, 120])
    parser.add_argument("--test-images", type=int, default=1000)
    parser.add_argument("--timing-images", type=int, default=200)
    parser.add_argument("--nengodl-test-images", type=int, default=200)
    parser.add_argument("--nengodl-timing-images", type=int, default=50)
    parser.add_argument("--nengodl-scales", type=float, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--ks-dts", type=float, nargs="+", default=[0.1, 1.0])
    parser.add_argument("--ks-tau", type=float, default=0.1,
                        help="KerasSpiking Lowpass tau (s) after every spiking layer")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=common.ROUNDS,
                        help="timed passes per T and framework; the best is kept")
    parser.add_argument("--workdir", default=None, help="default: next to --ann")
    common.add_peer_argument(parser, "kerasspiking")
    common.add_peer_argument(parser, "nengodl")
    parser.add_argument("--skip-nengodl", action="store_true")
    parser.add_argument("--synapse", type=_synapse, default=SYNAPSE,
                        help="our synapse: seconds, 'none' or 'auto' (default 0.005, NengoDL's)")
    parser.add_argument("--skip-kerasspiking", action="store_true")
    parser.add_argument("--loop-ab", action="store_true",
                        help="only time our SNN with each time loop (LOOPS) at --timesteps")
    common.add_backend_argument(parser)
    args = parser.parse_args(argv)
    if common.rerun_per_backend(args.backend, argv):
        return
    if args.loop_ab:
        args.skip_kerasspiking = args.skip_nengodl = True
    if not args.skip_kerasspiking:
        args.kerasspiking_python = common.peer_python(
            "kerasspiking", args.kerasspiking_python, parser)
    if not args.skip_nengodl:
        args.nengodl_python = common.peer_python("nengodl", args.nengodl_python, parser)
    with common.watch_load(), common.Clock() as whole:
        run(args)
    print(f"whole run {whole.wall:.0f} s; Keras {keras.__version__}, "
          f"backend {keras.backend.backend()}")


def run(args):
    """The measurements of ``main``, in order, then the report."""
    args.timesteps = sorted(set(args.timesteps))
    args.ann = args.ann or f"runs/conversion_vs_peers/ann_{args.pixels}.keras"
    workdir = args.workdir or os.path.join(os.path.dirname(os.path.abspath(args.ann)),
                                           args.pixels)
    os.makedirs(workdir, exist_ok=True)

    (x_train, y_train), (x_test, y_test) = common.fashion_mnist()
    scale = 1 / 255.0 if args.pixels == "unit" else 1.0
    x_train = (x_train * scale).astype("float32")
    x_test = (x_test[:args.test_images] * scale).astype("float32")
    print(f"pixels: {args.pixels} (inputs in [0, {255 * scale:g}])")
    y_test = y_test[:args.test_images].reshape(-1).astype("int64")
    if os.path.exists(args.ann):
        ann = keras.models.load_model(args.ann)
        print(f"loaded the ANN from {args.ann}")
    else:
        print(f"training the reference ANN for {args.epochs} epochs -> {args.ann}")
        ann = train_ann(x_train, y_train, args.epochs, args.ann)
    logits = ann.predict(x_test, batch_size=500, verbose=0)
    ann_correct = np.argmax(logits, -1) == y_test
    probe = keras.Model(ann.inputs, [ann.get_layer(n).output for n, _, _ in LAYERS])
    percentiles = [np.percentile(keras.ops.convert_to_numpy(v), 99.9)
                   for v in probe.predict(x_test[:200], verbose=0)]
    print("ANN activations, 99.9th percentile per layer (200 test images): " + ", ".join(
        f"{n} {p:.3g}" for (n, _, _), p in zip(LAYERS, percentiles)))
    weights = {}
    for name in [n for n, _, _ in LAYERS] + ["readout"]:
        kernel, bias = ann.get_layer(name).get_weights()
        weights[f"{name}/kernel"], weights[f"{name}/bias"] = kernel, bias
    save_npz(os.path.join(workdir, "ann_weights.npz"), **weights)
    save_npz(os.path.join(workdir, "test_data.npz"), x=x_test, y=y_test, logits=logits)

    x_time = x_test[:args.timing_images]
    if args.loop_ab:
        loop_ab(ann, x_train[:1000], x_time, args.timesteps, args.batch_size, args.repeats,
                args.synapse)
        return
    print(f"\nours: converting with synapse={args.synapse!r} and simulating", flush=True)
    ours = run_ours(ann, x_train[:1000], x_test, y_test, x_time, args.timesteps,
                    args.batch_size, args.repeats, synapse=args.synapse)
    common.print_load("after ours")

    peers = {}
    if not args.skip_kerasspiking:
        peers["kerasspiking"] = run_peer(
            args.kerasspiking_python, "kerasspiking", workdir, args, args.ks_dts,
            args.ks_dts[:1], args.test_images, args.timing_images)
        common.print_load("after KerasSpiking")
    if not args.skip_nengodl:
        peers["nengodl"] = run_peer(
            args.nengodl_python, "nengodl", workdir, args, args.nengodl_scales,
            args.nengodl_scales[:1], args.nengodl_test_images, args.nengodl_timing_images)
        common.print_load("after NengoDL")

    report(args, ann_correct, ours, peers)


def report(args, ann_correct, ours, peers):
    """Print the accuracy tables (per test subset) and the throughput table."""
    Ts = args.timesteps
    rows = [("ours (default convert)", ours["last"], ours["mean"])]
    names = {"kerasspiking": ("KerasSpiking", "dt", f", Lowpass {args.ks_tau:g} s"),
             "nengodl": ("NengoDL", "scale", "")}
    for key, peer in peers.items():
        if peer is None:
            continue
        label, what, extra = names[key]
        for setting, entry in peer["settings"].items():
            rows.append((f"{label} {what} {float(setting):g}{extra}",
                         np.array(entry["last"], bool), np.array(entry["mean"], bool)))
    subsets = sorted({len(r[1]) for r in rows}, reverse=True)
    for n in subsets:
        print(f"\nAccuracy on the first {n} test images (ANN {ann_correct[:n].mean():.2%}); "
              "readout last step / mean of last T/2 steps")
        print(f"{'':36}" + "".join(f"{'T=' + str(T):>15}" for T in Ts))
        for label, last, mean in rows:
            if len(last) < n:
                continue
            print(f"{label:36}" + "".join(
                f"{last[:n, i].mean():>8.1%}/{mean[:n, i].mean():>6.1%}"
                for i in range(len(Ts))))
    print(f"ours: {ours['spikes_per_neuron_step']:.3f} spikes per neuron per step "
          f"(mean over all neurons, T = {Ts[-1]}, 100 images)")

    ann = common.best(ours["ann_timing"])
    ann_beside = dict(zip(Ts, ours["ann_timing"]))  # the ANN timed with the SNN at each T
    print(f"\nThroughput (each timed at every T, best of {args.repeats}; ANN forward pass "
          f"in our env: {ann.rate:.0f} images/s, {ann.cpu_rate:.0f} images per CPU-s)")
    print(f"{'':36}{'T':>5}{'images/s':>10}{'img-steps/s':>13}{'per CPU-s':>11}"
          f"{'ours/peer':>11}{'ours/peer CPU':>15}")
    timings = [("ours, static input", ours["timing"]),
               ("ours, input tiled over T", ours["timing_tiled"])]
    for key, peer in peers.items():
        if peer is None:
            continue
        label, what, _ = names[key]
        for setting, entry in peer["settings"].items():
            if "timing" in entry:
                timings.append((f"{label} ({what} {float(setting):g})", entry["timing"]))
    for T in Ts:
        ours_T = ours["timing"][T]
        for label, timing in timings:
            ips, steps, cpu = rate(timing[T], T)
            ratio = ratio_cpu = ""
            if not label.startswith("ours"):
                wall_x, cpu_x = common.speedup(ours_T, timing[T])
                ratio, ratio_cpu = f"{wall_x:>10.2f}x", f"{cpu_x:>14.2f}x"
            print(f"{label:36}{T:>5}{ips:>10.1f}{steps:>13.0f}{cpu:>11.0f}{ratio:>11}"
                  f"{ratio_cpu:>15}")
        print(f"{'  ours / (T x ANN time)':36}{T:>5}{ann.rate / ours_T.rate / T:>10.2f}"
              f"{'':24}{'per CPU-s':>11}{ann.cpu_rate / ours_T.cpu_rate / T:>15.2f}")
        paired = ann_beside[T]
        print(f"{'  the same, ANN timed beside it':36}{T:>5}"
              f"{paired.rate / ours_T.rate / T:>10.2f}{'':24}{'per CPU-s':>11}"
              f"{paired.cpu_rate / ours_T.cpu_rate / T:>15.2f}")
    dense = [T for T in Ts if T >= 16]
    if dense:
        for label, anns in (("the fastest ANN pass of the run", {T: ann for T in dense}),
                            ("the ANN timed beside it", ann_beside)):
            met = all(anns[T].rate / ours["timing"][T].rate / T <= 1 for T in dense)
            print(f"goal: images/s >= ANN images/s / T at T >= 16 (wall clock), against "
                  f"{label}: {'met' if met else 'missed'}")
    ks = peers.get("kerasspiking")
    if ks:
        first = next(iter(e["timing"] for e in ks["settings"].values() if "timing" in e), None)
        if first is not None:
            worst = min(min(common.speedup(ours["timing"][T], first[T])) for T in Ts)
            print(f"goal: ours >= 1.5x KerasSpiking's images/s at every T (wall clock and "
                  f"per CPU-s): {'met' if worst >= 1.5 else 'missed'} (lowest {worst:.2f}x)")
    if ks and "ann_forward" in ks:
        print(f"(ANN forward in the KerasSpiking venv, TF {ks['tf_version']}: "
              f"{ks['ann_forward'].rate:.0f} images/s)")
    for key, peer in peers.items():
        if peer is None:
            continue
        for setting, entry in peer["settings"].items():
            if entry.get("build_seconds"):
                print(f"{names[key][0]} {setting}: simulator build {entry['build_seconds']:.1f} s")


if __name__ == "__main__":
    main()
