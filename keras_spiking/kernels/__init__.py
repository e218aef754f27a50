"""Fused kernels: C++ TensorFlow ops for a neuron's whole time loop and for a
convolution over spikes (whose gradients JAX also runs, as XLA FFI handlers), and
a cheaper max-pooling gradient for JAX.

``threshold_scan``: first-order threshold neurons (Leaky, IF, spiking IF
without refractory period) and the first-order Lowpass filter, forward and
backward. ``event_conv``: ``Conv2D`` over sparse (spiking) inputs, forward
pass and both gradients with work per nonzero value (``TimeFold`` uses it; the
C++ passes are in ``event_conv.h``, wrapped for TensorFlow by ``event_conv.cc``
and for JAX by ``event_conv_xla.cc``).
``build`` compiles the C++ sources here on first use and caches the libraries.
``window_max`` (JAX, ``keras.ops``): non-overlapping max pooling whose gradient
keeps a boolean mask of the winners (``TimeFold`` uses it). Every kernel is a
faster way to compute what the layers compute anyway: with the kernels off
(``keras_spiking.default.fused_kernels = False``), under XLA or on a GPU the
neurons run the same update as a ``keras.ops`` loop (one face of
``keras_spiking.neurons``) and the convolution and pooling are Keras's own.
"""
