"""Losses on the output of a spiking layer over time, for ``model.fit``.

``y_pred`` is the output layer's sequence, shaped ``(batch, time, classes)``:
spikes (0/1) for the count and rate losses, membrane voltages for the membrane
losses. ``y_true`` holds integer class labels, shaped ``(batch,)`` or
``(batch, 1)``. Each loss is a function returning one value per sample and a
``keras.losses.Loss`` class around it (registered, serializable); ``fit``
averages over the batch. With ``T`` steps, ``s[t]`` the output at step ``t``,
``n = sum_t s[t]`` the spike counts and ``CE(z, y) = -log softmax(z)[y]``:

=======================  ====================================================
loss                     per sample
=======================  ====================================================
``ce_rate``/``CERate``     ``mean_t CE(s[t], y)``: cross-entropy at every step
``ce_count``/``CECount``   ``CE(n, y)``: cross-entropy on the spike counts
``mse_count``/``MSECount`` ``mean_c (n_c - T * r_c)^2 / T`` with ``r_c`` =
                         ``correct_rate`` for ``c = y``, else ``incorrect_rate``
``ce_max_membrane``      ``CE(max_t v[t], y)``
``mse_membrane``         ``mean_{t,c} (v[t]_c - u_c)^2`` with ``u_c`` =
                         ``on_target`` for ``c = y``, else ``off_target``
=======================  ====================================================

These are snnTorch's ``functional.ce_rate_loss``, ``ce_count_loss``,
``mse_count_loss``, ``ce_max_membrane_loss`` and ``mse_membrane_loss`` (same
values, batch averaged), with time on axis 1, except that ``mse_count`` uses
the target count ``T * rate`` as is where snnTorch truncates it to an int.
Note the difference between the two cross-entropies: ``ce_rate`` scores each
step's 0/1 spikes as logits (a weak, bounded signal); ``ce_count`` scores the
counts, whose softmax sharpens as ``T`` grows.

Bad input is refused, never scored: a sequence with zero steps raises a
ValueError, and so do labels outside ``[0, classes)`` when they are concrete
(eager calls, ``model.evaluate`` / ``fit`` with ``run_eagerly=True``). Inside a
compiled step the labels are symbolic: on TensorFlow a ``tf.debugging``
assertion stops the step with the same message; on other backends (JAX) the
loss of such a sample is NaN, so ``fit`` reports ``nan`` (stop it with
``keras.callbacks.TerminateOnNaN``) instead of a plausible number.
"""

import keras
from keras import ops

from keras_spiking.validation import check_finite_data, check_number, check_text


def labels_of(y_true, owner="keras_spiking.losses"):
    """Integer labels ``(batch,)`` from ``(batch,)`` or ``(batch, 1)`` labels."""
    y_true = ops.convert_to_tensor(y_true)
    rank = len(y_true.shape)
    if rank == 2 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, -1)
    elif rank != 1:
        raise ValueError(
            f"{owner}: y_true must hold integer class labels shaped (batch,) or "
            f"(batch, 1), got shape {tuple(y_true.shape)}. For one-hot targets pass "
            "ops.argmax(y_true, -1)."
        )
    return ops.cast(y_true, "int32")


def _check_sequence(owner, y_pred):
    y_pred = ops.convert_to_tensor(check_text(owner, "y_pred", y_pred))
    check_text(owner, "y_pred", y_pred)
    check_finite_data(owner, "y_pred", y_pred)  # eager calls only
    if y_pred.shape[0] == 0:
        raise ValueError(f"{owner}: y_pred holds no samples (shape "
                         f"{tuple(y_pred.shape)}); pass at least one.")
    if len(y_pred.shape) != 3:
        raise ValueError(
            f"{owner}: y_pred must be the output sequence shaped (batch, time, "
            f"classes), got shape {tuple(y_pred.shape)}. Use return_sequences=True "
            "on the output layer."
        )
    if y_pred.shape[1] == 0:
        raise ValueError(
            f"{owner}: y_pred has 0 timesteps (shape {tuple(y_pred.shape)}); a loss over "
            "time needs at least one step. Run the model for timesteps >= 1."
        )
    return y_pred


def _concrete(x):
    """``x`` as a numpy array, or None inside a traced / compiled function."""
    try:
        return ops.convert_to_numpy(x)
    except Exception:  # symbolic (tf.function graph, jax tracer): no values yet
        return None


def class_labels(y_true, y_pred, owner):
    """``(labels, poison)``: integer labels checked against ``y_pred``'s classes.

    Labels outside ``[0, classes)`` raise a ValueError when concrete; in a
    compiled step a TensorFlow assertion fails, and on every backend ``poison``
    (0 per sample, NaN for a bad label) makes the loss NaN when added to it.
    """
    labels = labels_of(y_true, owner)
    if None not in (labels.shape[0], y_pred.shape[0]) and labels.shape[0] != y_pred.shape[0]:
        raise ValueError(f"{owner}: y_true has {labels.shape[0]} labels but y_pred "
                         f"{y_pred.shape[0]} samples; pass one label per sample.")
    classes = y_pred.shape[-1]
    values = _concrete(labels)
    if values is not None and classes is not None:
        bad = (values < 0) | (values >= classes)
        if bad.any():
            raise ValueError(
                f"{owner}: y_true must hold class labels in [0, {classes}) for "
                f"{classes} classes, got {sorted(set(values[bad].tolist()))[:5]}. Check "
                "the labels, or give the output layer one unit per class."
            )
    classes = ops.shape(y_pred)[-1] if classes is None else classes
    valid = ops.logical_and(labels >= 0, labels < classes)
    if values is None and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.debugging.assert_equal(
            valid, True,
            message=f"{owner}: y_true holds class labels outside [0, {classes}); check "
                    "the labels, or give the output layer one unit per class.",
        )
    poison = ops.where(valid, 0.0, float("nan"))
    return labels, ops.cast(poison, y_pred.dtype)


def _ce(logits, labels):
    """``-log softmax(logits)[label]``; ``logits`` may carry a time axis (axis 1)."""
    hot = ops.one_hot(labels, logits.shape[-1], dtype=logits.dtype)
    if len(logits.shape) == 3:
        hot = ops.expand_dims(hot, 1)
    return -ops.sum(ops.log_softmax(logits, axis=-1) * hot, axis=-1)


def _steps(y_pred):
    return ops.cast(ops.shape(y_pred)[1], y_pred.dtype)


def _one_hot_targets(labels, num_classes, on, off, dtype):
    hot = ops.one_hot(labels, num_classes, dtype=dtype)
    return off + (on - off) * hot


def _sequence_and_labels(name, y_true, y_pred):
    """``y_pred`` checked as ``(batch, time, classes)``, and ``class_labels``' result."""
    y_pred = _check_sequence(name, y_pred)
    return (y_pred,) + tuple(class_labels(y_true, y_pred, name))


@keras.saving.register_keras_serializable(package="keras_spiking")
def ce_rate(y_true, y_pred):
    """Cross-entropy of each step's output, averaged over steps."""
    y_pred, labels, poison = _sequence_and_labels("ce_rate", y_true, y_pred)
    return ops.mean(_ce(y_pred, labels), axis=1) + poison


@keras.saving.register_keras_serializable(package="keras_spiking")
def ce_count(y_true, y_pred):
    """Cross-entropy of the spike counts summed over time."""
    y_pred, labels, poison = _sequence_and_labels("ce_count", y_true, y_pred)
    return _ce(ops.sum(y_pred, axis=1), labels) + poison


@keras.saving.register_keras_serializable(package="keras_spiking")
def mse_count(y_true, y_pred, correct_rate=1.0, incorrect_rate=0.0):
    """Squared error of spike counts against ``T * rate`` targets, divided by T."""
    y_pred, labels, poison = _sequence_and_labels("mse_count", y_true, y_pred)
    steps = _steps(y_pred)
    targets = _one_hot_targets(
        labels, y_pred.shape[-1], steps * correct_rate, steps * incorrect_rate, y_pred.dtype,
    )
    counts = ops.sum(y_pred, axis=1)
    return ops.mean(ops.square(counts - targets), axis=-1) / steps + poison


@keras.saving.register_keras_serializable(package="keras_spiking")
def ce_max_membrane(y_true, y_pred):
    """Cross-entropy of each class's largest membrane voltage over time."""
    y_pred, labels, poison = _sequence_and_labels("ce_max_membrane", y_true, y_pred)
    return _ce(ops.max(y_pred, axis=1), labels) + poison


@keras.saving.register_keras_serializable(package="keras_spiking")
def mse_membrane(y_true, y_pred, on_target=1.0, off_target=0.0):
    """Squared error of the membrane voltage against a constant target, all steps."""
    y_pred, labels, poison = _sequence_and_labels("mse_membrane", y_true, y_pred)
    targets = _one_hot_targets(labels, y_pred.shape[-1], on_target, off_target, y_pred.dtype)
    return ops.mean(ops.square(y_pred - ops.expand_dims(targets, 1)), axis=(1, 2)) + poison


class _SpikeLoss(keras.losses.Loss):
    """A ``Loss`` calling ``fn(y_true, y_pred, **options)``, options in its config."""

    fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None, **options):
        super().__init__(name=name or type(self).fn.__name__, reduction=reduction, dtype=dtype)
        self.options = options

    def call(self, y_true, y_pred):
        return type(self).fn(y_true, y_pred, **self.options)

    def get_config(self):
        return {**super().get_config(), **self.options}


@keras.saving.register_keras_serializable(package="keras_spiking")
class CERate(_SpikeLoss):
    """``ce_rate``: cross-entropy at every step, averaged over time (snnTorch's
    ``ce_rate_loss``). ``y_pred``: spikes ``(batch, time, classes)``."""

    fn = staticmethod(ce_rate)


@keras.saving.register_keras_serializable(package="keras_spiking")
class CECount(_SpikeLoss):
    """``ce_count``: cross-entropy of the spike counts ``sum_t s[t]`` (snnTorch's
    ``ce_count_loss``). ``y_pred``: spikes ``(batch, time, classes)``."""

    fn = staticmethod(ce_count)


@keras.saving.register_keras_serializable(package="keras_spiking")
class MSECount(_SpikeLoss):
    """``mse_count``: ``mean_c (n_c - T r_c)^2 / T`` (snnTorch's ``mse_count_loss``).

    Args:
        correct_rate: target spikes per step of the labelled class, in [0, 1].
        incorrect_rate: target spikes per step of the other classes, in [0, 1].
    """

    fn = staticmethod(mse_count)

    def __init__(self, correct_rate=1.0, incorrect_rate=0.0, **kwargs):
        for name, value in (("correct_rate", correct_rate), ("incorrect_rate", incorrect_rate)):
            check_number(kwargs.get("name") or "MSECount", name, value, low=0, high=1)
        super().__init__(
            correct_rate=float(correct_rate), incorrect_rate=float(incorrect_rate), **kwargs
        )


@keras.saving.register_keras_serializable(package="keras_spiking")
class CEMaxMembrane(_SpikeLoss):
    """``ce_max_membrane``: cross-entropy of ``max_t v[t]`` (snnTorch's
    ``ce_max_membrane_loss``). ``y_pred``: voltages ``(batch, time, classes)``."""

    fn = staticmethod(ce_max_membrane)


@keras.saving.register_keras_serializable(package="keras_spiking")
class MSEMembrane(_SpikeLoss):
    """``mse_membrane``: ``mean_{t,c} (v[t]_c - u_c)^2`` (snnTorch's
    ``mse_membrane_loss`` with constant targets).

    Args:
        on_target: target voltage of the labelled class.
        off_target: target voltage of the other classes.
    """

    fn = staticmethod(mse_membrane)

    def __init__(self, on_target=1.0, off_target=0.0, **kwargs):
        for name, value in (("on_target", on_target), ("off_target", off_target)):
            check_number(kwargs.get("name") or "MSEMembrane", name, value)
        super().__init__(on_target=float(on_target), off_target=float(off_target), **kwargs)
