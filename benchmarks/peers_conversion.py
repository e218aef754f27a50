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
Writes a JSON result (atomically) with accuracies and wall/CPU seconds.

The peer venvs are made as the docstring of ``conversion_vs_peers.py`` says.
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

LAYERS = (("conv1", 32, 1), ("conv2", 64, 2), ("conv3", 128, 2))


def log(*args):
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


class Clock:
    """Wall and process CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


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
        with Clock() as build:
            sim = nengo_dl.Simulator(converter.net, minibatch_size=args.minibatch,
                                     progress_bar=False, dt=args.dt)
        entry["build_seconds"] = build.wall
        with sim:
            predictions = []
            T_max = timesteps[-1]
            with Clock() as run:
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


def time_nengodl(sim, inp, flat, args, repeats=2):
    """Best of ``repeats`` wall times over full minibatches, at every T."""
    n = args.timing_images
    batches = [flat[i:i + args.minibatch] for i in range(0, n, args.minibatch)]
    batches = [b for b in batches if len(b) == args.minibatch]
    sim.predict_on_batch({inp: np.tile(batches[0], (1, 2, 1))})  # warm-up
    timing = {}
    for T in args.timesteps:
        best = None
        for _ in range(repeats):
            with Clock() as clock:
                for b in batches:
                    sim.predict_on_batch({inp: np.tile(b, (1, T, 1))})
            if best is None or clock.wall < best.wall:
                best = clock
        images = len(batches) * args.minibatch
        timing[str(T)] = dict(images=images, wall=best.wall, cpu=best.cpu)
        log(f"  NengoDL T={T}: {images / best.wall:.1f} images/s")
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
    import keras_spiking

    timesteps, T_max = args.timesteps, args.timesteps[-1]
    result = dict(framework=f"KerasSpiking {keras_spiking.__version__}", settings={})
    for dt in args.settings:
        snn = kerasspiking_snn(weights, dt, args.tau)
        call = tf.function(lambda b, snn=snn: snn(b, training=False), reduce_retracing=True)
        entry = {}
        predictions = []
        with Clock() as run:
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


def time_batches(call, x, args, repeats=2, static=False):
    """Best of ``repeats`` wall times over ``x`` in batches, at every T (input
    tiled over T), or once for a static-input ``call`` (key "1")."""
    timing = {}
    for T in [1] if static else args.timesteps:
        batches = [x[i:i + args.batch_size] if static else
                   np.repeat(x[i:i + args.batch_size, None], T, axis=1)
                   for i in range(0, len(x), args.batch_size)]
        call(batches[0]).numpy()  # trace for this T
        best = None
        for _ in range(repeats):
            with Clock() as clock:
                for b in batches:
                    call(b).numpy()
            if best is None or clock.wall < best.wall:
                best = clock
        timing[str(T)] = dict(images=len(x), wall=best.wall, cpu=best.cpu)
        log(f"  T={T}: {len(x) / best.wall:.1f} images/s")
    return timing


def main(argv=None):
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
    args = parser.parse_args(argv)
    args.timesteps = sorted(set(args.timesteps))
    if args.timed_settings is None:
        args.timed_settings = args.settings[:1]

    weights = dict(np.load(args.weights))
    data = np.load(args.data)
    x, y = data["x"].astype("float32")[:args.images], data["y"].reshape(-1)[:args.images]
    model = keras2_ann(weights)
    ann_error = check_ann(model, x[:200], data["logits"][:len(x[:200])])
    start = time.perf_counter()
    if args.framework == "nengodl":
        result = run_nengodl(model, x, y, args)
    else:
        result = run_kerasspiking(weights, x, y, args)
        ann = tf.function(lambda b: model(b, training=False))
        result["ann_forward"] = time_batches(ann, x[:args.timing_images], args,
                                             static=True)["1"]
    result.update(tf_version=tf.__version__, ann_max_logit_difference=ann_error,
                  total_seconds=time.perf_counter() - start,
                  threads=dict(inter=tf.config.threading.get_inter_op_parallelism_threads(),
                               intra=tf.config.threading.get_intra_op_parallelism_threads()))
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
