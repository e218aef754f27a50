"""The converter: rewrite a trained Keras model into a time-stepped spiking one.

``convert(model, ...)`` walks the Keras graph (Functional or Sequential, nested
models inlined) in topological order and asks a *rule* for each layer how to
rebuild it in the new graph. Rules live in ``rules.py``, one per layer family,
in a registry that users extend with ``register``. The result is an ordinary
Keras model of package layers mapping ``(batch, time, *input_shape)`` to
``(batch, time, *output_shape)``:

* stateless layers (Dense, Conv, pooling, ...) act on all timesteps in one
  call (``TimeFold``), with BatchNormalization folded into the layer before it;
* every activation becomes a spiking neuron (ReLU -> ``SpikingIF`` with reset
  by subtraction, ``SoftLIF``/``LIFRate`` -> ``SpikingLIF``), optionally
  followed by a synapse (``Lowpass``/``Alpha``);
* linear outputs stay linear: the readout.

Firing-rate scaling (per neuron layer, ``k``) multiplies a neuron's firing rate
by ``k`` and divides the value of each spike by ``k``, so its *mean output is
unchanged*. For IF (homogeneous) this is NengoDL's "input x k, output / k";
for LIF, which is not homogeneous, the time constants are divided by ``k``,
which is exact where input scaling is not. ``k`` comes from
``scale_firing_rates`` and/or from data (``calibration_data``: the chosen
percentile of each layer's rates is mapped to one spike per step, 1/dt Hz).

``mode="rate"`` builds the same graph with every neuron replaced by the rate
activation it approximates (under the same scaling) and no synapses;
``verify`` compares that graph with the original model, which catches wiring
and folding mistakes separately from spiking noise.
"""

import collections
import dataclasses
import math
import numbers
import warnings

import keras
import numpy as np

from keras_spiking.validation import check_choice, check_number

MAX_POOL_MODES = ("error", "avg", "max", "spike")
MODES = ("spike", "rate")
TARGETS = ("if", "lif", "rate")


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
                "convert(layer, inputs, converter); got {rule!r}."
            )
        _RULES[layer_class] = instance
        return rule

    return add if rule is None else add(rule)


def rule_for(layer):
    """The registered rule for ``layer``'s exact class, or None."""
    return _RULES.get(type(layer))


class Rule:
    """Base of a conversion rule for one Keras layer family.

    ``unsupported`` maps config keys to the only value the rule accepts (or a
    predicate ``value -> bool``); ``check`` raises a ``ConversionError`` naming
    the argument when a layer uses anything else. ``convert(layer, inputs,
    converter)`` receives ``Signal``s and returns a ``Signal`` (or a list).
    """

    unsupported = {}

    def check(self, layer, converter):
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
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class Signal:
    """A tensor of the converted graph; ``timed`` when it has a time axis.

    ``linear`` is the copied Dense/Conv layer whose (linear) output this is,
    while a following BatchNormalization may still be folded into it.
    ``spikes`` is the neuron output before the synapse, when ``tensor`` is a
    spiking neuron site's synapse output (``max_pool="spike"`` pools it).
    """

    tensor: object
    timed: bool
    linear: object = None
    spikes: object = None


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
        return dict(self.params)


def _layers():
    # Looked up at conversion time so the package layers can be extended or,
    # in tests, stood in for.
    from keras_spiking import layers

    return layers


def _graph_of(model):
    """The Functional graph of ``model`` (a Functional or a built Sequential)."""
    if isinstance(model, keras.Sequential):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise ConversionError(
                f"Model '{model.name}' (Sequential) has no graph yet: it was never "
                "built on a known input shape. Start it with keras.Input(shape) "
                "or call model.build((None, *input_shape)) before converting."
            )
        return functional
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "inputs"):
        return model
    raise ConversionError(
        f"Model '{model.name}' ({type(model).__name__}) is a subclassed model "
        "without a static graph, which cannot be walked. Rebuild it with the "
        "Functional API or keras.Sequential before converting."
    )


def _activation_key(activation):
    """The swap_activations key of an activation function, class or name."""
    if isinstance(activation, str):
        return activation
    if isinstance(activation, type):
        names = {"SoftLIF": "soft_lif", "LIFRate": "lif", "ReLU": "relu",
                 "LeakyReLU": "leaky_relu"}
        if activation.__name__ in names:
            return names[activation.__name__]
        raise ValueError(
            f"convert: swap_activations key {activation!r} is not an activation "
            "layer class the converter knows (SoftLIF, LIFRate, ReLU, LeakyReLU)."
        )
    if callable(activation):
        return activation.__name__
    raise ValueError(
        f"convert: swap_activations keys must be activation names, functions or "
        f"layer classes, got {activation!r}."
    )


class Converter:
    """Options of a conversion; ``convert``/``verify`` use one of these.

    Args:
        dt: simulation timestep, seconds (> 0).
        synapse: filter applied to every spiking neuron's output: None, a time
            constant tau in seconds (a ``Lowpass``; default 0.005), or a
            ``Lowpass``/``Alpha`` layer whose configuration is copied. A linear
            readout of filtered spikes is the filtered readout.
        scale_firing_rates: None, a float, or a dict {layer name: float}: extra
            factor k on each neuron layer's firing rate (mean output unchanged).
        normalize: when True (default) and ``calibration_data`` is given, each
            neuron layer's ``percentile``-th rate is mapped to 1/dt.
        percentile: percentile of the positive rates used by ``normalize``.
        calibration_data: array of inputs shaped like the model's input
            (without a time axis), e.g. 1000 training images.
        swap_activations: dict {activation (name, function or layer class):
            "if" | "lif" | "rate"}; "rate" keeps the rate activation (not
            spiking). Defaults: relu/leaky_relu -> "if", soft_lif/lif -> "lif".
        max_pool: "error" (default), "avg" (replace by average pooling),
            "max" (max over the synapse-filtered traces of each step; exact in
            rate mode, but the pooled values are not spikes) or "spike"
            (``SpikeMaxPool`` between a neuron and its synapse: spikes of the
            input that has spiked most so far; spikes stay spikes).
        initial_voltage: "zeros", "half" (half the threshold; rounds instead
            of truncating spike counts) or "uniform" (seeded random), for all
            spiking neurons.
        timesteps: number of steps of the converted model's time axis (None:
            any length, scanned with keras.ops.scan; a fixed value unrolls
            short runs and is faster).
        static_input: the model takes ``(batch, *input_shape)`` and repeats it
            over ``timesteps`` steps after the time-invariant layers before the
            first neuron, which are thus computed once.
        stateful: neurons and synapses carry their state across calls (chunked
            long runs; needs ``batch_size``); ``reset_states`` clears it.
        batch_size: fixed batch size of the converted model (needed when
            stateful).
        seed: seed for random initial voltages.
        mode: "spike" (default) or "rate" (every neuron replaced by its rate).
    """

    def __init__(
        self,
        *,
        dt=0.001,
        synapse=0.005,
        scale_firing_rates=None,
        normalize=True,
        percentile=99.9,
        calibration_data=None,
        swap_activations=None,
        max_pool="error",
        initial_voltage="half",
        timesteps=None,
        static_input=False,
        stateful=False,
        batch_size=None,
        seed=None,
        mode="spike",
    ):
        owner = "convert"
        self.dt = float(check_number(owner, "dt", dt, low=0, low_open=True))
        self.synapse = self._check_synapse(synapse)
        if isinstance(scale_firing_rates, dict):
            for name, value in scale_firing_rates.items():
                check_number(owner, f"scale_firing_rates[{name!r}]", value,
                             low=0, low_open=True)
        elif scale_firing_rates is not None:
            check_number(owner, "scale_firing_rates", scale_firing_rates,
                         low=0, low_open=True)
        self.scale_firing_rates = scale_firing_rates
        if not isinstance(normalize, bool):
            raise TypeError(f"{owner}: normalize must be True or False, got {normalize!r}.")
        self.normalize = normalize
        self.percentile = float(check_number(owner, "percentile", percentile,
                                             low=0, high=100, low_open=True))
        self.calibration_data = calibration_data
        self.swap_activations = {}
        for key, target in (swap_activations or {}).items():
            check_choice(owner, f"swap_activations[{key!r}]", target, TARGETS)
            self.swap_activations[_activation_key(key)] = target
        self.max_pool = check_choice(owner, "max_pool", max_pool, MAX_POOL_MODES)
        self.initial_voltage = check_choice(
            owner, "initial_voltage", initial_voltage, ("zeros", "half", "uniform"))
        if timesteps is not None:
            if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral):
                raise TypeError(f"{owner}: timesteps must be an integer >= 1 or None, "
                                f"got {timesteps!r}.")
            if timesteps < 1:
                raise ValueError(f"{owner}: timesteps must be >= 1, got {timesteps}. "
                                 "A spiking model needs at least one step.")
        if static_input and timesteps is None:
            raise ValueError(f"{owner}: static_input=True repeats the input over a "
                             "fixed number of steps; pass timesteps=T as well.")
        self.timesteps = timesteps
        self.static_input = bool(static_input)
        if stateful and batch_size is None:
            raise ValueError(f"{owner}: stateful=True needs a fixed batch_size (state "
                             "is one voltage per sample); pass batch_size=N.")
        self.stateful = bool(stateful)
        self.batch_size = batch_size
        self.seed = seed
        self.mode = check_choice(owner, "mode", mode, MODES)
        self.scales = {}  # neuron site name -> k (filled by normalisation)

    # -- option helpers -------------------------------------------------------------
    def _check_synapse(self, synapse):
        if synapse is None:
            return None
        if isinstance(synapse, keras.layers.Layer):
            config = synapse.get_config()
            config.pop("name", None)
            return type(synapse), config
        check_number("convert", "synapse", synapse, low=0, low_open=True)
        return "Lowpass", {"tau": float(synapse)}

    def rate_scale(self, site):
        """The user's extra firing-rate factor for a neuron site (layer name)."""
        k = self.scale_firing_rates
        if isinstance(k, dict):
            return float(k.get(site, 1.0))
        return 1.0 if k is None else float(k)

    def target_of(self, source):
        default = "if" if source.family == "relu" else "lif"
        target = self.swap_activations.get(source.key, default)
        if target == "lif" and source.family == "relu":
            raise ValueError(
                f"convert: swap_activations[{source.key!r}]='lif' is not supported: "
                "a LIF neuron cannot reproduce a ReLU's rate. Use 'if' or 'rate'.")
        if target == "if" and source.family == "lif":
            raise ValueError(
                f"convert: swap_activations[{source.key!r}]='if' is not supported: "
                "an IF neuron's linear rate cannot reproduce a LIF rate. Use 'lif' "
                "(exact rate match) or 'rate'.")
        return target

    # -- conversion -------------------------------------------------------------------
    def error(self, layer, why, fix):
        return ConversionError(
            f"Cannot convert layer '{layer.name}' ({type(layer).__name__}): {why}. "
            f"To fix: {fix}."
        )

    def convert(self, model):
        """Build the converted model (normalising first when asked)."""
        if not isinstance(model, keras.Model):
            raise TypeError(f"convert: expected a keras.Model, got {type(model).__name__}.")
        graph = _graph_of(model)
        if self.normalize and self.calibration_data is not None:
            from .normalize import layer_rate_percentiles

            self.scales = layer_rate_percentiles(self, model)
        return self._build(graph, self.mode, name=f"{model.name}_{self.mode}")

    def _build(self, graph, mode, name, probe=False):
        self.mode_now = mode
        self.sites = {}  # site name -> (input signal, source, target)
        self.names = set()
        self.clones = {}
        inputs, signals = [], []
        for x in graph.inputs:
            shape = tuple(x.shape[1:])
            if any(d is None for d in shape):
                raise ConversionError(
                    f"convert: input '{x.name}' has a non-static shape {shape}; the "
                    "converter needs every input dimension except the batch. Build "
                    "the model with keras.Input(shape=(...)) of known sizes.")
            name = self.unique(getattr(x._keras_history.operation, "name", "input"))
            if self.static_input or probe:
                inp = keras.Input(shape, batch_size=self.batch_size, name=name)
                signals.append(Signal(inp, timed=False))
            else:
                inp = keras.Input((self.timesteps,) + shape, batch_size=self.batch_size,
                                  name=name)
                signals.append(Signal(inp, timed=True))
            inputs.append(inp)
        outputs = self.walk(graph, signals)
        if probe:
            return inputs, outputs
        outputs = [self.timed(s).tensor for s in outputs]
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                           outputs[0] if len(outputs) == 1 else outputs, name=name)

    def walk(self, graph, signals):
        """Convert ``graph`` with its inputs mapped to ``signals``; returns outputs."""
        graph = _graph_of(graph)
        tensors = {id(x): s for x, s in zip(graph.inputs, signals)}
        consumers = collections.Counter(id(x) for x in graph.outputs)
        for nodes in graph._nodes_by_depth.values():
            for node in nodes:
                if node.operation is not None and not node.is_input:
                    consumers.update(id(x) for x in node.input_tensors)
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if node.operation is None or node.is_input:
                    continue
                if any(id(x) not in tensors for x in node.input_tensors):
                    continue
                inputs = [tensors[id(x)] for x in node.input_tensors]
                outputs = self.convert_node(node.operation, inputs)
                outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
                for x, y in zip(node.outputs, outputs):
                    if y.linear is not None and consumers[id(x)] != 1:
                        y = dataclasses.replace(y, linear=None)  # shared: no folding
                    tensors[id(x)] = y
        return [tensors[id(x)] for x in graph.outputs]

    def convert_node(self, layer, inputs):
        if isinstance(layer, keras.Model) and rule_for(layer) is None:
            outputs = self.walk(layer, inputs)
            return outputs
        rule = rule_for(layer)
        if rule is None:
            raise self.error(
                layer,
                "no conversion rule is registered for this class (supported: "
                + ", ".join(sorted({c.__name__ for c in _RULES})) + ")",
                "register one: @keras_spiking.converters.register"
                f"({type(layer).__name__}) on a Rule subclass whose convert(layer, "
                "inputs, converter) rebuilds it from package layers",
            )
        rule.check(layer, self)
        return rule.convert(layer, inputs, self)

    # -- building blocks for rules ------------------------------------------------------
    def unique(self, name):
        base, i = name, 1
        while name in self.names:
            i += 1
            name = f"{base}_{i}"
        self.names.add(name)
        return name

    def clone(self, layer, **config):
        """A fresh, unbuilt copy of ``layer`` (its config with ``config`` overrides)."""
        cfg = layer.get_config()
        cfg.update(config)
        cfg["name"] = self.unique(layer.name)
        return type(layer).from_config(cfg)

    def apply(self, layer, signal, *, weights=None, fold=True, copy=True, **config):
        """Apply a stateless copy of ``layer`` to ``signal``; returns a ``Signal``.

        ``signal`` may be a list (merge layers); static inputs are repeated over
        time when another input is timed. A timed input goes through
        ``TimeFold`` (all steps in one call) unless ``fold=False`` (layers that
        act on any leading axes, such as Add). The copy gets ``layer``'s
        weights, or ``weights``.
        """
        signals = list(signal) if isinstance(signal, (list, tuple)) else [signal]
        timed = any(s.timed for s in signals)
        signals = [self.timed(s) for s in signals] if timed else signals
        new = self.clone(layer, **config) if copy else layer
        xs = [s.tensor for s in signals]
        arg = xs if isinstance(signal, (list, tuple)) else xs[0]
        if timed and fold:
            y = _layers().TimeFold(new, name=new.name)(arg)
        else:
            y = new(arg)
        values = layer.get_weights() if weights is None else weights
        if values:
            new.set_weights(values)
        return Signal(y, timed)

    def timed(self, signal):
        """``signal`` with a time axis (repeating a static one over the steps)."""
        if signal.timed:
            return signal
        y = _layers().RepeatTime(self.timesteps or 1, name=self.unique("repeat_time"))(
            signal.tensor)
        return Signal(y, True)

    def activation(self, signal, activation, site, layer):
        """Convert an activation function applied to ``signal``."""
        from .rules import activation_source

        key = _activation_key(activation)
        if key == "linear":
            return signal
        source = activation_source(activation)
        if source is None:
            if self.swap_activations.get(key) == "rate" or key == "softmax":
                fn = keras.activations.get(activation)
                layer = keras.layers.Activation(fn, name=self.unique(f"{site}_{key}"))
                return self.apply(layer, signal, copy=False)
            raise self.error(
                layer,
                f"its activation {key!r} has no spiking equivalent (supported: relu, "
                "leaky_relu, soft_lif, lif; linear and softmax are kept as they are)",
                f"train with relu or keras_spiking.layers.SoftLIF, or keep it as a rate "
                f"with swap_activations={{{key!r}: 'rate'}}",
            )
        return self.neuron(signal, source, site)

    def neuron(self, signal, source, site):
        """A neuron site: spiking neuron + synapse (or the rate, in rate mode)."""
        from . import rules

        target = self.target_of(source)
        k = self.rate_scale(site) * self.scales.get(site, 1.0)
        self.sites[site] = (signal, source, target)
        name = self.unique(f"{site}_neuron")
        if target == "rate" or self.mode_now == "rate":
            layer = rules.rate_layer(source, k, name)
            return self.apply(layer, signal, copy=False)
        signal = self.timed(signal)
        layer = rules.spiking_layer(self, source, k, name)
        spikes = layer(signal.tensor)
        return Signal(self.synapse_of(spikes, site), True, spikes=spikes)

    def synapse_of(self, spikes, site):
        """``spikes`` through a new synapse named after ``site`` (if any)."""
        if self.synapse is None:
            return spikes
        cls, config = self.synapse
        cls = getattr(_layers(), cls) if isinstance(cls, str) else cls
        kwargs = dict(config, name=self.unique(f"{site}_synapse"))
        if "dt" in kwargs or cls.__name__ in ("Lowpass", "Alpha"):
            kwargs["dt"] = self.dt
        if self.stateful:
            kwargs["stateful"] = True
        return cls(**kwargs)(spikes)


def convert(model, **options):
    """Convert a trained Keras model into a spiking Keras model.

    See ``Converter`` for the options. Example::

        snn = convert(ann, calibration_data=x_train[:1000], synapse=0.005,
                      timesteps=32, static_input=True)
        y = snn.predict(x_test)          # (batch, 32, 10); read out y[:, -1]
    """
    return Converter(**options).convert(model)


def verify(model, data, *, atol=1e-5, **options):
    """Check the converted graph in rate mode against ``model`` on ``data``.

    Every spiking neuron is replaced by the rate it approximates and synapses
    are dropped; the result must equal ``model(data)`` within ``atol``. Returns
    the maximum absolute difference; raises ``ConversionError`` above ``atol``.
    """
    options = dict(options, mode="rate", timesteps=1, stateful=False, batch_size=None)
    options.pop("static_input", None)
    rate_model = Converter(static_input=True, **options).convert(model)
    data = np.asarray(data)
    expected = keras.ops.convert_to_numpy(model(data, training=False))
    got = keras.ops.convert_to_numpy(rate_model(data, training=False))[:, 0]
    error = float(np.max(np.abs(expected - got)))
    if not math.isfinite(error) or error > atol:
        raise ConversionError(
            f"verify: the rate-mode conversion of '{model.name}' differs from the "
            f"model by up to {error:.3g} (> atol={atol}). A rule builds a different "
            "function; max_pool='avg' changes the function on purpose.")
    return error


def tile_time(x, timesteps):
    """Repeat a static input ``(batch, ...)`` over ``timesteps`` steps (axis 1)."""
    if isinstance(timesteps, bool) or not isinstance(timesteps, numbers.Integral) \
            or timesteps < 1:
        raise ValueError(f"tile_time: timesteps must be an integer >= 1, got {timesteps!r}.")
    x = keras.ops.expand_dims(keras.ops.convert_to_tensor(x), 1)
    reps = [1, timesteps] + [1] * (len(x.shape) - 2)
    return keras.ops.tile(x, reps)


def warn(message):
    warnings.warn(message, stacklevel=3)
