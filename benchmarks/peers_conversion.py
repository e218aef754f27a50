"""Peer side of ``benchmarks/conversion_vs_peers.py``: NengoDL 3.6 / KerasSpiking 0.3.

Runs INSIDE a peer venv (Keras 2, TF 2.12-2.15; no keras_spiking import of
ours), started as a subprocess by ``conversion_vs_peers.py``, which passes:

    python benchmarks/peers_conversion.py --framework nengodl|kerasspiking \
        --weights ann.npz --data data.npz --timesteps 10 20 30 50 120 \
        --settings 10 100 1000 --timing-images 50 --out result.json

``ann.npz`` holds the reference ANN's kernels/biases (channels-last HWIO, as
in Keras 3); ``data.npz`` holds float32 test images ``x`` (n, 28, 28, 1) in
[0, 1] and labels ``y``. For every setting (NengoDL: ``scale_firing_rates``;
KerasSpiking: ``dt``) it runs the spiking net once for the longest T on all
images and reads the output at each T (``last``: output at step T; ``mean``:
mean of the last max(1, round(T / 2)) steps), then times the first
``--timing-images`` images at every T separately (``--timed-settings``: the
settings to time; the spiking rate does not change a dense simulator's cost).
Every timing is the best of ``--repeats`` passes (``common.best_of``).
Writes a JSON result (atomically) with accuracies, wall/CPU seconds and the
process's peak RSS. It imports ``benchmarks/common.py`` (standard library and
numpy only) for the timing, as ours does.

The peer venvs are made as the docstring of ``conversion_vs_peers.py`` says.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import common  # noqa: E402  (standard library and numpy only: fine in a peer venv)

LAYERS = (("conv1", 32, 1), ("conv2", 64, 2), ("conv3", 128, 2))


def log(*args):
    """Print to stderr (stdout stays free for the caller), at once."""
    print(*args, file=sys.stderr, flush=True)


def readouts(out, timesteps):
    """Predicted classes per T: {"last": [n x len(T)], "mean": [...]}."""
    last = np.stack([np.argmax(out[:, T - 1], -1) for T in timesteps], 1)
    mean = np.stack([np.argmax(out[:, T - max(1, int(round(0.5 * T))):T].mean(1), -1)
                     for T in timesteps], 1)
    return last, mean


def correctness(predictions, y):
    """Per image and T, whether each readout is right: ``(last, mean)`` lists of
    0/1 rows (n x len(timesteps)), so the caller can score any subset."""
    last = np.concatenate([p[0] for p in predictions]) == y[:, None]
    mean = np.concatenate([p[1] for p in predictions]) == y[:, None]
    return last.astype(int).tolist(), mean.astype(int).tolist()


def timing_entry(t):
    """A ``common.Timing`` of images as the JSON entry ``{"images", "wall", "cpu"}``."""
    return dict(images=t.work, wall=t.wall, cpu=t.cpu)


def keras2_ann(weights):
    """The reference ANN as a Keras 2 model with the given weights."""
    inp = tf.keras.Input((28, 28, 1))
    x = inp
    for name, filters, stride in LAYERS:
        x = tf.keras.layers.Conv2D(filters, 3, strides=stride, activation=tf.nn.relu,
                                   name=name)(x)
    x = tf.keras.layers.Flatten()(x)
    out = tf.keras.layers.Dense(10, name="readout")(x)
    model = tf.keras.Model(inp, out)
    for name in [n for n, _, _ in LAYERS] + ["readout"]:
        model.get_layer(name).set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
    return model


def check_ann(model, x, expected):
    """The Keras 2 copy must compute the same logits as ours (same weights)."""
    got = model.predict(x, verbose=0)
    error = float(np.max(np.abs(got - expected)))
    log(f"Keras 2 copy of the ANN: max |logit difference| vs ours {error:.1e}")
    if error > 1e-3:
        raise RuntimeError(f"the Keras 2 ANN differs from ours by {error} (weights layout?)")
    return error


# ------------------------------------------------------------------ NengoDL


def run_nengodl(model, x, y, args):
    """NengoDL's Converter at every ``scale_firing_rates`` of ``args.settings``:
    accuracy at every T (one run of the longest), simulator build time, timings."""
    import nengo
    import nengo_dl

    timesteps = args.timesteps
    flat = x.reshape(len(x), 1, -1)  # channels-last flattening, as NengoDL's examples
    result = dict(framework=f"NengoDL {nengo_dl.__version__}", settings={})
    for scale in args.settings:
        converter = nengo_dl.Converter(
            model, swap_activations={tf.nn.relu: nengo.SpikingRectifiedLinear()},
            scale_firing_rates=scale, synapse=args.synapse)
        inp, out = converter.inputs[model.input], converter.outputs[model.output]
        entry = {}
        with common.Clock() as build:
            sim = nengo_dl.Simulator(converter.net, minibatch_size=args.minibatch,
                                     progress_bar=False, dt=args.dt)
        entry["build_seconds"] = build.wall
        with sim:
            predictions = []
            T_max = timesteps[-1]
            with common.Clock() as run:
                for start in range(0, len(x), args.minibatch):
                    batch = flat[start:start + args.minibatch]
                    n = len(batch)
                    if n < args.minibatch:  # NengoDL needs full minibatches
                        batch = np.concatenate([batch, np.zeros(
                            (args.minibatch - n,) + batch.shape[1:], batch.dtype)])
                    data = sim.predict_on_batch({inp: np.tile(batch, (1, T_max, 1))})
                    predictions.append(readouts(data[out][:n], timesteps))
                    log(f"  NengoDL scale {scale}: {start + n}/{len(x)} images")
            entry["last"], entry["mean"] = correctness(predictions, y)
            entry["accuracy_run"] = dict(images=len(x), steps=T_max, wall=run.wall,
                                         cpu=run.cpu)
            if scale in args.timed_settings:
                entry["timing"] = time_nengodl(sim, inp, flat, args)
        log(f"NengoDL scale {scale}: accuracy (last) at T={T_max}: "
            f"{np.mean(np.array(entry['last'])[:, -1]):.2%}")
        result["settings"][str(scale)] = entry
    return result


def time_nengodl(sim, inp, flat, args):
    """Best of ``args.repeats`` passes over the full minibatches of the first
    ``args.timing_images`` images, at every T."""
    timing = {}
    for T in args.timesteps:
        def step(b, T=T):
            return sim.predict_on_batch({inp: np.tile(b, (1, T, 1))})

        run = common.Batched(step, flat[:args.timing_images], args.minibatch,
                             drop_remainder=True)
        if not timing:
            sim.predict_on_batch({inp: np.tile(run.batches[0], (1, 2, 1))})  # warm-up
        best = common.best_of(run, args.repeats, warmup=0, work=run.work)
        timing[str(T)] = timing_entry(best)
        log(f"  NengoDL T={T}: {best.rate:.1f} images/s")
    return timing


# ------------------------------------------------------------- KerasSpiking


def kerasspiking_snn(weights, dt, tau):
    """KerasSpiking used as a converter: the ANN's layers over time, each ReLU
    replaced by SpikingActivation("relu", dt) followed by a Lowpass(tau)."""
    import keras_spiking

    inp = tf.keras.Input((None, 28, 28, 1))
    x, layers = inp, {}
    for name, filters, stride in LAYERS:
        layers[name] = tf.keras.layers.Conv2D(filters, 3, strides=stride, name=name)
        x = tf.keras.layers.TimeDistributed(layers[name])(x)
        x = keras_spiking.SpikingActivation("relu", dt=dt, spiking_aware_training=False)(x)
        x = keras_spiking.Lowpass(tau, dt=dt)(x)
    x = tf.keras.layers.TimeDistributed(tf.keras.layers.Flatten())(x)
    layers["readout"] = tf.keras.layers.Dense(10, name="readout")
    model = tf.keras.Model(inp, layers["readout"](x))
    for name, layer in layers.items():
        layer.set_weights([weights[f"{name}/kernel"], weights[f"{name}/bias"]])
    return model


def run_kerasspiking(weights, x, y, args):
    """``kerasspiking_snn`` at every dt of ``args.settings``: accuracy at every T
    (one run of the longest) and timings."""
    import keras_spiking

    timesteps, T_max = args.timesteps, args.timesteps[-1]
    result = dict(framework=f"KerasSpiking {keras_spiking.__version__}", settings={})
    for dt in args.settings:
        snn = kerasspiking_snn(weights, dt, args.tau)
        call = tf.function(lambda b, snn=snn: snn(b, training=False), reduce_retracing=True)
        entry = {}
        predictions = []
        with common.Clock() as run:
            for start in range(0, len(x), args.batch_size):
                batch = x[start:start + args.batch_size]
                tiled = np.repeat(batch[:, None], T_max, axis=1)
                predictions.append(readouts(call(tiled).numpy(), timesteps))
        entry["last"], entry["mean"] = correctness(predictions, y)
        entry["accuracy_run"] = dict(images=len(x), steps=T_max, wall=run.wall, cpu=run.cpu)
        if dt in args.timed_settings:
            entry["timing"] = time_batches(call, x[:args.timing_images], args)
        log(f"KerasSpiking dt {dt}: accuracy (last) at T={T_max}: "
            f"{np.mean(np.array(entry['last'])[:, -1]):.2%}")
        result["settings"][str(dt)] = entry
    return result


def time_batches(call, x, args, static=False):
    """Best of ``args.repeats`` passes over ``x`` in batches (after tracing on the
    first), at every T (input tiled over T, outside the timing), or once for a
    static-input ``call`` (key "1")."""
    timing = {}
    for T in [1] if static else args.timesteps:
        tile = None if static else (lambda b, T=T: np.repeat(b[:, None], T, axis=1))
        best = common.best_of(common.Batched(call, x, args.batch_size, prepare=tile),
                              args.repeats, work=len(x))
        timing[str(T)] = timing_entry(best)
        log(f"  T={T}: {best.rate:.1f} images/s")
    return timing


def main(argv=None):
    """Parse the arguments, check the Keras 2 ANN, run one peer, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("nengodl", "kerasspiking"), required=True)
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--timesteps", type=int, nargs="+", required=True)
    parser.add_argument("--settings", type=float, nargs="+", required=True,
                        help="NengoDL: scale_firing_rates; KerasSpiking: dt (s)")
    parser.add_argument("--timed-settings", type=float, nargs="*", default=None,
                        help="settings to time (default: the first)")
    parser.add_argument("--images", type=int, default=None, help="first N test images")
    parser.add_argument("--timing-images", type=int, default=50)
    parser.add_argument("--synapse", type=float, default=0.005, help="NengoDL synapse (s)")
    parser.add_argument("--dt", type=float, default=0.001, help="NengoDL dt (s)")
    parser.add_argument("--tau", type=float, default=0.1, help="KerasSpiking Lowpass tau (s)")
    parser.add_argument("--minibatch", type=int, default=50, help="NengoDL minibatch")
    parser.add_argument("--batch-size", type=int, default=100, help="KerasSpiking batch")
    parser.add_argument("--repeats", type=int, default=common.ROUNDS,
                        help="timed passes per T; the best is kept")
    args = parser.parse_args(argv)
    args.timesteps = sorted(set(args.timesteps))
    if args.timed_settings is None:
        args.timed_settings = args.settings[:1]

    weights = dict(np.load(args.weights))
    data = np.load(args.data)
    x, y = data["x"].astype("float32")[:args.images], data["y"].reshape(-1)[:args.images]
    model = keras2_ann(weights)
    ann_error = check_ann(model, x[:200], data["logits"][:len(x[:200])])
    with common.Clock() as clock:
        if args.framework == "nengodl":
            result = run_nengodl(model, x, y, args)
        else:
            result = run_kerasspiking(weights, x, y, args)
            ann = tf.function(lambda b: model(b, training=False))
            result["ann_forward"] = time_batches(ann, x[:args.timing_images], args,
                                                 static=True)["1"]
    result.update(tf_version=tf.__version__, ann_max_logit_difference=ann_error,
                  total_seconds=clock.wall, peak_rss_bytes=common.peak_rss(),
                  threads=dict(inter=tf.config.threading.get_inter_op_parallelism_threads(),
                               intra=tf.config.threading.get_intra_op_parallelism_threads()))
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
