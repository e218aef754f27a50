"""Fused kernels: C++ TensorFlow ops for a neuron's whole time loop and for a
convolution over spikes, and a cheaper max-pooling gradient for JAX.

``threshold_scan``: first-order threshold neurons (Leaky, IF, spiking IF
without refractory period) and the first-order Lowpass filter, forward and
backward. ``event_conv``: ``Conv2D`` over sparse (spiking) inputs, forward
pass and filter gradient with work per nonzero input (``TimeFold`` uses it).
``build`` compiles the C++ sources here on first use and caches the libraries.
``window_max`` (JAX, ``keras.ops``): non-overlapping max pooling whose gradient
keeps a boolean mask of the winners (``TimeFold`` uses it). Every kernel is a
faster way to compute what the layers compute anyway: with the kernels off
(``keras_spiking.default.fused_kernels = False``), under XLA or on a GPU the
neurons run the same update as a ``keras.ops`` loop (one face of
``keras_spiking.neurons``) and the convolution and pooling are Keras's own.
"""
