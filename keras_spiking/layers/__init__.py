"""Keras layers of keras_spiking, one family per module.

base.py      TimeStateLayer: base of layers that scan state over time
rate.py      LIFRate, SoftLIF: rate activations for training with fit
"""

from keras_spiking.layers.rate import LIFRate, SoftLIF
from keras_spiking.layers.base import TimeStateLayer
from keras_spiking.layers.spike_time import SpikeTimeDense
