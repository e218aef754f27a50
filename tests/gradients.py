"""Gradients in tests, on whichever Keras backend runs them (TensorFlow or JAX)."""

import keras
import numpy as np


def value_and_grads(fn, *args):
    """``fn(*args)`` and the gradient of ``sum(fn(*args))`` w.r.t. each argument.

    Returns ``(value, [grad per argument])`` as numpy arrays; ``fn`` may return
    a tensor of any shape (its sum is differentiated), like ``tape.gradient``.
    """
    if keras.backend.backend() == "jax":
        import jax

        def summed(*xs):
            y = fn(*xs)
            return jax.numpy.sum(y), y

        argnums = tuple(range(len(args)))
        (_, y), grads = jax.value_and_grad(summed, argnums=argnums, has_aux=True)(
            *[jax.numpy.asarray(a) for a in args])
        return np.asarray(y), [np.asarray(g) for g in grads]
    import tensorflow as tf

    xs = [tf.convert_to_tensor(a) for a in args]
    with tf.GradientTape() as tape:
        for x in xs:
            tape.watch(x)
        y = fn(*xs)
    return y.numpy(), [g.numpy() for g in tape.gradient(y, xs)]


def gradients(fn, *args):
    """Gradients of the scalar ``fn(*args)`` w.r.t. each argument (nested
    structures allowed), on the TensorFlow or the JAX backend."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.grad(fn, argnums=tuple(range(len(args))))(*args)
    import tensorflow as tf

    args = tf.nest.map_structure(tf.convert_to_tensor, args)
    with tf.GradientTape() as tape:
        tape.watch(args)
        loss = fn(*args)
    return tape.gradient(loss, args)
