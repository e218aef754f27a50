"""The event-driven convolution over spikes against TensorFlow's dense one, ours vs ours.

On the tutorial CSNN's second convolution (64 5x5 filters over the 12x12x12
spike maps of one batch's 128 x 25 steps, folded into a batch of 3200) this
times, interleaved in one process, the forward pass, the filter gradient and the
input gradient of ``keras_spiking.kernels.event_conv`` (work per nonzero input,
or per nonzero output gradient for the input gradient) and of TensorFlow's
dense kernels (``Conv2D`` / ``Conv2DBackpropFilter`` / ``Conv2DBackpropInput``,
oneDNN), at random binary inputs and random output gradients of several
densities (the CSNN's first ``Leaky`` fires at about 9 %; its 2x2 max pooling
leaves one in four output gradients nonzero). Best of
``--rounds``, wall clock and CPU seconds, load average and CPU steal at start
and end:

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/event_conv.py [--rounds 7] [--densities 0.02,0.05,0.09,0.15,0.25,0.4]

Where the event-driven kernels stop paying sets ``event_conv.MAX_DENSITY``.
``--csnn`` also times the CSNN's float32 training step and inference batch
(random uint8 images) with the event-driven convolution and with Keras's own
``Conv2D`` (``keras_spiking.default.event_conv = False``). ``--ann PATH``
times the converted SNN of a saved ANN the same two ways (``convert(synapse=
"auto", static_input=True)``, 200 test images, ``--timesteps``), e.g. the
reference 3-conv ANN that ``conversion_vs_peers.py`` saves:

    python benchmarks/event_conv.py --densities 0.09 --ann runs/conversion_vs_peers/ann_unit.keras

TensorFlow only (the kernels are TensorFlow ops; the first run compiles them,
about 7 s, then cached).
"""

import argparse

import numpy as np

import common


def conv_ops(x, kernel, dout):
    """name -> callable for the three kernels, event-driven and dense (the input
    gradient's events are the nonzeros of ``dout``, the others' those of ``x``)."""
    import tensorflow as tf

    from keras_spiking.kernels import event_conv

    lib = event_conv._library()
    one = [1, 1, 1, 1]
    sizes = tf.shape(kernel)
    empty = tf.zeros([0])
    graphs = {
        "forward, event-driven": lambda: lib.keras_spiking_event_conv2d(
            x, kernel, empty, strides=[1, 1], padding="VALID"),
        "forward, dense": lambda: tf.nn.conv2d(x, kernel, one, "VALID"),
        "filter gradient, event-driven": lambda: lib.keras_spiking_event_conv2d_filter_grad(
            x, sizes, dout, strides=[1, 1], padding="VALID"),
        "filter gradient, dense": lambda: tf.raw_ops.Conv2DBackpropFilter(
            input=x, filter_sizes=sizes, out_backprop=dout, strides=one, padding="VALID"),
        "input gradient, event-driven": lambda: lib.keras_spiking_event_conv2d_input_grad(
            tf.shape(x), kernel, dout, strides=[1, 1], padding="VALID")[0],
        "input gradient, dense": lambda: tf.raw_ops.Conv2DBackpropInput(
            input_sizes=tf.shape(x), filter=kernel, out_backprop=dout, strides=one,
            padding="VALID"),
    }
    return {name: first_element(graph) for name, graph in graphs.items()}


def first_element(graph):
    """A callable running ``graph`` as a tf.function that fetches one element of
    its output (the timing is the kernel's, not a copy of its output)."""
    import tensorflow as tf

    run = tf.function(lambda: tf.reshape(graph(), [-1])[0])
    return lambda: run().numpy()


def csnn_contenders(csnn, x, y):
    """name -> callable: the CSNN's training step and inference batch with the
    event-driven convolution and with Keras's own ``Conv2D``
    (``keras_spiking.default.event_conv = False``)."""
    import keras

    import keras_spiking

    contenders = {}
    for events in (True, False):
        with keras_spiking.default(event_conv=events):  # read while tracing
            keras.utils.set_random_seed(0)
            model = csnn.compile_csnn(csnn.build_csnn())
            model.train_on_batch(x, y)
            model.predict_on_batch(x)
        name = "event-driven" if events else "Keras Conv2D"
        contenders[f"train, {name}"] = lambda m=model: m.train_on_batch(x, y)
        contenders[f"infer, {name}"] = lambda m=model: m.predict_on_batch(x)
    return contenders


def conversion_contenders(path, timesteps):
    """name -> callable: the converted SNN of the Keras model saved at ``path``
    (``convert(synapse="auto", static_input=True)``, calibrated on 100
    Fashion-MNIST training images) on 200 test images in batches of 100, with the
    event-driven convolution and with Keras's own ``Conv2D``, at each T."""
    import keras

    import keras_spiking
    from keras_spiking.converters import convert

    ann = keras.saving.load_model(path)
    (x_train, _), (x_test, _) = common.fashion_mnist(100, 200)
    x_cal, x = x_train.astype("float32") / 255.0, x_test.astype("float32") / 255.0
    contenders, keep = {}, []
    for steps in timesteps:
        for events in (True, False):
            with keras_spiking.default(event_conv=events):  # read while tracing
                snn = convert(ann, calibration_data=x_cal, synapse="auto", timesteps=steps,
                              static_input=True)
                forward = common.compiled_forward(snn)
                forward(x[:100])
            keep.append(snn)  # compiled_forward holds its model weakly
            name = "event-driven" if events else "Keras Conv2D"
            contenders[f"T={steps}, {name}"] = common.Batched(forward, x, 100)
    return contenders, keep


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--densities", default="0.02,0.05,0.09,0.15,0.25,0.4")
    parser.add_argument("--batch", type=int, default=3200, help="folded spike maps")
    parser.add_argument("--csnn", action="store_true",
                        help="also time the CSNN's training step and inference")
    parser.add_argument("--ann", default=None,
                        help="also time the converted SNN of this saved ANN (pixels in [0, 1])")
    parser.add_argument("--timesteps", type=int, nargs="+", default=[30, 120])
    args = parser.parse_args()

    import tensorflow as tf

    rng = np.random.default_rng(0)
    kernel = tf.constant(rng.normal(0, 0.1, (5, 5, 12, 64)), tf.float32)
    with common.watch_load():
        for density in (float(d) for d in args.densities.split(",")):
            x = tf.constant(rng.random((args.batch, 12, 12, 12)) < density, tf.float32)
            # the output gradient as sparse as the input: where a max pooling follows the
            # convolution (the CSNN's 2x2), at most one in four is nonzero
            dout = tf.constant((rng.random((args.batch, 8, 8, 64)) < density)
                               * rng.normal(0, 1, (args.batch, 8, 8, 64)), tf.float32)
            best = common.interleave(conv_ops(x, kernel, dout), rounds=args.rounds, warmup=2,
                                     work=args.batch)
            print(f"\ndensity {density:.2f} (batch {args.batch} of 12x12x12 maps, 64 5x5 filters), "
                  f"best of {args.rounds} interleaved rounds:")
            for what in ("forward", "filter gradient", "input gradient"):
                table = {k.split(", ")[1]: v for k, v in best.items() if k.startswith(what)}
                print(common.ratio_table(table, "event-driven", "maps", title=what))
        if args.csnn:
            csnn = common.load_example("surrogate_csnn")
            images = rng.integers(0, 256, (128, 28, 28, 1)).astype("uint8")
            labels = rng.integers(0, 10, 128)
            best = common.interleave(csnn_contenders(csnn, images, labels),
                                     rounds=args.rounds, warmup=2, work=128)
            for what in ("train", "infer"):
                table = {k.split(", ")[1]: v for k, v in best.items() if k.startswith(what)}
                print("\n" + common.ratio_table(
                    table, "event-driven", "samples",
                    title=f"CSNN {what}, float32 (T = 25, batch 128)"))
        if args.ann:
            contenders, _keep = conversion_contenders(args.ann, args.timesteps)
            best = common.interleave(contenders, rounds=args.rounds, work=200)
            for steps in args.timesteps:
                table = {k.split(", ")[1]: v for k, v in best.items()
                         if k.startswith(f"T={steps},")}
                print("\n" + common.ratio_table(
                    table, "event-driven", "images",
                    title=f"converted SNN of {args.ann}, T = {steps}, batch 100"))

if __name__ == "__main__":
    main()
