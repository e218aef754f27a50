"""Rate-based LIF activation layers, trained with a plain ``model.fit``.

A LIF neuron driven by a constant current ``j`` fires at ``lif_rate(j)``; using
that rate as the activation function trains a network whose neurons can later
be swapped for spiking ones (``keras_spiking.converters``). The rate has an
infinite slope at threshold, so training uses the smoothed ``soft_lif_rate``
(Hunsberger & Eliasmith 2015) and the exact rate is kept for evaluation.

Scaling: the input ``x`` drives the neuron with current ``j = x + offset``,
and ``offset`` defaults to ``threshold``, so that, like ReLU, a neuron is
silent for ``x <= 0`` and fires for ``x > 0`` (a freshly initialised layer has
half its neurons active instead of almost none). With the defaults
(``tau_rc=0.02 s``, ``tau_ref=0.002 s``, ``threshold=1``) a neuron at ``x = 1``
fires at about 63 Hz and saturates at ``1 / tau_ref = 500 Hz``; ``amplitude``
(default ``1/63``) scales the output so that activations are of order one, like
ReLU's. Both keep an all-LIF network about as easy to train as a ReLU one.
"""

import warnings

import keras

from keras_spiking.layers.base import AttributeConfig, checked_inputs
from keras_spiking.neurons import soft_lif_rate
from keras_spiking.validation import RefusesText, check_number

#: Output scale that makes a neuron at ``j = 2 * threshold`` output about 1.
DEFAULT_AMPLITUDE = 1.0 / 63.0


def check_lif_parameters(owner, tau_rc, tau_ref, threshold, amplitude):
    """Validate the LIF parameters shared by every LIF face."""
    check_number(owner, "tau_rc", tau_rc, low=0, low_open=True)
    check_number(owner, "tau_ref", tau_ref, low=0)
    check_number(owner, "threshold", threshold, low=0, low_open=True)
    check_number(owner, "amplitude", amplitude, low=0, low_open=True)


def resolve_offset(owner, offset, threshold):
    """The input current offset: ``threshold`` when None, else a finite number."""
    if offset is None:
        return float(threshold)
    return float(check_number(owner, "offset", offset))


@keras.saving.register_keras_serializable(package="keras_spiking")
class LIFRate(RefusesText, AttributeConfig, keras.layers.Layer):
    """Activation layer: the exact steady-state LIF firing rate.

    ``y = amplitude * lif_rate(j)`` elementwise, with input current
    ``j = x + offset``: ``amplitude / (tau_ref + tau_rc * log1p(threshold /
    (j - threshold)))`` for ``j > threshold``, else 0. Currents are
    dimensionless, in the units of ``threshold``.

    Args:
        tau_rc: membrane time constant, seconds (> 0).
        tau_ref: refractory period, seconds (>= 0).
        threshold: input current at which the neuron starts to fire (> 0).
        amplitude: output scale per Hz (> 0); the output is ``amplitude`` times
            the rate in Hz.
        offset: constant current added to the input; None (default) means
            ``threshold``, so that firing starts at ``x = 0`` as ReLU's does.
            ``offset=0`` makes the input the current itself (Nengo's convention).
        gradient_sigma: None (default) differentiates the exact rate, whose
            slope is infinite at threshold; a width (> 0, in units of input
            current) keeps the exact rate in the forward pass but
            backpropagates ``SoftLIF(sigma=gradient_sigma)``'s derivative, so
            the layer trains with ``fit`` while computing exactly the rate a
            spiking LIF neuron fires at (no soft-to-exact gap on conversion).

    Example::

        model = keras.Sequential([
            keras.Input((784,)),
            keras.layers.Dense(128),
            keras_spiking.layers.SoftLIF(),   # train with the smooth rate
            keras.layers.Dense(10),
        ])
    """

    def __init__(self, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=DEFAULT_AMPLITUDE,
            offset=None, gradient_sigma=None, **kwargs):
        super().__init__(**kwargs)
        check_lif_parameters(self.name, tau_rc, tau_ref, threshold, amplitude)
        if gradient_sigma is not None:
            check_number(self.name, "gradient_sigma", gradient_sigma, low=0, low_open=True)
            gradient_sigma = float(gradient_sigma)
        self.gradient_sigma = gradient_sigma
        self.tau_rc = float(tau_rc)
        self.tau_ref = float(tau_ref)
        self.threshold = float(threshold)
        self.amplitude = float(amplitude)
        self.offset = resolve_offset(self.name, offset, threshold)
        self.supports_masking = True

    def rate(self, inputs):
        """The steady-state rate function used by ``call`` (and the converter)."""
        return self.lif_rate(inputs, sigma=self.gradient_sigma or 0.0, exact_forward=True)

    def lif_rate(self, inputs, **smoothing):
        """``soft_lif_rate`` of ``inputs + offset`` with this layer's parameters."""
        return soft_lif_rate(
            inputs + self.offset, self.tau_rc, self.tau_ref, self.threshold, self.amplitude,
            **smoothing,
        )

    def call(self, inputs):
        return self.rate(checked_inputs(self, inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    config_attributes = ("tau_rc", "tau_ref", "threshold", "amplitude", "offset", "gradient_sigma")


@keras.saving.register_keras_serializable(package="keras_spiking")
class SoftLIF(LIFRate):
    """Activation layer: the smoothed LIF rate, for training.

    Like ``LIFRate`` with ``max(x - threshold, 0)`` replaced by
    ``sigma * softplus((x - threshold) / sigma)``: the slope at threshold is
    finite, so gradients do not explode. ``sigma -> 0`` recovers ``LIFRate``.

    Args:
        sigma: smoothing width, in units of input current (>= 0).
        (the other arguments as ``LIFRate``)
    """

    def __init__(self, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=DEFAULT_AMPLITUDE,
            offset=None, sigma=0.05, **kwargs):
        super().__init__(tau_rc, tau_ref, threshold, amplitude, offset, **kwargs)
        check_number(self.name, "sigma", sigma, low=0)
        self.sigma = float(sigma)

    def rate(self, inputs):
        return self.lif_rate(inputs, sigma=self.sigma)

    def get_config(self):
        config = super().get_config()
        del config["gradient_sigma"]  # the forward pass itself is smooth
        config["sigma"] = self.sigma
        return config


def with_exact_rates(model, gradient_sigma=None):
    """A copy of ``model`` (same weights) with every ``SoftLIF`` as ``LIFRate``.

    The copy computes the exact rates that spiking LIF neurons fire at, so its
    accuracy is what a converted network approaches as T grows. Each new
    ``LIFRate`` backpropagates the soft-LIF derivative (``gradient_sigma``;
    None keeps each layer's ``sigma``), so the copy can be fine-tuned with
    ``fit`` to close the gap between the soft rates it was trained with and
    the exact ones. Activation functions (``activations.soft_lif``) are kept.
    """

    if not isinstance(model, keras.Model):
        raise TypeError(f"with_exact_rates: expected a keras.Model, got {type(model).__name__}.")
    if gradient_sigma is not None:
        check_number("with_exact_rates", "gradient_sigma", gradient_sigma, low=0, low_open=True)
    swapped = []

    def clone(layer):
        if not isinstance(layer, SoftLIF):
            return layer.__class__.from_config(layer.get_config())
        config = layer.get_config()
        sigma = config.pop("sigma")
        config["gradient_sigma"] = (gradient_sigma or sigma) or None
        swapped.append(layer.name)
        return LIFRate.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone, recursive=True)
    copy.set_weights(model.get_weights())
    if not swapped:
        warnings.warn(
            f"with_exact_rates: '{model.name}' has no SoftLIF layer, so the copy computes "
            "what the model does (soft_lif activation functions are not swapped; use "
            "SoftLIF layers to fine-tune on exact rates).", stacklevel=2)
    return copy
