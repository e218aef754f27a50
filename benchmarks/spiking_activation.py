"""``SpikingActivation`` side by side with KerasSpiking 0.3's: behaviour, accuracy, speed.

Run from the repository root in our environment, with KerasSpiking 0.3 in a
venv of its own (never the project's: both packages are imported as
``keras_spiking``), named by ``--kerasspiking-python`` or
``$KS_KERASSPIKING_PYTHON``::

    python3 -m venv $PEER_KS
    $PEER_KS/bin/python -m pip install tensorflow-cpu==2.15.1 keras-spiking==0.3.0
    nice -n 10 python benchmarks/spiking_activation.py --kerasspiking-python $PEER_KS/bin/python

``--parts behaviour accuracy speed`` picks the parts (default: all);
``--quick`` is a smoke run (2 000 / 1 000 images, 1 epoch, one timing round).
The peer half runs this same file inside the peer venv (``--peer TASK IN OUT``),
as a subprocess, on inputs and weights written by our half to .npz files.

* **behaviour**: random currents through ``SpikingActivation`` on both sides
  from the same initial voltages (passed explicitly as the initial state), for
  several activations and steps: the number of differing spike counts, and the
  input gradient of ``sum(w * spikes)`` while training (spiking-aware), ours
  against the activation's own gradient ``w * activation'(x)`` and against
  KerasSpiking's.
* **accuracy**: the spiking-aware model of ``examples/spiking_fashion_mnist.py``
  with KerasSpiking's recipe (Flatten > Dense 128 > ``SpikingActivation("relu",
  dt=0.01)`` > ``Lowpass`` from 0.01 s, tau and initial level trained > Dense 10,
  inputs repeated over 10 steps, ``--epochs`` of Adam; ANCHORS.md: 69.4 / 70.8
  / 71.1 % after 2 epochs) trained on both sides from the same initial
  weights, then test accuracy at T = 10 / 20 / 50; and the same network with
  this package's recipe (``examples/spiking_fashion_mnist.our_recipe``:
  SoftLIF, exact-rate fine-tuning, ``convert`` to binary spikes; the same
  number of epochs in all, the last one on the exact rates) at the same T.
  Goal: ours >= 15 points above KerasSpiking's at every T.
* **speed**: one step of the example's spiking model (its time over T steps,
  divided by T) against one plain Keras forward pass of the same network as
  an ANN (ReLU) on the same images (goal <= 1.3x); and the spiking model's
  images/s, ours vs KerasSpiking at equal T (goal >= 1.2x), for the same
  spiking-aware model (the repeated image's Dense layer runs at every step on
  both sides, which dominates its time) and for this package's converted model
  of the same network (``convert(static_input=True)``: the Dense layer of the
  static image runs once). Each side keeps
  the best of ``--rounds`` interleaved runs (``common.interleave_runs``); ratios
  per wall-clock second and per CPU-second. The load average is printed at the
  start and the end: on a shared machine (load > 1.5) the speed figures are not
  valid. ``--backend tensorflow|jax|both`` runs our half on that Keras backend
  (a child process with ``KERAS_BACKEND`` set; on JAX ``--parts accuracy speed``,
  our forward pass ``predict_on_batch``, jit-compiled).
"""

import argparse
import json
import os
import sys
import tempfile

import numpy as np

import common

TIMESTEPS = (10, 20, 50)
DT, TAU, TRAIN_STEPS = 0.01, 0.01, 10
#: KerasSpiking's spiking-aware accuracy at T = 10 / 20 / 50 recorded in ../shared/ANCHORS.md.
KERASSPIKING_ANCHOR = {10: 0.694, 20: 0.708, 50: 0.711}
#: behaviour configurations: (activation, dt, input scale)
CONFIGS = (("relu", 0.01, 1.0), ("relu", 0.01, 100.0), ("relu", 0.001, 1000.0),
           ("tanh", 0.05, 10.0), ("sigmoid", 0.05, 3.0))
B, T_BEHAVIOUR, N = 16, 100, 64


# ------------------------------------------------------------- shared by both halves


def spikes_and_gradient(keras, tape_fn, layer_fn, x, v0, w):
    """Spike counts (inference) and the input gradient of ``sum(w * spikes)``
    (training) of ``layer_fn(x, v0, training)``; ``tape_fn(f, x)`` differentiates."""
    out = np.asarray(layer_fn(x, v0, False))
    grad = np.asarray(tape_fn(lambda x_: keras.ops.sum(layer_fn(x_, v0, True) * w), x))
    return out, grad


# ------------------------------------------------------------- the peer (KerasSpiking)


def peer_main(task, inputs, out):
    """Inside KerasSpiking's venv: run ``task`` on ``inputs`` (.npz), write ``out`` (.json)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    import keras_spiking  # KerasSpiking 0.3 here

    data = dict(np.load(inputs))
    result = {"framework": f"KerasSpiking {keras_spiking.__version__}, TF {tf.__version__}"}

    if task == "behaviour":
        for i, (activation, dt, _) in enumerate(CONFIGS):
            layer = keras_spiking.SpikingActivation(activation, dt=dt)
            x = tf.constant(data[f"x{i}"])
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x, training=True, initial_state=[data["v0"]])
                                     * data["w"])
            spikes = layer(x, training=False, initial_state=[data["v0"]]).numpy()
            result[str(i)] = dict(counts=np.round(spikes * dt).astype(int).tolist(),
                                  grad=tape.gradient(loss, x).numpy().tolist())
    elif task == "accuracy":
        model = peer_model(tf, keras_spiking, data)
        model.compile(tf.keras.optimizers.Adam(1e-3),
                      tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=["accuracy"])
        x = data["x_train"].astype("float32") / 255
        model.fit(np.repeat(x[:, None], TRAIN_STEPS, axis=1), data["y_train"],
                  epochs=int(data["epochs"]), batch_size=32, verbose=2)
        x_test = data["x_test"].astype("float32") / 255
        result["accuracy"] = {}
        for steps in TIMESTEPS:
            logits = np.concatenate([
                model(np.repeat(x_test[i:i + 250, None], steps, axis=1), training=False).numpy()
                for i in range(0, len(x_test), 250)])
            result["accuracy"][steps] = float(np.mean(np.argmax(logits, -1) == data["y_test"]))
        print(f"KerasSpiking: {result['accuracy']}", file=sys.stderr, flush=True)
    elif task == "speed":
        def forward(model):
            return tf.function(lambda b: model(b, training=False), reduce_retracing=True)

        result.update(time_models(peer_model(tf, keras_spiking, data),
                                  peer_ann(tf, data), data, forward))
    with open(out, "w") as f:
        json.dump(result, f)


def peer_model(tf, keras_spiking, weights):
    """The example's spiking-aware model in Keras 2, with ``weights``' Dense layers."""
    inputs = tf.keras.Input((None, 28, 28))
    x = tf.keras.layers.Reshape((-1, 28 * 28))(inputs)
    hidden = tf.keras.layers.Dense(128)
    x = keras_spiking.SpikingActivation("relu", dt=DT)(hidden(x))
    x = keras_spiking.Lowpass(TAU, dt=DT, return_sequences=False)(x)
    output = tf.keras.layers.Dense(10)
    model = tf.keras.Model(inputs, output(x))
    hidden.set_weights([weights["hidden_kernel"], weights["hidden_bias"]])
    output.set_weights([weights["output_kernel"], weights["output_bias"]])
    return model


def peer_ann(tf, weights):
    """The same network as a Keras 2 ANN (ReLU), same Dense weights."""
    model = tf.keras.Sequential([tf.keras.Input((28, 28)), tf.keras.layers.Flatten(),
                                 tf.keras.layers.Dense(128, activation="relu"),
                                 tf.keras.layers.Dense(10)])
    model.layers[1].set_weights([weights["hidden_kernel"], weights["hidden_bias"]])
    model.layers[2].set_weights([weights["output_kernel"], weights["output_bias"]])
    return model


def time_models(snn, ann, data, forward):
    """Best-of timings of the spiking model at every T and of the ANN, on
    ``data["x_time"]`` in batches of ``data["batch"]``: {name: Timing entry}.
    ``forward(model)`` is the compiled inference call of a model."""
    x = data["x_time"].astype("float32") / 255
    batch, rounds = int(data["batch"]), int(data["rounds"])
    snn_call, ann_call = forward(snn), forward(ann)
    runs = {"ann": common.Batched(ann_call, x, batch)}
    for steps in TIMESTEPS:
        runs[f"snn_T{steps}"] = common.Batched(
            snn_call, x, batch, prepare=lambda b, s=steps: np.repeat(b[:, None], s, axis=1))
    timings = common.interleave(runs, rounds=rounds, work={k: r.work for k, r in runs.items()})
    return {"timing": {k: dict(wall=t.wall, cpu=t.cpu, work=t.work) for k, t in timings.items()}}


# ------------------------------------------------------------------------ our half


def run_peer(python, task, workdir, arrays):
    """Write ``arrays``, run the peer's ``task``, return its JSON result."""
    inputs = os.path.join(workdir, f"{task}.npz")
    out = os.path.join(workdir, f"{task}.json")
    np.savez(inputs, **arrays)
    command = [python, os.path.abspath(__file__), "--peer", task, inputs, out]
    print(f"$ {' '.join(command)}", flush=True)
    done = common.run_child(command, env=common.child_env(), capture=False)
    if done.returncode:
        raise RuntimeError(f"the KerasSpiking half failed (exit {done.returncode})")
    with open(out) as f:
        return json.load(f)


def tape_gradient(fn, x):
    """Gradient of the scalar ``fn(x)`` w.r.t. ``x`` (TensorFlow, as the peer)."""
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = fn(x)
    return tape.gradient(y, x).numpy()


def behaviour(python, workdir):
    """Spike counts and spiking-aware gradients, ours vs KerasSpiking's."""
    import keras

    from keras_spiking import SpikingActivation

    rng = np.random.default_rng(0)
    arrays = dict(v0=rng.uniform(0, 1, (B, N)).astype("float32"),
                  w=rng.normal(size=(B, T_BEHAVIOUR, N)).astype("float32"))
    for i, (_, _, scale) in enumerate(CONFIGS):
        arrays[f"x{i}"] = (scale * rng.normal(0.5, 1.0, (B, T_BEHAVIOUR, N))).astype("float32")
    theirs = run_peer(python, "behaviour", workdir, arrays)
    print(f"\nbehaviour: B={B}, T={T_BEHAVIOUR}, N={N}, the same initial voltages on both "
          f"sides ({theirs['framework']})")
    print(f"{'activation, dt, input scale':32}{'spikes':>10}{'differ':>8}"
          f"{'max |grad - act. grad|':>24}{'max |grad - theirs|':>21}")
    rows = []
    for i, (activation, dt, scale) in enumerate(CONFIGS):
        layer = SpikingActivation(activation, dt=dt)
        x = arrays[f"x{i}"]

        def run(x_, v0, training, layer=layer):
            return layer(x_, initial_state=(keras.ops.convert_to_tensor(v0),), training=training)

        spikes, grad = spikes_and_gradient(keras, tape_gradient, run, x, arrays["v0"], arrays["w"])
        counts = np.round(spikes * dt).astype(int)
        act = keras.activations.get(activation)
        expected = arrays["w"] * np.asarray(tape_gradient(lambda x_: keras.ops.sum(act(x_)), x))
        theirs_counts = np.asarray(theirs[str(i)]["counts"])
        row = dict(total=int(np.abs(counts).sum()), differ=int(np.sum(counts != theirs_counts)),
                   grad_vs_activation=float(np.max(np.abs(grad - expected))),
                   grad_vs_theirs=float(np.max(np.abs(grad - np.asarray(theirs[str(i)]["grad"])))))
        rows.append(row)
        print(f"{f'{activation}, {dt}, {scale:g}':32}{row['total']:>10}{row['differ']:>8}"
              f"{row['grad_vs_activation']:>24.2e}{row['grad_vs_theirs']:>21.2e}")
    return rows


def accuracy(python, workdir, args, example):
    """KerasSpiking's recipe on both sides from the same weights; ours with our recipe."""
    import keras

    data = example.load_data(args.train_size, args.test_size)
    (x, y), (x_test, y_test) = data
    keras.utils.set_random_seed(0)
    initial = example.build_spiking(tau=TAU)
    weights = {f"{n}_{k}": w for n in ("hidden", "output")
               for k, w in zip(("kernel", "bias"), initial.get_layer(n).get_weights())}
    to_uint8 = lambda a: np.round(a * 255).astype(np.uint8)  # noqa: E731  exact for these images
    theirs = run_peer(python, "accuracy", workdir, dict(
        weights, x_train=to_uint8(x), y_train=y, x_test=to_uint8(x_test), y_test=y_test,
        epochs=args.epochs))
    results = {"KerasSpiking 0.3, KerasSpiking's recipe": {int(k): v for k, v in
                                                          theirs["accuracy"].items()}}
    common.print_load("after KerasSpiking's training")
    recipe = example.kerasspiking_recipe(data, args.epochs, initial.get_weights(), verbose=2)
    results["ours, KerasSpiking's recipe"] = example.accuracy_over_time(recipe, (x_test, y_test))
    # the same training budget: epochs - 1 with SoftLIF, then 1 on the exact rates
    rates, snn = example.our_recipe(data, max(1, args.epochs - 1),
                                    finetune_epochs=int(args.epochs > 1), verbose=2)
    evaluation = example.evaluate_timesteps(snn, (x_test, y_test), TIMESTEPS, verbose=0)
    results["ours, our recipe (convert, binary spikes)"] = evaluation.last
    print(f"ours, our recipe: the exact-LIF rate model before conversion "
          f"{rates.evaluate(x_test, y_test, verbose=0)[1]:.2%}")
    print(f"\naccuracy: {len(x)} training / {len(x_test)} test images, {args.epochs} epoch(s), "
          f"trained at T = {TRAIN_STEPS}; test accuracy at T = "
          + " / ".join(map(str, TIMESTEPS)))
    for name, acc in results.items():
        print(f"  {name:46}" + " / ".join(f"{100 * acc[T]:.1f}" for T in TIMESTEPS) + " %")
    ks = results["KerasSpiking 0.3, KerasSpiking's recipe"]
    ours = results["ours, our recipe (convert, binary spikes)"]
    margins = [100 * (ours[T] - ks[T]) for T in TIMESTEPS]
    print("  ours (our recipe) - KerasSpiking: " + " / ".join(f"{m:+.1f}" for m in margins)
          + f" points (goal >= +15: {'met' if min(margins) >= 15 else 'missed'})")
    margins = [100 * (ours[T] - KERASSPIKING_ANCHOR[T]) for T in TIMESTEPS]
    print("  ours (our recipe) - KerasSpiking's recorded " + " / ".join(
        f"{100 * KERASSPIKING_ANCHOR[T]:.1f}" for T in TIMESTEPS) + " % (ANCHORS.md): "
        + " / ".join(f"{m:+.1f}" for m in margins)
        + f" points (goal >= +15: {'met' if min(margins) >= 15 else 'missed'})")
    return results


def speed(python, workdir, args, example):
    """One spiking step vs one ANN pass, and images/s ours vs KerasSpiking at equal T."""
    import keras

    _, (x_test, _) = example.load_data(1, args.timing_images)
    keras.utils.set_random_seed(0)
    snn = example.build_spiking(tau=TAU)
    ann = example.build_ann()
    for name in ("hidden", "output"):
        ann.get_layer(name).set_weights(snn.get_layer(name).get_weights())
    weights = {f"{n}_{k}": w for n in ("hidden", "output")
               for k, w in zip(("kernel", "bias"), snn.get_layer(n).get_weights())}
    arrays = dict(weights, x_time=np.round(x_test * 255).astype(np.uint8),
                  batch=args.batch_size, rounds=args.rounds)
    converted = converted_models(example, x_test, weights)

    def ours():
        result = time_models(snn, ann, arrays, common.compiled_forward)
        result["timing"].update(time_converted(converted, arrays))
        return result

    runs = common.interleave_runs(
        {"ours": ours, "KerasSpiking": lambda: run_peer(python, "speed", workdir, arrays)},
        rounds=args.peer_rounds)
    timings = {}
    for side, results in runs.items():
        timings[side] = {k: common.best(common.Timing(t["wall"], t["cpu"], t["work"])
                                        for t in (r["timing"][k] for r in results))
                         for k in results[0]["timing"]}
    print(f"\nspeed: {len(x_test)} images, batch {args.batch_size}, best of {args.rounds} x "
          f"{args.peer_rounds} interleaved rounds")
    for side, t in timings.items():
        per_step = " / ".join(f"{t[f'snn_T{T}'].wall / T / t['ann'].wall:.2f}" for T in TIMESTEPS)
        print(f"  {side}: one spiking step / one ANN pass at T = "
              + " / ".join(map(str, TIMESTEPS)) + f": {per_step}x (goal <= 1.3x); "
              f"ANN {t['ann'].rate:.0f} images/s")
    for T in TIMESTEPS:
        key = f"snn_T{T}"
        for ours, timing in (("ours", timings["ours"][key]),
                             ("ours, converted", timings["ours"][f"converted_T{T}"])):
            print(common.ratio_table({ours: timing, "KerasSpiking": timings["KerasSpiking"][key]},
                                     ours, unit="images", title=f"{ours}: spiking model, T = {T}"
                                     " (goal: ours/it >= 1.2x)"))
    return timings


def converted_models(example, x, weights):
    """This package's spiking model of the example at every T: the same Dense weights
    with LIF rates, ``convert``-ed with ``static_input=True`` (the static image's
    Dense layer runs once, not at every step), as ``example.our_recipe`` builds it."""
    import keras_spiking
    from keras_spiking.converters import convert

    ann = example.build_ann(keras_spiking.layers.LIFRate(), name="lif_rate")
    for name in ("hidden", "output"):
        ann.get_layer(name).set_weights([weights[f"{name}_kernel"], weights[f"{name}_bias"]])
    return {T: convert(ann, calibration_data=x[:200], timesteps=T, static_input=True)
            for T in TIMESTEPS}


def time_converted(models, data):
    """Best-of timings of ``models[T]`` (static images in, T steps out) at every T."""
    x = data["x_time"].astype("float32") / 255
    batch, rounds = int(data["batch"]), int(data["rounds"])
    runs = {f"converted_T{T}": common.Batched(common.compiled_forward(m), x, batch)
            for T, m in models.items()}
    timings = common.interleave(runs, rounds=rounds, work={k: r.work for k, r in runs.items()})
    return {k: dict(wall=t.wall, cpu=t.cpu, work=t.work) for k, t in timings.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_peer_argument(parser, "kerasspiking")
    parser.add_argument("--parts", nargs="+", default=["behaviour", "accuracy", "speed"],
                        choices=["behaviour", "accuracy", "speed"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=None)
    parser.add_argument("--test-size", type=int, default=None)
    parser.add_argument("--timing-images", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=common.ROUNDS,
                        help="timing rounds inside each run (best of)")
    parser.add_argument("--peer-rounds", type=int, default=2,
                        help="interleaved runs of each side (ours, peer, ours, ...)")
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--peer", nargs=3, metavar=("TASK", "IN", "OUT"), help=argparse.SUPPRESS)
    common.add_backend_argument(parser)
    args = parser.parse_args(argv)
    if args.peer:
        return peer_main(*args.peer)
    if common.rerun_per_backend(args.backend, argv):
        return None
    if args.quick:
        args.epochs, args.rounds, args.peer_rounds = 1, 1, 1
        args.train_size = args.train_size or 2000
        args.test_size = args.test_size or 1000
        args.timing_images = min(args.timing_images, 500)
    python = common.peer_python("kerasspiking", args.kerasspiking_python, parser)
    import keras

    if keras.backend.backend() != "tensorflow" and "behaviour" in args.parts:
        parser.error("the behaviour part differentiates with TensorFlow, as the peer: run it "
                     "on KERAS_BACKEND=tensorflow (--parts accuracy speed run on JAX too)")
    example = common.load_example("spiking_fashion_mnist")
    with common.watch_load(), tempfile.TemporaryDirectory() as workdir:
        if "behaviour" in args.parts:
            behaviour(python, workdir)
        if "accuracy" in args.parts:
            accuracy(python, workdir, args, example)
        if "speed" in args.parts:
            speed(python, workdir, args, example)


if __name__ == "__main__":
    sys.exit(main())
