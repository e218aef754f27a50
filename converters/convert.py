"""The converter: rewrite a trained Keras model into a time-stepped spiking one.

``convert(model, ...)`` walks the Keras graph (``keras_spiking.graph``:
Functional or Sequential, nested models inlined) in topological order and asks
a *rule* for each layer how to rebuild it in the new graph. Rules live in
``rules.py``, one per layer family, in the registry of ``base.py`` that users
extend with ``register``. The result is an ordinary
Keras model of package layers mapping ``(batch, time, *input_shape)`` to
``(batch, time, *output_shape)``:

* stateless layers (Dense, Conv, pooling, ...) act on all timesteps in one
  call (``TimeFold``), with BatchNormalization folded into the layer before it;
* every activation becomes a spiking neuron (ReLU -> ``SpikingIF`` with reset
  by subtraction, or with ``reset="zero"`` reset to 0 and a calibrated lower
  threshold, as NIR needs; ``SoftLIF``/``LIFRate`` -> ``SpikingLIF``), optionally
  followed by a synapse (``Lowpass``/``Alpha``);
* linear outputs stay linear: the readout, by default through a
  ``RunningMean`` (``readout="mean"``), so that each step's output is the
  best estimate so far and ``snn.predict(x)[:, -1]`` is the answer;
* ``QuantizedReLU`` (QCFS) becomes an IF neuron with its trained threshold
  and no synapse; ``spikes="graded"`` lets IF neurons send counts of up to
  ``2**spike_bits - 1`` spikes per step.

Firing-rate scaling (per neuron layer, ``k``) multiplies a neuron's firing rate
by ``k`` and divides the value of each spike by ``k``, so its *mean output is
unchanged*. For IF (homogeneous) this is NengoDL's "input x k, output / k";
for LIF, which is not homogeneous, the time constants are divided by ``k``,
which is exact where input scaling is not. ``k`` comes from
``scale_firing_rates`` and/or from data (``calibration_data``: the chosen
percentile of each layer's rates is mapped to one spike per step, 1/dt Hz;
``Converter.calibrate``), and, in a ReLU feature map, each channel's
(``channel_norm``: channel factors folded into the Dense/Conv before the
neurons and a ``Rescaling`` after them; ``normalize.channel_factors``).

``mode="rate"`` builds the same graph with every neuron replaced by the rate
activation it approximates (under the same scaling) and no synapses;
``verify`` compares that graph with the original model, which catches wiring
and folding mistakes separately from spiking noise.
"""

import dataclasses
import math

import keras
import numpy as np

from keras_spiking import layers
from keras_spiking.graph import Names, functional_graph, run
from keras_spiking.layer_facts import classes, facts_of
from keras_spiking.validation import (
    check_bool,
    check_choice,
    check_model_data,
    check_number,
    check_positive_integer,
)

from . import rules
from .rules import fold_batch_norm
from .normalize import (
    channel_factors,
    check_calibration,
    site_rates,
    site_scales,
    zero_reset_threshold,
)
from .base import (  # noqa: F401 (re-exported: the converter's public names)
    ConversionError,
    NeuronSource,
    Rule,
    Signal,
    register,
    registered_classes,
    rule_for,
)

MAX_POOL_MODES = ("error", "avg", "max", "spike")
MODES = ("spike", "rate")
SPIKES = ("binary", "graded")
READOUTS = ("mean", "last")
RESETS = ("subtract", "zero")
#: synapse="auto": the lowpass time constant (s) put where a filter is needed
AUTO_TAU = 0.005
#: readout_fraction=None: 1 without any synapse in the converted model, else this
READOUT_FRACTION = 0.5
TARGETS = ("if", "lif", "rate")
OWNER = "convert"


def _activation_key(activation):
    """The swap_activations key of an activation function, class or name."""
    if isinstance(activation, str):
        return activation
    if isinstance(activation, type):
        key = facts_of(activation).activation
        if key is not None:
            return key
        known = ", ".join(c.__name__ for c in classes() if facts_of(c).activation)
        raise ValueError(
            f"convert: swap_activations key {activation!r} is not an activation "
            f"layer class the converter knows ({known}).")
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
        synapse: filter applied to every spiking neuron's output: "auto"
            (default, see below), None, a time constant tau in seconds (a
            ``Lowpass``, e.g. 0.005), or a ``Lowpass``/``Alpha`` layer whose
            configuration is copied. A linear readout of filtered spikes is the
            filtered readout.
        scale_firing_rates: None, a float, or a dict {layer name: float}: extra
            factor k on each neuron layer's firing rate (mean output unchanged).
        normalize: when True (default) and ``calibration_data`` is given, each
            neuron layer's ``percentile``-th rate is mapped to 1/dt.
        percentile: percentile of the positive rates used by ``normalize``.
        channel_norm: when True (default) and ``normalize`` applies, each
            channel of a ReLU feature map (a Conv site; Dense sites stay
            layer-wise) fires its own ``percentile``-th rate once per step:
            threshold ``1 / (s_c k)`` in effect, with the site's input current
            multiplied by ``s_c`` (folded into the Dense/Conv before it when
            possible) and its output by ``1 / s_c`` (a ``Rescaling``), so the
            mean output is unchanged (``normalize.channel_factors``).
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
        reset: how the IF neurons of ReLUs reset after a spike: "subtract"
            (default; the voltage keeps what exceeded the threshold, exact in
            the mean) or "zero" (what NIR's neurons do, so the network exports
            to NIR exactly): their threshold is then ``f / k`` with the factor
            ``f`` in [0.5, 1] fitted per layer to the calibration data
            (``normalize.zero_reset_threshold``; 1 without data). Not with
            graded spikes or ``QuantizedReLU``, which send counts.
        initial_voltage: None (default: "half", or "zeros" with
            ``reset="zero"``), "zeros", "half" (half the threshold; rounds instead
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
        spikes: "binary" (default: at most one spike per neuron and step) or
            "graded" (IF neurons send a count of up to ``2**spike_bits - 1``
            spikes per step as one message, as Loihi 2's graded spikes; not
            for LIF neurons; NIR cannot carry it).
        spike_bits: payload bits of a graded spike (integer 1-32, default 4:
            counts 0-15); a ``QuantizedReLU`` of ``L`` levels sends at most
            ``L`` per step and is exact at ``T = 1`` when ``2**spike_bits > L``.
        readout: "mean" (default): every output goes through a
            ``RunningMean``, the mean of the last ``readout_fraction`` of the
            steps so far, so ``snn.predict(x)[:, -1]`` is the answer; "last":
            the raw (synapse-filtered) output of each step. Not applied in
            rate mode or with ``stateful``.
        readout_fraction: in (0, 1]; None: 1 (the mean since the first step)
            when the converted model has no synapse, else 0.5 (skipping the
            synapses' warm-up; the same as ``evaluate_timesteps``' ``mean``).
            Without synapses, 0.5 measured better on a residual CNN (its
            calibrated neurons settle for some steps) and worse on most other
            networks and the main job's CNN (README, Low-latency conversion).
        closed_form: with ``static_input`` (no effect without), the IF
            neurons fed the static input (binary spikes, reset by subtraction,
            not stateful) compute their spikes in closed form instead of a loop
            over time (``SpikingIF(constant_input=True)``): the converted 3-conv
            reference CNN ran 1.32-1.35x faster at T = 30 and 120 (A/B under
            load, README Speed). A spike may move by one step where the voltage sits within
            float rounding of a threshold (the loop sums step by step); False
            keeps the loop, bit for bit.

    ``synapse="auto"`` filters only where an average is not taken anyway:
    with the ``RunningMean`` readout (``readout="mean"``) no IF neuron gets a
    synapse, since an IF neuron integrates its input (its spike count is
    the integral of the current, a filter in front only adds delay) and the
    readout averages the last layer's spikes; without that readout
    (``readout="last"`` or ``stateful``) every spiking neuron gets the
    ``AUTO_TAU`` (5 ms) lowpass, the previous default. LIF neurons (leaky:
    they lose the charge of raw spikes between them) always get it, so an
    all-LIF network converts as before. ``max_pool="max"`` takes its max over
    a ``AUTO_TAU`` lowpass of the spikes in any case.
    ``Converter.auto_synapse`` holds the choice.

    A ``QuantizedReLU`` keeps its trained threshold: its neurons take no
    ``synapse``, no firing-rate scale (``scale_firing_rates``, calibration)
    and always start at half the threshold (``initial_voltage="half"``).
    """

    def __init__(self, *, dt=0.001, synapse="auto", scale_firing_rates=None, normalize=True,
            percentile=99.9, channel_norm=True, calibration_data=None, swap_activations=None,
            max_pool="error", initial_voltage=None, timesteps=None, static_input=False,
            stateful=False,
            batch_size=None, seed=None, mode="spike", spikes="binary", spike_bits=4,
            readout="mean", readout_fraction=None, reset="subtract", closed_form=True):
        owner = "convert"
        self.dt = float(check_number(owner, "dt", dt, low=0, low_open=True))
        self.auto = isinstance(synapse, str) and synapse == "auto"
        self.synapse = None if self.auto else self._check_synapse(synapse)
        if isinstance(scale_firing_rates, dict):
            for name, value in scale_firing_rates.items():
                check_number(owner, f"scale_firing_rates[{name!r}]", value,
                             low=0, low_open=True)
        elif scale_firing_rates is not None:
            check_number(owner, "scale_firing_rates", scale_firing_rates,
                         low=0, low_open=True)
        self.scale_firing_rates = scale_firing_rates
        self.normalize = check_bool(owner, "normalize", normalize)
        self.percentile = float(check_number(owner, "percentile", percentile,
                                             low=0, high=100, low_open=True))
        self.channel_norm = check_bool(owner, "channel_norm", channel_norm)
        self.channel_scales = {}  # site -> channel factors s_c (calibrate; channel_norm)
        self.calibration_data = calibration_data
        self.swap_activations = {}
        for key, target in (swap_activations or {}).items():
            check_choice(owner, f"swap_activations[{key!r}]", target, TARGETS)
            self.swap_activations[_activation_key(key)] = target
        self.max_pool = check_choice(owner, "max_pool", max_pool, MAX_POOL_MODES)
        self.reset = check_choice(owner, "reset", reset, RESETS)
        self.zero_reset_factors = {}  # site -> threshold factor f (reset="zero", calibrated)
        if initial_voltage is None:
            initial_voltage = "zeros" if self.reset == "zero" else "half"
        self.initial_voltage = check_choice(
            owner, "initial_voltage", initial_voltage, ("zeros", "half", "uniform"))
        if timesteps is not None:
            timesteps = check_positive_integer(owner, "timesteps", timesteps)
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
        self.spikes = check_choice(owner, "spikes", spikes, SPIKES)
        self.spike_bits = check_positive_integer(owner, "spike_bits", spike_bits)
        if self.spike_bits > 32:
            raise ValueError(f"{owner}: spike_bits must be at most 32 (Loihi 2's largest "
                             f"graded payload), got {spike_bits!r}.")
        if self.reset == "zero" and self.spikes == "graded":
            raise ValueError(f"{owner}: reset='zero' cannot send graded spikes (a count "
                             "needs the voltage kept above the threshold); pass "
                             "spikes='binary' or reset='subtract'.")
        self.readout = check_choice(owner, "readout", readout, READOUTS)
        if readout_fraction is not None:
            readout_fraction = float(check_number(owner, "readout_fraction",
                                                  readout_fraction, low=0, high=1,
                                                  low_open=True))
        self.readout_fraction = readout_fraction
        self.closed_form = check_bool(owner, "closed_form", closed_form)
        if self.auto:
            self.synapse = self.auto_synapse()
        self.scales = {}  # neuron site name -> k of the last build (see calibrate)

    # -- option helpers -------------------------------------------------------------
    def auto_synapse(self):
        """The synapse ``synapse="auto"`` puts after every spiking IF neuron:
        none when the ``RunningMean`` readout averages the output
        (``readout="mean"``, not stateful), else the ``AUTO_TAU`` lowpass (a raw
        per-step output needs one). LIF neurons always get the ``AUTO_TAU``
        lowpass (``neuron``): a leaky neuron fed raw spikes loses charge
        between them (the main job's LIF CNN measured 0.1-0.3 pp lower at
        T >= 8 without synapses)."""
        if self.readout == "mean" and not self.stateful:
            return None
        return self._check_synapse(AUTO_TAU)

    def _check_synapse(self, synapse):
        if synapse is None:
            return None
        if isinstance(synapse, str):
            raise ValueError(f"convert: synapse must be 'auto', None, a time constant in "
                             f"seconds (e.g. 0.005) or a Lowpass/Alpha layer, got "
                             f"{synapse!r}.")
        if isinstance(synapse, keras.layers.Layer):
            config = synapse.get_config()
            config.pop("name", None)
            return type(synapse), config
        check_number("convert", "synapse", synapse, low=0, low_open=True)
        return "Lowpass", {"tau": float(synapse), "learn_tau": False}  # a fixed synapse

    def rate_scale(self, site):
        """The user's extra firing-rate factor for a neuron site (layer name)."""
        k = self.scale_firing_rates
        if isinstance(k, dict):
            return float(k.get(site, 1.0))
        return 1.0 if k is None else float(k)

    def target_of(self, source):
        """The conversion target ("if", "lif" or "rate") of a ``NeuronSource``."""
        default = "lif" if source.family == "lif" else "if"
        target = self.swap_activations.get(source.key, default)
        if target == "lif" and source.family != "lif":
            raise ValueError(
                f"convert: swap_activations[{source.key!r}]='lif' is not supported: "
                "a LIF neuron cannot reproduce a (quantised) ReLU's rate. Use 'if' or "
                "'rate'.")
        if target == "if" and source.family == "lif":
            raise ValueError(
                f"convert: swap_activations[{source.key!r}]='if' is not supported: "
                "an IF neuron's linear rate cannot reproduce a LIF rate. Use 'lif' "
                "(exact rate match) or 'rate'.")
        return target

    # -- conversion -------------------------------------------------------------------
    def error(self, layer, why, fix):
        """A ``ConversionError`` naming ``layer``, what is wrong and how to fix it."""
        return ConversionError(
            f"Cannot convert layer '{layer.name}' ({type(layer).__name__}): {why}. "
            f"To fix: {fix}."
        )

    def convert(self, model):
        """Build the converted model (normalising first when asked)."""
        if not isinstance(model, keras.Model):
            raise TypeError(f"convert: expected a keras.Model, got {type(model).__name__}.")
        functional_graph(model, OWNER, ConversionError)
        scales, self.channel_scales = {}, {}
        if self.normalize and self.calibration_data is not None:
            scales = self.calibrate(model)
        inputs, outputs = self._build(model, self.mode, scales, self.static_input)
        self._check_rate_keys(model)
        outputs = [self.read_out(self.timed(self.settle(s)).tensor) for s in outputs]
        return keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                           outputs[0] if len(outputs) == 1 else outputs,
                           name=f"{model.name}_{self.mode}")

    def _check_rate_keys(self, model):
        """Refuse ``scale_firing_rates`` keys that name no neuron site (a typo
        would otherwise be ignored)."""
        if not isinstance(self.scale_firing_rates, dict):
            return
        unknown = sorted(set(self.scale_firing_rates) - set(self.sites))
        if unknown:
            raise ValueError(
                f"convert: scale_firing_rates names {unknown}, which are not neuron "
                f"layers of '{model.name}'; its neuron layers are {sorted(self.sites)}.")

    def read_out(self, tensor):
        """An output of the converted model through the ``RunningMean`` readout."""
        if self.readout != "mean" or self.mode_now == "rate" or self.stateful:
            return tensor
        fraction = self.readout_fraction
        if fraction is None:
            fraction = READOUT_FRACTION if self.synapses else 1.0
        return layers.RunningMean(fraction, name=self.unique("readout"))(tensor)

    def calibrate(self, model):
        """Per neuron site, the firing-rate scale ``k = 1 / (r_p * dt)`` that
        maps the ``percentile``-th positive rate ``r_p`` of the site on
        ``calibration_data`` to one spike per step (see ``normalize``)."""
        arrays = check_calibration(model, self.calibration_data)
        probe, sources = self.probe(model)
        if probe is None:
            return {}
        rates = site_rates(probe, sources, arrays)
        scales = site_scales(rates, self.percentile, self.dt)
        self.channel_scales = {}
        if self.channel_norm:
            for site, r in rates.items():
                source = sources[site]
                if source.family == "relu" and self.target_of(source) == "if":
                    factors = channel_factors(r, self.percentile)
                    if factors is not None and not np.allclose(factors, 1.0):
                        self.channel_scales[site] = factors
        if self.reset == "zero":  # fitted to the rates as the (channel-scaled) neurons see them
            self.zero_reset_factors = {
                site: zero_reset_threshold(
                    (r * self.channel_scales.get(site, 1.0))[r > 0],
                    self.rate_scale(site) * scales[site], self.dt)
                for site, r in rates.items() if sources[site].family == "relu"}
        return scales

    def probe(self, model):
        """The input currents of every neuron site of the converted graph.

        Builds ``model``'s converted graph in rate mode on static inputs,
        without data-based scales (the user's ``scale_firing_rates`` apply;
        neither changes a rate-mode current). Returns ``(probe, sources)``:
        a Keras model from ``model``'s inputs to each site's input current,
        and ``{site name: NeuronSource}`` in the order of its outputs;
        ``(None, {})`` when there is no neuron site.
        """
        channel_scales, self.channel_scales = self.channel_scales, {}
        try:
            inputs, _ = self._build(model, "rate", {}, static=True)
        finally:
            self.channel_scales = channel_scales
        sites = dict(self.sites)
        if not sites:
            return None, {}
        probe = keras.Model(inputs[0] if len(inputs) == 1 else inputs,
                            [signal.tensor for signal, _, _ in sites.values()],
                            name=f"{model.name}_probe")
        return probe, {name: source for name, (_, source, _) in sites.items()}

    def _build(self, model, mode, scales, static):
        """Convert ``model``'s graph in ``mode`` with the data ``scales``;
        returns the new inputs and the output ``Signal``s."""
        self.mode_now, self.scales = mode, scales
        self.sites = {}  # site name -> (input signal, source, target)
        self.synapses = 0  # synapse layers made
        self.settled = {}  # id of a tensor with pending channel factors -> its Signal, applied
        self.names = Names()
        inputs, signals = [], []
        for x in functional_graph(model, OWNER, ConversionError).inputs:
            shape = tuple(x.shape[1:])
            if any(d is None for d in shape):
                raise ConversionError(
                    f"convert: input '{x.name}' has a non-static shape {shape}; the "
                    "converter needs every input dimension except the batch. Build "
                    "the model with keras.Input(shape=(...)) of known sizes.")
            name = self.unique(getattr(x._keras_history.operation, "name", "input"))
            if static:
                inp = keras.Input(shape, batch_size=self.batch_size, name=name)
                signals.append(Signal(inp, timed=False))
            else:
                inp = keras.Input((self.timesteps,) + shape, batch_size=self.batch_size,
                                  name=name)
                signals.append(Signal(inp, timed=True))
            inputs.append(inp)
        return inputs, self.walk(model, signals)

    def walk(self, model, signals):
        """Convert ``model``'s graph with its inputs mapped to ``signals``;
        returns the output ``Signal``s. Nested models without a rule of their
        own are inlined."""
        return run(model, signals, self._convert_call,
                   inline=lambda nested: rule_for(nested) is None,
                   owner=OWNER, error=ConversionError)

    def _convert_call(self, call, inputs):
        rule = rule_for(call.layer)
        inputs = [s if s.channel_scale is None or (
            rule is not None and rule.takes_channel_scale(call.layer, s))
            else self.settle(s) for s in inputs]
        outputs = self.convert_node(call.layer, inputs)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        # a linear output used more than once cannot take a BatchNorm folded in
        return [dataclasses.replace(y, linear=None, producer=None) if uses != 1
                and (y.linear is not None or y.producer is not None)
                else y for y, uses in zip(outputs, call.uses)]

    def convert_node(self, layer, inputs):
        """Convert one layer call: its rule's check, then its conversion."""
        rule = rule_for(layer)
        if rule is None:
            raise self.error(
                layer,
                "no conversion rule is registered for this class (supported: "
                + ", ".join(sorted({c.__name__ for c in registered_classes()})) + ")",
                "register one: @keras_spiking.converters.register"
                f"({type(layer).__name__}) on a Rule subclass whose convert(layer, "
                "inputs, converter) rebuilds it from package layers",
            )
        rule.check(layer, self)
        return rule.convert(layer, inputs, self)

    # -- building blocks for rules ------------------------------------------------------
    def unique(self, name):
        """A name not yet used in the graph being built (``name``, ``name_2``, ...)."""
        return self.names(name)

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
            y = layers.TimeFold(new, name=new.name)(arg)
        else:
            y = new(arg)
        values = layer.get_weights() if weights is None else weights
        if values:
            new.set_weights(values)
            if hasattr(new, "finalize_state"):
                # adapted preprocessing layers (Normalization) compute with
                # tensors derived from their weights, as loading a .keras does
                new.finalize_state()
        return Signal(y, timed)

    def timed(self, signal):
        """``signal`` with a time axis (repeating a static one over the steps)."""
        if signal.timed:
            return signal
        y = layers.RepeatTime(self.timesteps or 1, name=self.unique("repeat_time"))(
            signal.tensor)
        return Signal(y, True, channel_scale=signal.channel_scale, site=signal.site)

    def activation(self, signal, activation, site, layer):
        """Convert an activation function applied to ``signal``."""
        source = rules.activation_source(activation)
        if source is not None and source.family == "qcfs":  # a QuantizedReLU instance
            return self.neuron(signal, source, site)
        key = _activation_key(activation)
        if key == "linear":
            return signal
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
        target = self.target_of(source)
        k = self.rate_scale(site) * self.scales.get(site, 1.0)
        self.sites[site] = (signal, source, target)
        factors = self.channel_scales.get(site) if target == "if" else None
        if factors is not None:
            signal = self.scale_channels(signal, factors, site)
        name = self.unique(f"{site}_neuron")
        if target == "rate" or self.mode_now == "rate":
            layer = rules.rate_layer(source, k, name)
            out = self.apply(layer, signal, copy=False)
            return out if factors is None else self.pending(out, 1.0 / factors, site)
        constant = not signal.timed  # a static input, repeated over time
        signal = self.timed(signal)
        layer = rules.spiking_layer(self, source, k, name, site,
                                    constant_input=constant and self.closed_form)
        scale = None
        if factors is not None:  # spikes of 1; each channel's value applied after
            scale = layer.amplitude / self.dt / factors
            layer = type(layer).from_config(dict(layer.get_config(), amplitude=self.dt))
        spikes = layer(signal.tensor)
        synapse = self.synapse
        if self.auto and source.family == "lif":  # see auto_synapse
            synapse = self._check_synapse(AUTO_TAU)
        if source.family == "qcfs" or synapse is None:  # qcfs levels are spike counts
            # no synapse: the next Dense/Conv takes the channel values into its kernel
            return self.pending(Signal(spikes, True, spikes=spikes), scale, site)
        if scale is not None:
            spikes = self.scale_channels(Signal(spikes, True), scale, site).tensor
        return Signal(self.synapse_of(spikes, site, synapse), True, spikes=spikes)

    @staticmethod
    def pending(signal, factors, site):
        """``signal`` to be multiplied by the per-channel ``factors`` (None: by
        nothing) by whichever layer takes it next (``Signal.channel_scale``)."""
        if factors is None:
            return signal
        return dataclasses.replace(signal, channel_scale=np.asarray(factors, "float32"),
                                   site=site)

    def settle(self, signal):
        """``signal`` with its pending channel factors applied by a ``Rescaling``
        (one per tensor, however many layers take it)."""
        if signal.channel_scale is None:
            return signal
        key = id(signal.tensor)
        if key not in self.settled:
            plain = dataclasses.replace(signal, channel_scale=None, site=None, producer=None,
                                        linear=None)
            out = self.scale_channels(plain, signal.channel_scale, signal.site)
            spikes = out.tensor if signal.spikes is signal.tensor else signal.spikes
            self.settled[key] = (signal.tensor, dataclasses.replace(out, spikes=spikes))
        return self.settled[key][1]

    def scale_channels(self, signal, factors, site):
        """``signal`` times the per-channel (last axis) ``factors``: folded into
        the kernel and bias of its ``producer`` when it has one (``Signal``), else
        through a ``Rescaling``."""
        factors = np.asarray(factors, "float32")
        if signal.producer is not None:
            fold_batch_norm(signal.producer, factors, np.zeros_like(factors))
            return dataclasses.replace(signal, producer=None, linear=None)
        layer = keras.layers.Rescaling(factors, name=self.unique(f"{site}_channels"))
        return self.apply(layer, signal, fold=False, copy=False)

    def trace(self, signal, site):
        """``signal`` as a filtered trace for a max over it (``max_pool="max"``):
        with ``synapse="auto"``, unfiltered spikes go through the ``AUTO_TAU``
        lowpass (the max of raw spikes is their OR, not the largest rate)."""
        if not (self.auto and signal.timed and signal.spikes is not None
                and signal.tensor is signal.spikes):
            return signal
        tensor = self.synapse_of(signal.spikes, site, self._check_synapse(AUTO_TAU))
        return dataclasses.replace(signal, tensor=tensor)

    def synapse_of(self, spikes, site, synapse=None):
        """``spikes`` through a new synapse named after ``site`` (if any):
        ``synapse`` (a checked option) or the converter's."""
        synapse = synapse or self.synapse
        if synapse is None:
            return spikes
        cls, config = synapse
        cls = getattr(layers, cls) if isinstance(cls, str) else cls
        kwargs = dict(config, name=self.unique(f"{site}_synapse"))
        if "dt" in kwargs or facts_of(cls).role == "filter":
            kwargs["dt"] = self.dt
        if self.stateful:
            kwargs["stateful"] = True
        self.synapses += 1
        return cls(**kwargs)(spikes)


def convert(model, **options):
    """Convert a trained Keras model into a spiking Keras model.

    See ``Converter`` for the options. Example::

        snn = convert(ann, calibration_data=x_train[:1000], synapse=0.005,
                      timesteps=32, static_input=True)
        y = snn.predict(x_test)          # (batch, 32, 10); the answer: y[:, -1]
    """
    return Converter(**options).convert(model)


def verify(model, data, *, atol=1e-5, **options):
    """Check the converted graph in rate mode against ``model`` on ``data``.

    Every spiking neuron is replaced by the rate it approximates and synapses
    are dropped; the result must equal ``model(data)`` within ``atol``. Returns
    the maximum absolute difference (over all outputs); raises
    ``ConversionError`` above ``atol``. Several inputs: ``data`` is a list of
    arrays, one per input.
    """
    options = dict(options, mode="rate", timesteps=1, stateful=False, batch_size=None)
    options.pop("static_input", None)
    # NaN data is the data's fault, not the converter's
    data = check_model_data("verify", "data", data, [x.shape[1:] for x in model.inputs])
    data = data[0] if len(data) == 1 else data
    rate_model = Converter(static_input=True, **options).convert(model)
    expected = [keras.ops.convert_to_numpy(e)
                for e in keras.tree.flatten(model(data, training=False))]
    got = [keras.ops.convert_to_numpy(g)[:, 0]
           for g in keras.tree.flatten(rate_model(data, training=False))]
    bad = sum(int(np.sum(~np.isfinite(e))) for e in expected)
    if bad:
        raise ValueError(
            f"verify: '{model.name}' itself gives NaN or Inf on this data "
            f"({bad} outputs), so there is nothing to "
            "compare the conversion with; check the data and the model's weights.")
    error = max(float(np.max(np.abs(e - g))) for e, g in zip(expected, got))
    if not math.isfinite(error) or error > atol:
        raise ConversionError(
            f"verify: the rate-mode conversion of '{model.name}' differs from the "
            f"model by up to {error:.3g} (> atol={atol}). A rule builds a different "
            "function; max_pool='avg' changes the function on purpose.")
    return error


def tile_time(x, timesteps):
    """Repeat a static input ``(batch, ...)`` over ``timesteps`` steps (axis 1)."""
    timesteps = check_positive_integer("tile_time", "timesteps", timesteps)
    x = keras.ops.expand_dims(keras.ops.convert_to_tensor(x), 1)
    reps = [1, timesteps] + [1] * (len(x.shape) - 2)
    return keras.ops.tile(x, reps)

