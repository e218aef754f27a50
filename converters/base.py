"""What conversion rules are made of: ``Rule``, ``Signal``, ``NeuronSource``,
the rule registry (``register``, ``rule_for``) and ``ConversionError``.

This module imports nothing from the other converter modules: rules.py builds
on it, convert.py builds on both.
"""

import dataclasses


class ConversionError(ValueError):
    """A layer or option the converter cannot turn into a spiking equivalent."""


_RULES = {}


def register(layer_class, rule=None):
    """Register ``rule`` (a ``Rule`` subclass or instance) for ``layer_class``.

    Usable as a decorator: ``@register(MyLayer) class MyRule(Rule): ...``.
    The class must match exactly (a subclass of ``Dense`` may compute
    something else, so it needs its own rule). A later registration replaces an
    earlier one, so users can override built-in rules.
    """
    if not isinstance(layer_class, type):
        raise TypeError(f"register: layer_class must be a class, got {layer_class!r}.")

    def add(rule):
        instance = rule() if isinstance(rule, type) else rule
        if not callable(getattr(instance, "convert", None)):
            raise TypeError(
                f"register: the rule for {layer_class.__name__} must define "
                f"convert(layer, inputs, converter); got {rule!r}."
            )
        _RULES[layer_class] = instance
        return rule

    return add if rule is None else add(rule)


def rule_for(layer):
    """The registered rule for ``layer``'s exact class, or None."""
    return _RULES.get(type(layer))


def registered_classes():
    """The layer classes that have a rule."""
    return list(_RULES)


class Rule:
    """Base of a conversion rule for one Keras layer family.

    ``unsupported`` maps config keys to the only value the rule accepts (or a
    predicate ``value -> bool``); ``check`` raises a ``ConversionError`` naming
    the argument when a layer uses anything else. ``convert(layer, inputs,
    converter)`` receives ``Signal``s and returns a ``Signal`` (or a list).
    """

    unsupported = {}

    def check(self, layer, converter):
        """Raise ``converter.error(...)`` for an argument listed in ``unsupported``."""
        config = layer.get_config()
        for key, accepted in self.unsupported.items():
            if key not in config:
                continue
            value = config[key]
            ok = accepted(value) if callable(accepted) else value == accepted
            if not ok:
                raise converter.error(
                    layer,
                    f"its argument {key}={value!r} is not supported (only "
                    f"{getattr(accepted, '__doc__', None) or repr(accepted)})",
                    "change the argument, or register your own rule with "
                    "keras_spiking.converters.register",
                )

    def convert(self, layer, inputs, converter):
        """Rebuild ``layer`` from ``inputs`` (Signals) with ``converter``'s helpers."""
        raise NotImplementedError

    def takes_channel_scale(self, layer, signal):
        """True if ``convert`` applies an input's pending per-channel factors
        (``Signal.channel_scale``) itself; otherwise the converter applies them
        with a ``Rescaling`` before calling it."""
        return False


@dataclasses.dataclass(frozen=True)
class Signal:
    """A tensor of the converted graph; ``timed`` when it has a time axis.

    ``linear`` is the copied Dense/Conv layer whose (linear) output this is,
    while a following BatchNormalization may still be folded into it.
    ``spikes`` is the neuron output before the synapse, when ``tensor`` is a
    spiking neuron site's synapse output (``max_pool="spike"`` pools it).
    ``producer`` is the copied Dense/Conv layer whose output this is (a folded
    BatchNormalization included) when nothing else uses that output: a
    neuron site may fold its channel factors into it (``channel_norm``).
    ``channel_scale`` holds per-channel (last axis) factors that ``tensor``
    still has to be multiplied by, pending: the next Dense/Conv folds them
    into its kernel, any other layer gets them through a ``Rescaling``
    (``Rule.takes_channel_scale``); ``site`` names the neuron site they come from.
    """

    tensor: object
    timed: bool
    linear: object = None
    spikes: object = None
    producer: object = None
    channel_scale: object = None
    site: str = None


@dataclasses.dataclass(frozen=True)
class NeuronSource:
    """An activation of the original model that becomes a spiking neuron.

    ``family`` is ``"relu"`` or ``"lif"``; ``params`` holds the LIF parameters
    (``tau_rc``, ``tau_ref``, ``threshold``, ``amplitude``, ``sigma``; sigma is
    None for the exact rate) and is empty for ReLU. ``key`` is the name used by
    ``swap_activations``.
    """

    family: str
    key: str
    params: tuple = ()

    @property
    def kwargs(self):
        """``params`` as a dict."""
        return dict(self.params)
