"""keras_spiking: spiking neural networks in Keras 3.

Train with LIF rates, convert to spikes (``keras_spiking.converters``), train
spiking layers with surrogate gradients, learn exact spike times, export to NIR.
"""

from keras_spiking import activations, datasets, layers, neurons
from keras_spiking.neurons import lif_rate, soft_lif_rate

__version__ = "1.0.0.dev0"
from keras_spiking import spike_time
from keras_spiking.spike_time_training import (
    FirstSpikeAccuracy,
    SpikeTimeCrossEntropy,
    SpikeTimeEmulator,
    WeightBumping,
    use_forward_fn,
)
