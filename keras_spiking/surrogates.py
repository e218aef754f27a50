"""Spike functions with surrogate gradients (Neftci, Mostafa & Zenke 2019).

A spiking neuron emits ``s = H(x)`` with ``x = v - threshold`` and ``H`` the
Heaviside step (1 where ``x > 0``, else 0). ``H`` has a zero derivative almost
everywhere, so backpropagation through time learns nothing. A *surrogate*
keeps the exact step in the forward pass and uses the derivative of a smooth
function in the backward pass:

    forward:   s = H(x)             backward:   ds/dx := g'(x)

Every surrogate here is a small serializable object: call it on ``x`` to get
spikes, read its ``derivative(x)``, pass it (or its name, or its config) to a
neuron layer's ``surrogate=`` argument, save it in a ``.keras`` file.

==================================  ==========================================  ==========================
surrogate                           ``derivative(x)``                           smooth function ``g(x)``
==================================  ==========================================  ==========================
``fast_sigmoid(slope=25)``          ``1 / (1 + slope |x|)^2``                   ``x / (1 + slope |x|)``
``atan(alpha=2)``                   ``(alpha/2) / (1 + (pi alpha x / 2)^2)``    ``atan(pi alpha x/2) / pi``
``sigmoid(slope=25)``               ``slope sig(slope x) (1 - sig(slope x))``   ``sig(slope x)``
``triangular(width=1)``             ``max(0, 1 - |x|/width) / width``           piecewise quadratic
``straight_through()``              ``1``                                       ``x``
``spike_rate_escape(beta=1,         ``slope exp(-beta |x|)``                    ``sign(x) slope/beta
slope=25)``                                                                     (1 - exp(-beta |x|))``
==================================  ==========================================  ==========================

``fast_sigmoid``, ``atan``, ``sigmoid`` and ``straight_through`` have exactly
snnTorch 1.0's backward pass; ``atan`` is snnTorch's default. Two differ from
snnTorch on purpose: snnTorch's ``triangular`` returns the constant
``+-threshold`` (no triangle), and its ``spike_rate_escape`` is centred at
``x = 1`` (one unit above threshold) instead of at the threshold.

Any callable ``f(x) -> spikes`` works as a surrogate too (for instance a
function built with ``keras.ops.custom_gradient``); register it with
``keras.saving.register_keras_serializable`` to save models that use it. The
easiest custom surrogate is a subclass of ``Surrogate`` that defines
``derivative``.

Implementation: ``keras.ops.custom_gradient`` around ``H(x)``. On TensorFlow it
is faster than the straight-through form ``g(x) + stop_gradient(H(x) - g(x))``
(benchmarks/surrogate_forms.py measures both) and it needs no antiderivative.
"""

import math

import keras
from keras import ops

from keras_spiking.neurons import heaviside
from keras_spiking.validation import check_number


def spike_with_derivative(x, derivative):
    """``H(x)`` forward; ``upstream * derivative(x)`` backward.

    ``derivative`` maps a tensor to a tensor of the same shape, or is None for
    the identity (straight-through); it must not use Keras Variables (pass
    anything learnable in through ``x``).
    """

    @ops.custom_gradient
    def spike(x):
        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            if derivative is None:
                return upstream
            return upstream * derivative(x)

        return heaviside(x), grad

    return spike(x)


class Surrogate:
    """Base class: Heaviside forward pass, ``derivative`` in the backward pass.

    Subclasses define ``derivative(x)`` (pure ``keras.ops``, parameters as
    Python floats) and list their constructor arguments in ``get_config``.
    Calling the object on ``x = v - threshold`` returns 0/1 spikes in
    ``x``'s dtype.
    """

    def __call__(self, x):
        return spike_with_derivative(x, self.derivative)

    def derivative(self, x):
        raise NotImplementedError

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


def _positive(owner, name, value):
    return float(check_number(owner, name, value, low=0, low_open=True))


@keras.saving.register_keras_serializable(package="keras_spiking")
class FastSigmoid(Surrogate):
    """SuperSpike's fast sigmoid (Zenke & Ganguli 2018), snnTorch's ``fast_sigmoid``.

    ``ds/dx = 1 / (1 + slope |x|)^2``: 1 at threshold, half-width
    ``(sqrt(2) - 1) / slope``.

    Args:
        slope: steepness ``k`` (> 0, per unit of ``v - threshold``).
    """

    def __init__(self, slope=25.0):
        self.slope = _positive("FastSigmoid", "slope", slope)

    def derivative(self, x):
        return 1.0 / ops.square(self.slope * ops.abs(x) + 1.0)

    def get_config(self):
        return {"slope": self.slope}


@keras.saving.register_keras_serializable(package="keras_spiking")
class ATan(Surrogate):
    """Arctangent surrogate (Fang et al. 2021), snnTorch's default ``atan``.

    ``ds/dx = (alpha / 2) / (1 + (pi alpha x / 2)^2)``, the derivative of
    ``atan(pi alpha x / 2) / pi``: ``alpha / 2`` at threshold, unit area.

    Args:
        alpha: steepness (> 0).
    """

    def __init__(self, alpha=2.0):
        self.alpha = _positive("ATan", "alpha", alpha)

    def derivative(self, x):
        half = 0.5 * self.alpha
        return half / (1.0 + ops.square(math.pi * half * x))

    def get_config(self):
        return {"alpha": self.alpha}


@keras.saving.register_keras_serializable(package="keras_spiking")
class Sigmoid(Surrogate):
    """Logistic sigmoid surrogate, snnTorch's ``sigmoid``.

    ``ds/dx = slope * sig(slope x) * (1 - sig(slope x))``: ``slope / 4`` at
    threshold, unit area.

    Args:
        slope: steepness ``k`` (> 0).
    """

    def __init__(self, slope=25.0):
        self.slope = _positive("Sigmoid", "slope", slope)

    def derivative(self, x):
        z = self.slope * x  # sig(z) * sig(-z) avoids 1 - sig(z) cancelling
        return self.slope * ops.sigmoid(z) * ops.sigmoid(-z)

    def get_config(self):
        return {"slope": self.slope}


@keras.saving.register_keras_serializable(package="keras_spiking")
class Triangular(Surrogate):
    """Triangular surrogate (Bellec et al. 2018; Esser et al. 2016).

    ``ds/dx = max(0, 1 - |x| / width) / width``: a triangle of unit area, zero
    farther than ``width`` from threshold. (snnTorch's ``triangular`` is a
    different function: the constant ``+-threshold``.)

    Args:
        width: half-width of the triangle (> 0, units of ``v - threshold``).
    """

    def __init__(self, width=1.0):
        self.width = _positive("Triangular", "width", width)

    def derivative(self, x):
        return ops.relu(1.0 - ops.abs(x) / self.width) / self.width

    def get_config(self):
        return {"width": self.width}


@keras.saving.register_keras_serializable(package="keras_spiking")
class StraightThrough(Surrogate):
    """Straight-through estimator (Bengio et al. 2013): ``ds/dx = 1``."""

    def derivative(self, x):
        return ops.ones_like(x)

    def __call__(self, x):
        return spike_with_derivative(x, None)  # no multiply by ones


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikeRateEscape(Surrogate):
    """Escape-rate surrogate (Gerstner & Kistler 2002), centred at threshold.

    ``ds/dx = slope * exp(-beta |x|)``. (snnTorch's ``spike_rate_escape``
    uses ``exp(-beta |x - 1|)``, centred one unit above threshold.)

    Args:
        beta: inverse width (> 0, per unit of ``v - threshold``).
        slope: height at threshold (> 0).
    """

    def __init__(self, beta=1.0, slope=25.0):
        self.beta = _positive("SpikeRateEscape", "beta", beta)
        self.slope = _positive("SpikeRateEscape", "slope", slope)

    def derivative(self, x):
        return self.slope * ops.exp(-self.beta * ops.abs(x))

    def get_config(self):
        return {"beta": self.beta, "slope": self.slope}


@keras.saving.register_keras_serializable(package="keras_spiking")
class Custom(Surrogate):
    """A surrogate from a derivative function: ``Custom(lambda x: ...)``.

    ``derivative`` maps ``x = v - threshold`` to ``ds/dx`` in ``keras.ops``.
    To save models that use it, make it a named function registered with
    ``keras.saving.register_keras_serializable``.
    """

    def __init__(self, derivative):
        if not callable(derivative):
            raise TypeError(
                f"Custom: derivative must be a callable x -> ds/dx, got {derivative!r}."
            )
        self._derivative = derivative

    def derivative(self, x):
        return self._derivative(x)

    def get_config(self):
        return {"derivative": keras.saving.serialize_keras_object(self._derivative)}

    @classmethod
    def from_config(cls, config):
        return cls(keras.saving.deserialize_keras_object(config["derivative"]))

    def __hash__(self):
        return hash((Custom, self._derivative))


# snnTorch-style lower-case names
fast_sigmoid = FastSigmoid
atan = ATan
sigmoid = Sigmoid
triangular = Triangular
straight_through = StraightThrough
spike_rate_escape = SpikeRateEscape

#: names accepted by ``get`` (and by the layers' ``surrogate=``)
SURROGATES = {
    "fast_sigmoid": FastSigmoid,
    "atan": ATan,
    "sigmoid": Sigmoid,
    "triangular": Triangular,
    "straight_through": StraightThrough,
    "spike_rate_escape": SpikeRateEscape,
}
_BY_CLASS_NAME = {cls.__name__: cls for cls in SURROGATES.values()}
_BY_CLASS_NAME["Custom"] = Custom


def get(identifier, owner="surrogates.get"):
    """A surrogate from a name, a config dict, a ``Surrogate`` or a callable.

    ``get("fast_sigmoid")``; ``get({"class_name": "FastSigmoid", "config":
    {"slope": 10}})``; a ``Surrogate`` or any callable ``x -> spikes`` is
    returned unchanged.
    """
    if isinstance(identifier, str):
        if identifier in SURROGATES:
            return SURROGATES[identifier]()
        if identifier in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[identifier]()
        raise ValueError(
            f"{owner}: surrogate must be one of {tuple(SURROGATES)}, a Surrogate "
            f"object or a callable x -> spikes, got {identifier!r}."
        )
    if isinstance(identifier, dict):
        ours = identifier.get("registered_name", "keras_spiking>").startswith("keras_spiking>")
        cls = _BY_CLASS_NAME.get(identifier.get("class_name")) if ours else None
        if cls is not None:
            return cls.from_config(identifier.get("config") or {})
        try:
            obj = keras.saving.deserialize_keras_object(identifier)
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"{owner}: cannot deserialize surrogate {identifier!r} ({error}). "
                "Register custom surrogates with "
                "keras.saving.register_keras_serializable."
            ) from error
        return get(obj, owner)
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{owner}: surrogate must be a name in {tuple(SURROGATES)}, a config dict, "
        f"a Surrogate object or a callable x -> spikes, got {identifier!r}."
    )


def serialize(surrogate):
    """Config for ``get``: the ``keras.saving`` form, also for user callables."""
    return keras.saving.serialize_keras_object(surrogate)
