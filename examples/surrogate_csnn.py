"""Train snnTorch's convolutional SNN on Fashion-MNIST with surrogate gradients and model.fit.

The network of snnTorch's tutorial 6, 12C5-MP2-64C5-MP2-1024FC10: three layers
of leaky integrate-and-fire neurons (``keras_spiking.layers.Leaky``, beta 0.5,
threshold 1, subtractive reset, fast-sigmoid surrogate with slope 25) over
T = 25 steps, trained by backpropagation through time with Adam (lr 2e-3) and
cross-entropy on the output spike counts; accuracy is the class with the most
spikes. Run (offline: the Debian package dataset-fashion-mnist provides the data):

    python examples/surrogate_csnn.py --epochs 1

Built to be fast on a CPU:

* the image is the same at every step, so the first convolution and pooling
  (time-invariant) run ONCE per image and their output is repeated over the
  25 steps (``RepeatTime``) — 25x less work for that layer than a per-step loop (on
  TensorFlow the first ``Leaky``'s kernel reads that output once, without the repeat);
* the other stateless layers see all steps at once, time folded into the batch
  (``TimeFold``; ``Dense`` already acts on the last axis of (batch, time, 1024));
* only the neuron state is scanned over time (inside ``Leaky``): on TensorFlow's CPU each
  ``Leaky`` runs its 25 steps as one fused C++ op, forward and backward
  (``keras_spiking/kernels``; the same spikes as the ``keras.ops`` loop);
* the second convolution sees spikes (8-9 % nonzero) and, through the max pooling
  after it, output gradients at most a quarter nonzero: on TensorFlow's CPU in float32
  its forward pass and both gradients visit only the nonzero values
  (``keras_spiking/kernels/event_conv``; 1.85x the training step's speed with Keras's
  own Conv2D, 2026-12-04 evening, ``benchmarks/event_conv.py --csnn``; 1.44x before
  the kernels were reworked that evening).

Measured and left out (training step, CPU time, 2 cores, 2026-11-22):
``jit_compile=True`` (XLA) made it 2.6x slower (Keras's default "auto"
already resolves to False on CPU-only TensorFlow); a hand-written BPTT
backward pass for ``Leaky`` in ``keras.ops`` (one custom gradient over the whole
time loop) cost 10-20 % more CPU in the neuron layers than TensorFlow's autodiff
through the unrolled loop, which grappler already trims to ~14 kernels per step;
the fused C++ kernel (2026-12-03, quiet) made the whole training step 1.12x
faster in float32 and 1.22x with the second convolution in bfloat16.
The second convolution (on all 25 steps) takes ~78 % of the summed per-layer
forward+backward times; the three Leaky layers ~13 %.
2026-12-02 (under load, ours against ours, CPU-seconds): the JAX backend trained
5.2x slower (its second convolution alone took 3.4x the CPU time of TensorFlow's;
the rest of the step, not yet profiled, is slower still) and peaked at 1.9 GiB
against 1.06.

Precision (full 60 000-image epochs, 2026-12-02, load average ~5, test accuracy
for seeds 0 / 1, user CPU-seconds of the whole run incl. start-up and the test pass):

* float32 (the default): 81.70 % / 80.84 %, 166 / 153 s; with the event-driven second
  convolution (2026-12-04, quiet, seed 0) 80.86 %, 117 s (62 s wall for the epoch), and
  81.06 % (59 s wall) with the reworked kernels: the same numbers to float32 rounding, so
  another trajectory within the seeds' spread;
* ``--policy mixed_bfloat16`` (every convolution and the dense layer in bfloat16,
  oneDNN's AVX512_BF16; the neurons keep a float32 state): 80.64 % / 79.66 %,
  109 / 114 s: about 1.1 points lost in both seeds;
* ``--conv2-policy mixed_bfloat16`` (only the second convolution, where the time
  goes, in bfloat16; its inputs are 0/1 spikes, exact in bfloat16): 82.48 % /
  82.17 %, 106 / 106 s: no accuracy lost. It was the recommended setting on a CPU with
  AVX512_BF16 until the event-driven convolution (float32 only) made float32 as fast:
  1.01-1.06x the float32 training speed in three side-by-side runs of 2026-12-04
  (``benchmarks/surrogate_vs_peers.py``), and 0.78x once the event-driven kernels were
  reworked that evening: float32 is now the faster setting.

Training steps alone: ``benchmarks/surrogate_vs_peers.py --policy
float32,mixed_bfloat16,float32+conv2:mixed_bfloat16``. Also measured there
(A/B under load ~5, best of 3, 10 batches): ``TF_NUM_INTEROP_THREADS=1`` 1.05x
wall / 0.94x CPU-s, ``TF_NUM_INTRAOP_THREADS=2 TF_NUM_INTEROP_THREADS=2`` 0.88x /
0.88x, ``MALLOC_ARENA_MAX=2`` 0.84x / 0.95x and the same peak RSS: no gain, left out.
Lowering the second convolution as im2col + matmul instead of Conv2D took 3.7-4.8x
its CPU time, channels_first 1.7x (``benchmarks/conv_lowering.py``).
Speed and memory against snnTorch and SpikingJelly:
``benchmarks/surrogate_vs_peers.py``.
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.layers import Leaky, RepeatTime, TimeFold  # noqa: E402

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


def spiking_init(fan_in, gain=2.0):
    """Kernel uniform in +-gain/sqrt(fan_in), zero bias.

    PyTorch's default (gain 1, as in the snnTorch tutorial) leaves this network
    silent at the start (measured on Fashion-MNIST: 2.6 % of lif1 and no lif2 or
    lif3 neurons spike), so training first has to climb out of a flat loss.
    Gain 2 starts with 8 %, 5 % and 0.2 % of the neurons spiking per step
    (gain 3: 13 %, 18 %, 9 %). Test accuracy after one epoch, seed 0: 81.7 %
    with gain 2, 79.1 % with gain 3 (77.3 % with gain 3 and --loss rate).
    """
    bound = gain * fan_in ** -0.5
    return dict(
        kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
        bias_initializer="zeros",
    )


def build_csnn(steps=25, beta=0.5, slope=25.0, init_gain=2.0, conv2_dtype=None):
    """12C5-MP2-64C5-MP2-1024FC10 with Leaky neurons; uint8 images in, spikes
    ``(batch, steps, 10)`` out. ``conv2_dtype`` (e.g. "mixed_bfloat16") is the
    dtype policy of the second convolution alone (None: the global policy)."""
    surrogate = keras_spiking.surrogates.FastSigmoid(slope=slope)

    def lif(name):
        return Leaky(beta=beta, threshold=1.0, reset="subtract", surrogate=surrogate, name=name)

    images = keras.Input((28, 28, 1), dtype="uint8", name="image")
    x = keras.layers.Rescaling(1.0 / 255.0)(images)
    # time-invariant part: computed once per image, then repeated over time
    x = keras.layers.Conv2D(12, 5, name="conv1", **spiking_init(1 * 5 * 5, init_gain))(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = RepeatTime(steps)(x)
    x = lif("lif1")(x)
    conv2 = keras.layers.Conv2D(64, 5, dtype=conv2_dtype, **spiking_init(12 * 5 * 5, init_gain))
    x = TimeFold(conv2, name="conv2")(x)
    x = TimeFold(keras.layers.MaxPooling2D(2), name="pool2")(x)
    x = lif("lif2")(x)
    x = keras.layers.Reshape((steps, 4 * 4 * 64), name="flatten")(x)
    x = keras.layers.Dense(10, name="fc", **spiking_init(4 * 4 * 64, init_gain))(x)
    spikes = lif("lif3")(x)
    return keras.Model(images, spikes, name="csnn")


LOSSES = {"count": keras_spiking.losses.CECount, "rate": keras_spiking.losses.CERate}


def compile_csnn(model, learning_rate=2e-3, loss="count"):
    """Adam; cross-entropy on spike counts ("count") or at every step ("rate")."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=LOSSES[loss](),
        metrics=[keras_spiking.metrics.RateAccuracy(name="accuracy")],
    )
    return model


class TestAccuracy(keras.callbacks.Callback):
    """Print the test accuracy (and the epoch's wall time) after every epoch."""

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        print(
            f"epoch {epoch + 1}: test accuracy {100 * logs['val_accuracy']:.2f} % "
            f"(train {100 * logs['accuracy']:.2f} %, {time.perf_counter() - self.start:.0f} s)",
            flush=True,
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--steps", type=int, default=25, help="timesteps T")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-samples", type=int, default=None, help="use the first N training images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--loss", choices=sorted(LOSSES), default="count",
                        help="cross-entropy on spike counts, or at every step (snnTorch's ce_rate)")
    parser.add_argument("--init-gain", type=float, default=2.0, help="see spiking_init")
    parser.add_argument("--save", default=None, help="save the trained model (.keras)")
    parser.add_argument("--policy", default="float32",
                        help="Keras dtype policy, e.g. mixed_bfloat16 (see the docstring)")
    parser.add_argument("--conv2-policy", default=None,
                        help="dtype policy of the second convolution alone, e.g. "
                             "mixed_bfloat16 (default: --policy)")
    args = parser.parse_args()
    keras.config.set_dtype_policy(args.policy)

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = keras_spiking.datasets.load_fashion_mnist(
        ("train", "test"), as_numpy=True
    )
    if args.train_samples:
        x_train, y_train = x_train[: args.train_samples], y_train[: args.train_samples]
    model = compile_csnn(build_csnn(args.steps, init_gain=args.init_gain,
                                    conv2_dtype=args.conv2_policy), loss=args.loss)
    model.summary()
    # tf.data without autotuning: with fit(x_train, y_train) many of the
    # epochs ran at half speed on 2 cores (see keras_spiking.datasets.batches)
    batches = keras_spiking.datasets.batches
    model.fit(
        batches(x_train, y_train, args.batch_size, shuffle=True, seed=args.seed),
        epochs=args.epochs, shuffle=False,  # shuffled by batches()
        validation_data=batches(x_test, y_test, args.batch_size),
        callbacks=[TestAccuracy()],
    )
    if args.save:
        model.save(args.save)
        print(f"saved {args.save}")


if __name__ == "__main__":
    main()
