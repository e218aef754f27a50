"""Keras layers of keras_spiking, one family per module.

base.py      TimeStateLayer: base of layers that scan state over time
rate.py      LIFRate, SoftLIF: rate activations for training with fit
spiking.py   SpikingLIF, SpikingIF, SpikingActivation: spiking neurons (Nengo LIF, spiking ReLU, any activation)
filters.py   Lowpass, Alpha: synaptic filters, exact zero-order hold
time.py      TimeFold, RepeatTime: stateless layers over time, static inputs over time
pooling.py   SpikeMaxPool: max pooling that keeps spike trains spikes
leaky.py     Leaky, Synaptic, RLeaky, RSynaptic, IF: surrogate-gradient LIF (snnTorch)
spike_time.py  SpikeTimeDense: exact time-to-first-spike layer (fast & deep)
continuous.py  ContinuousLIF: NIR's continuous-time neurons (LIF, IF, LI, CubaLIF, ...)
"""

from keras_spiking.layers.rate import LIFRate, SoftLIF
from keras_spiking.layers.base import TimeStateLayer
from keras_spiking.layers.spiking import SpikingActivation, SpikingIF, SpikingLIF
from keras_spiking.layers.filters import Alpha, Lowpass
from keras_spiking.layers.time import RepeatTime, TimeFold
from keras_spiking.layers.pooling import SpikeMaxPool
from keras_spiking.layers.spike_time import SpikeTimeDense
from keras_spiking.layers.leaky import IF, Leaky, RLeaky, RSynaptic, Synaptic
from keras_spiking.layers.continuous import ContinuousLIF

__all__ = [
    "Alpha",
    "ContinuousLIF",
    "IF",
    "LIFRate",
    "Leaky",
    "Lowpass",
    "RLeaky",
    "RSynaptic",
    "RepeatTime",
    "SoftLIF",
    "SpikeMaxPool",
    "SpikeTimeDense",
    "SpikingActivation",
    "SpikingIF",
    "SpikingLIF",
    "Synaptic",
    "TimeFold",
    "TimeStateLayer",
]
