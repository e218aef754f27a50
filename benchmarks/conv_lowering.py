"""How to lower the CSNN's second convolution on TensorFlow: Conv2D vs im2col + matmul.

The tutorial-6 CSNN (examples/surrogate_csnn.py) spends most of its training step
in its second convolution, 12 -> 64 channels, 5x5, on the 12x12 spike maps of
all ``batch * T`` folded steps (128 * 25 = 3200 images at batch 128). This
script times that convolution alone, forward + gradients with respect to its
input and kernel (what a training step needs), in ``tf.function`` graphs,
ours against ours, interleaved, best of ``--repeats``:

* ``conv2d``: ``keras.ops.conv`` (TensorFlow's Conv2D, oneDNN on CPU);
* ``conv2d-nchw``: the same in channels_first layout (with the transposes in and
  out, as a channels_last network around it would need);
* ``im2col-slices``: the 25 shifted 8x8 windows concatenated on the channel axis,
  then one matmul with the kernel reshaped to (300, 64);
* ``im2col-extract``: the same patches from ``keras.ops.image.extract_patches``.

``KERAS_BACKEND=jax`` times the same under ``jax.jit`` (gradients by ``jax.vjp``;
XLA flags through ``XLA_FLAGS``; importing keras_spiking adds its flag, XLA's own
convolution instead of YNNPACK's, unless ``KERAS_SPIKING_XLA_FLAGS=0``). It checks that every variant gives the same outputs and gradients as ``conv2d``
(to float32 rounding) before timing. Run::

    nice -n 10 python benchmarks/conv_lowering.py [--batch 3200] [--repeats 5]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402


def variants(ops):
    """name -> f(x, kernel) giving the (N, H-4, W-4, 64) 'valid' convolution."""

    def conv2d(x, kernel):
        return ops.conv(x, kernel, strides=1, padding="valid")

    def patches_slices(x, kernel):
        kh, kw, cin, cout = kernel.shape
        h, w = x.shape[1] - kh + 1, x.shape[2] - kw + 1
        cols = [x[:, i:i + h, j:j + w, :] for i in range(kh) for j in range(kw)]
        patches = ops.concatenate(cols, axis=-1)
        return ops.matmul(patches, ops.reshape(kernel, (kh * kw * cin, cout)))

    def patches_extract(x, kernel):
        kh, kw, cin, cout = kernel.shape
        patches = ops.image.extract_patches(x, (kh, kw), strides=(1, 1), padding="valid")
        return ops.matmul(patches, ops.reshape(kernel, (kh * kw * cin, cout)))

    def conv2d_nchw(x, kernel):
        y = ops.conv(ops.transpose(x, (0, 3, 1, 2)), kernel, strides=1, padding="valid",
                     data_format="channels_first")
        return ops.transpose(y, (0, 2, 3, 1))

    return {"conv2d": conv2d, "conv2d-nchw": conv2d_nchw, "im2col-slices": patches_slices,
            "im2col-extract": patches_extract}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=3200, help="folded images (batch * T)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=5, help="calls per timed round")
    args = parser.parse_args()

    import keras
    from keras import ops

    import keras_spiking  # noqa: F401  (on JAX: adds the XLA flag of keras_spiking.xla_flags)

    rng = np.random.default_rng(0)
    x = (rng.random((args.batch, 12, 12, 12)) < 0.3).astype("float32")
    kernel = rng.uniform(-0.1, 0.1, (5, 5, 12, 64)).astype("float32")
    upstream = rng.standard_normal((args.batch, 8, 8, 64)).astype("float32")

    if keras.backend.backend() == "jax":
        import jax

        x, kernel, upstream = (jax.numpy.asarray(a) for a in (x, kernel, upstream))

        def train_step(f):
            @jax.jit
            def step(x, kernel, upstream):  # arguments, not constants XLA would fold
                y, vjp = jax.vjp(f, x, kernel)
                return (y,) + vjp(upstream)
            return lambda x: step(x, kernel, upstream)
    else:
        import tensorflow as tf

        x, upstream = tf.constant(x), tf.constant(upstream)
        kernel = tf.Variable(kernel)

        def train_step(f):
            @tf.function
            def step(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    y = f(x, kernel)
                    loss = tf.reduce_sum(y * upstream)
                dx, dk = tape.gradient(loss, [x, kernel])
                return y, dx, dk
            return step

    steps = {name: train_step(f) for name, f in variants(ops).items()}
    reference = [np.asarray(t) for t in steps["conv2d"](x)]
    for name, step in steps.items():
        for ref, got in zip(reference, step(x)):
            np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4,
                                       atol=1e-3 * np.abs(ref).max(), err_msg=name)
    best = {name: (float("inf"), float("inf")) for name in steps}
    print(f"backend {keras.backend.backend()}, batch {args.batch}, load average at start "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    for _ in range(args.repeats):
        for name, step in steps.items():
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.calls):
                out = step(x)
            [np.asarray(t) for t in out]
            wall = (time.perf_counter() - wall) / args.calls
            cpu = (time.process_time() - cpu) / args.calls
            best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    base = best["conv2d"]
    print(f"{'variant':16s} {'wall ms':>8s} {'cpu ms':>8s} {'conv2d/it wall':>15s} {'cpu':>6s}")
    for name, (wall, cpu) in best.items():
        print(f"{name:16s} {1e3 * wall:8.1f} {1e3 * cpu:8.1f} {base[0] / wall:15.2f} "
              f"{base[1] / cpu:6.2f}")


if __name__ == "__main__":
    main()
