"""Fused kernels: C++ TensorFlow ops that run a neuron's whole time loop at once.

``threshold_scan``: first-order threshold neurons (Leaky, IF, spiking IF
without refractory period) and the first-order Lowpass filter, forward and
backward. ``build`` compiles the
sources here on first use and caches the libraries. Every kernel is a faster
way to compute one face of ``keras_spiking.neurons``: with the kernels off
(``keras_spiking.default.fused_kernels = False``), on JAX, under XLA or on a
GPU the layers run the same update as a ``keras.ops`` loop.
"""
