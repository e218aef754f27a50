"""Keras layers of keras_spiking, one family per module.

rate.py      LIFRate, SoftLIF: rate activations for training with fit
"""

from keras_spiking.layers.rate import LIFRate, SoftLIF
