"""Metrics on the output of a spiking layer over time.

``y_pred`` is the output sequence ``(batch, time, classes)``; ``y_true`` holds
integer labels ``(batch,)`` or ``(batch, 1)``.

``rate_accuracy``: a sample is right when the labelled class has the most
spikes, ``argmax_c sum_t s[t]_c == y`` (snnTorch's ``accuracy_rate``). Ties go
to the lowest class index, so an all-silent output counts as class 0.
"""

import keras
from keras import ops

from keras_spiking.losses import _check_sequence, labels_of


@keras.saving.register_keras_serializable(package="keras_spiking")
def rate_accuracy(y_true, y_pred):
    """1.0 per sample whose largest spike count is the labelled class, else 0.0."""
    y_pred = _check_sequence("rate_accuracy", y_pred)
    predicted = ops.argmax(ops.sum(y_pred, axis=1), axis=-1)
    labels = labels_of(y_true, "rate_accuracy")
    return ops.cast(ops.equal(ops.cast(predicted, "int32"), labels), "float32")


@keras.saving.register_keras_serializable(package="keras_spiking")
class RateAccuracy(keras.metrics.MeanMetricWrapper):
    """Fraction of samples whose largest spike count is the labelled class.

    Use as ``model.compile(metrics=[keras_spiking.metrics.RateAccuracy()])``.
    """

    def __init__(self, name="rate_accuracy", dtype=None):
        super().__init__(fn=rate_accuracy, name=name, dtype=dtype)
        self._direction = "up"

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
