"""Keras layers of keras_spiking, one family per module.

base.py      TimeStateLayer: base of layers that scan state over time
rate.py      LIFRate, SoftLIF: rate activations for training with fit
quantized.py QuantizedReLU: clipped, quantised ReLU (QCFS) for low-latency conversion
spiking.py   SpikingLIF, SpikingIF, SpikingActivation: spiking neurons (Nengo LIF, spiking ReLU, any activation)
filters.py   Lowpass, Alpha: synaptic filters, exact zero-order hold
time.py      TimeFold, RepeatTime, RunningMean: stateless layers over time, static inputs over time, the readout
pooling.py   SpikeMaxPool: max pooling that keeps spike trains spikes
leaky.py     Leaky, Synaptic, RLeaky, RSynaptic, IF: surrogate-gradient LIF (snnTorch)
spike_time.py  SpikeTimeDense: exact time-to-first-spike layer (fast & deep)
continuous.py  ContinuousLIF: NIR's continuous-time neurons (LIF, IF, LI, CubaLIF, ...)
cells.py     SpikingActivationCell, LowpassCell, AlphaCell: one step of those layers, for keras.layers.RNN

KerasSpiking's base-class names are aliases of ours, for ``isinstance`` checks
and the arguments they share: ``KerasSpikingLayer`` is ``TimeStateLayer``
(``return_sequences``, ``return_state``, ``stateful``, ``unroll``,
``time_major``, ``reset_states(states)``) and ``KerasSpikingCell`` is
``DynamicsCell`` (``size``; ``get_initial_state(inputs, batch_size, dtype)``).
Subclassing differs: a layer defines ``state_names`` and ``step`` (or
``dynamics``), not KerasSpiking's ``build_cell``; a cell sets ``self.layer``,
not ``call_training`` / ``call_inference``.
"""

from keras_spiking.layers.rate import LIFRate, SoftLIF
from keras_spiking.layers.quantized import QuantizedReLU
from keras_spiking.layers.base import TimeStateLayer
from keras_spiking.layers.spiking import SpikingActivation, SpikingIF, SpikingLIF
from keras_spiking.layers.filters import Alpha, Lowpass
from keras_spiking.layers.time import RepeatTime, RunningMean, TimeFold
from keras_spiking.layers.pooling import SpikeMaxPool
from keras_spiking.layers.spike_time import SpikeTimeDense
from keras_spiking.layers.leaky import IF, Leaky, RLeaky, RSynaptic, Synaptic
from keras_spiking.layers.continuous import ContinuousLIF
from keras_spiking.layers.cells import AlphaCell, DynamicsCell, LowpassCell, SpikingActivationCell

#: KerasSpiking's name of the base layer (see the module docstring).
KerasSpikingLayer = TimeStateLayer
#: KerasSpiking's name of the base cell (see the module docstring).
KerasSpikingCell = DynamicsCell

__all__ = [
    "Alpha",
    "AlphaCell",
    "ContinuousLIF",
    "DynamicsCell",
    "IF",
    "KerasSpikingCell",
    "KerasSpikingLayer",
    "LIFRate",
    "Leaky",
    "Lowpass",
    "QuantizedReLU",
    "LowpassCell",
    "RLeaky",
    "RSynaptic",
    "RepeatTime",
    "RunningMean",
    "SoftLIF",
    "SpikeMaxPool",
    "SpikeTimeDense",
    "SpikingActivation",
    "SpikingActivationCell",
    "SpikingIF",
    "SpikingLIF",
    "Synaptic",
    "TimeFold",
    "TimeStateLayer",
]
