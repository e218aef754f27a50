"""``QuantizedReLU``: the clipped, quantised ReLU that converts to IF neurons at low latency.

Quantisation-clip-floor-shift (QCFS, Bu et al., ICLR 2022): train the ANN with

    y = theta * floor(clip(x / theta, 0, 1) * L + 1/2) / L

(``L`` levels, threshold ``theta`` learned per layer), whose ``L + 1`` output
values are exactly the mean outputs an IF neuron with threshold ``theta``,
initial voltage ``theta / 2`` and reset by subtraction can produce in ``T = L``
steps of a constant input: the converted network (``keras_spiking.converters``)
is then right at ``T = L`` steps, not only in the limit of many steps.
"""

import keras
from keras import ops

from keras_spiking.layers.base import AttributeConfig
from keras_spiking.validation import check_bool, check_number, check_positive_integer

#: Smallest threshold the learned ``theta`` is clipped to (keeps it positive).
MIN_THRESHOLD = 1e-3


def floor_ste(x):
    """``floor(x)`` forward, gradient 1 (a straight-through estimator)."""
    return x + ops.stop_gradient(ops.floor(x) - x)


def quantized_relu(x, levels=8, threshold=1.0):
    """``threshold * floor(clip(x / threshold, 0, 1) * levels + 1/2) / levels``,
    with a straight-through gradient for the floor (see ``QuantizedReLU``)."""
    u = ops.clip(x / threshold, 0.0, 1.0)
    return threshold * floor_ste(u * levels + 0.5) / levels


@keras.saving.register_keras_serializable(package="keras_spiking")
class QuantizedReLU(AttributeConfig, keras.layers.Layer):
    """Clipped ReLU with ``levels`` output steps and a learned threshold (QCFS).

    ``y = theta * floor(clip(x / theta, 0, 1) * L + 1/2) / L`` elementwise
    (``L = levels``; ``y`` takes the values ``0, theta / L, ..., theta``).
    The floor's gradient is taken as 1 (straight through), so ``fit`` trains
    through it: ``dy/dx = 1`` for ``0 < x < theta`` (else 0) and ``dy/dtheta =
    y / theta - x / theta`` inside, 1 above ``theta``. ``theta`` is one scalar
    per layer, clipped to at least ``1e-3`` so that it stays positive.

    The converter maps it onto ``SpikingIF`` neurons with threshold ``theta``
    (a spike is worth ``theta``), initial voltage ``theta / 2`` and reset by
    subtraction, without a synapse; with ``timesteps = L`` a layer is then
    exact for constant input (Bu et al., ICLR 2022; their default ``L = 8``,
    ``theta`` starting at 8).

    Args:
        levels: number of quantisation steps ``L`` (integer >= 1).
        threshold: the initial (or fixed) clip value ``theta`` (> 0).
        learn_threshold: train ``theta`` (a trainable scalar weight).

    Also an ``activation=`` argument: ``Dense(128, activation=QuantizedReLU(8,
    threshold=2.0, learn_threshold=False))``. Keras does not track an
    activation's weights, so there the threshold stays at its initial value;
    use the layer after a linear ``Dense`` to learn it.
    """

    def __init__(self, levels=8, threshold=1.0, learn_threshold=True, **kwargs):
        super().__init__(**kwargs)
        self.levels = check_positive_integer(self.name, "levels", levels)
        self.threshold = float(check_number(self.name, "threshold", threshold, low=0,
                                            low_open=True))
        self.learn_threshold = check_bool(self.name, "learn_threshold", learn_threshold)
        self.threshold_variable = None

    def build(self, input_shape):
        if self.learn_threshold:
            self.threshold_variable = self.add_weight(
                shape=(), initializer=keras.initializers.Constant(self.threshold),
                trainable=True, name="threshold")
        super().build(input_shape)

    def threshold_value(self, dtype=None):
        """``theta``: the learned value (clipped to ``>= 1e-3``) or the fixed one;
        a Python float when ``dtype`` is None."""
        if self.threshold_variable is None:
            return self.threshold
        if dtype is None:
            value = float(keras.ops.convert_to_numpy(self.threshold_variable))
            return max(value, MIN_THRESHOLD)
        return ops.maximum(ops.cast(self.threshold_variable, dtype), MIN_THRESHOLD)

    def call(self, inputs):
        theta = self.threshold_value(inputs.dtype)
        return quantized_relu(inputs, self.levels, theta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        if self.built and self.threshold_variable is not None:
            config["threshold"] = self.threshold_value()  # the learned value
        return config

    config_attributes = ("levels", "threshold", "learn_threshold")
