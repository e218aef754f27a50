"""The fused threshold-scan kernel against the keras.ops loop it replaces, ours vs ours.

On the CSNN of examples/surrogate_csnn.py (T = 25, batch 128, random uint8
images, cross-entropy on spike counts) this times, interleaved in one process,
a training step and an inference batch of two copies of the model with the
same weights: one traced with ``keras_spiking.default.fused_kernels = True``
(the default), one with it off. It also times its first ``Leaky`` layer alone
(128 x 25 x 12x12x12 currents, forward + gradient of a weighted sum). Best of
``--rounds``, wall clock and CPU seconds, the load average at start and end:

    TF_CPP_MIN_LOG_LEVEL=2 python benchmarks/fused_kernels.py [--rounds 7] [--conv2-policy mixed_bfloat16]

TensorFlow only (the kernel is a TensorFlow op). The first run compiles the
kernel (about 7 s, then cached; keras_spiking/kernels/build.py).
"""

import argparse

import numpy as np

import common


def csnn_step(csnn, fused, conv2_policy, x, y):
    """(train, infer) callables of a CSNN traced with the kernel on or off."""
    import keras

    import keras_spiking

    with keras_spiking.default(fused_kernels=fused):
        keras.utils.set_random_seed(0)
        model = csnn.build_csnn(conv2_dtype=conv2_policy)
        csnn.compile_csnn(model)
        model.train_on_batch(x, y)  # traced here, under the setting
        model.predict_on_batch(x)
    return (lambda: model.train_on_batch(x, y)), (lambda: model.predict_on_batch(x))


def leaky_alone(fused, x, weights):
    """Forward + input gradient of one Leaky layer, traced with the kernel on or off."""
    import tensorflow as tf

    import keras_spiking
    from keras_spiking.layers import Leaky

    layer = Leaky(0.5, surrogate=keras_spiking.surrogates.FastSigmoid(25.0))
    with keras_spiking.default(fused_kernels=fused):
        @tf.function
        def run(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) * weights)
            return tape.gradient(loss, x)

        run.get_concrete_function(x)
    return lambda: common.materialize(run(x))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--conv2-policy", default=None,
                        help="dtype policy of the second convolution, e.g. mixed_bfloat16")
    args = parser.parse_args()

    import tensorflow as tf

    csnn = common.load_example("surrogate_csnn")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (args.batch_size, 28, 28, 1)).astype("uint8")
    y = rng.integers(0, 10, args.batch_size)
    currents = tf.constant(rng.normal(0.3, 0.8, (args.batch_size, 25, 12, 12, 12)), tf.float32)
    weights = tf.constant(rng.normal(0, 1, currents.shape), tf.float32)

    contenders = {}
    for fused in (True, False):
        name = "fused kernel" if fused else "keras.ops loop"
        train, infer = csnn_step(csnn, fused, args.conv2_policy, x, y)
        contenders[f"train, {name}"] = train
        contenders[f"infer, {name}"] = infer
        contenders[f"Leaky alone, {name}"] = leaky_alone(fused, currents, weights)
    with common.watch_load():
        best = common.interleave(contenders, rounds=args.rounds, warmup=2,
                                 work=args.batch_size)
    print(f"\nCSNN (T = 25, batch {args.batch_size}, conv2 policy "
          f"{args.conv2_policy or 'float32'}), best of {args.rounds} interleaved rounds:")
    for what in ("train", "infer", "Leaky alone"):
        table = {k.split(", ")[1]: v for k, v in best.items() if k.startswith(what + ",")}
        print("\n" + common.ratio_table(table, "fused kernel", "samples", title=what))


if __name__ == "__main__":
    main()
