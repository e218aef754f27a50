"""LIF rate functions as ``activation=`` callables, with the layers' defaults
(input current offset by the threshold, 1, so that firing starts at 0).

    keras.layers.Dense(128, activation=keras_spiking.activations.soft_lif)

For other parameters use the layers (``keras_spiking.layers.SoftLIF(...)``).
"""

import keras

from keras_spiking.layers.rate import DEFAULT_AMPLITUDE
from keras_spiking.neurons import lif_rate, soft_lif_rate


@keras.saving.register_keras_serializable(package="keras_spiking")
def soft_lif(x):
    """``soft_lif_rate`` with the ``SoftLIF`` layer's defaults."""
    return soft_lif_rate(x + 1.0, amplitude=DEFAULT_AMPLITUDE, sigma=0.05)


@keras.saving.register_keras_serializable(package="keras_spiking")
def lif(x):
    """``lif_rate`` with the ``LIFRate`` layer's defaults."""
    return lif_rate(x + 1.0, amplitude=DEFAULT_AMPLITUDE)
