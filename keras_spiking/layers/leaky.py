"""Surrogate-gradient LIF layers (snnTorch's neurons): Leaky, Synaptic, RLeaky, RSynaptic, IF.

Each takes input currents shaped ``(batch, time, ...)`` (any trailing shape, so
it follows Dense or Conv layers), scans its state over the time axis, and
returns 0/1 spikes (or the membrane voltage) of the same shape. Forward, a
spike is the exact step ``H(v - threshold)``; backward, its derivative is the
layer's ``surrogate`` (``keras_spiking.surrogates``), so the network trains by
backpropagation through time with a plain ``model.fit``.

Dynamics, per step ``t`` (dimensionless; one step is one time bin), on the
dynamics core ``keras_spiking.neurons.lif_step`` with snnTorch's *delayed*
reset, where ``r[t] = H(v[t-1] - threshold)`` is the previous step's spike::

    Leaky      v[t] = beta v[t-1] + x[t] - r[t] threshold           (reset="subtract")
               v[t] = beta (1 - r[t]) v[t-1] + x[t]                 (reset="zero")
               v[t] = beta v[t-1] + x[t]                            (reset="none")
    Synaptic   i[t] = alpha i[t-1] + x[t];  v[t] as Leaky with i[t] for x[t]
    RLeaky     Leaky with x[t] + W s[t-1]  (W: all-to-all kernel, convolution,
               or one-to-one V)
    RSynaptic  Synaptic with i[t] = alpha i[t-1] + x[t] + W s[t-1]
    IF         Leaky with beta = 1
    spikes     s[t] = H(v[t] - threshold),   H(0) = 0

With ``reset_delay=False`` the reset is immediate instead (Nengo, NIR,
SpikingJelly): ``v[t] = beta v[t-1] + x[t]``, ``s[t] = H(v[t] - threshold)``,
then the neurons that spiked are reset within the same step. SpikingJelly's
``LIFNode(tau, decay_input=False, v_reset=0 | None, detach_reset=d)`` is
``Leaky(1 - 1/tau, reset="zero" | "subtract", reset_delay=False,
reset_detached=d)`` up to float rounding (``decay_input=True`` also scales the
input by ``1/tau``).

``beta`` (and ``alpha``) is the per-step decay: ``exp(-dt / tau)`` for a time
constant ``tau`` in seconds and step ``dt`` in seconds. A learnable ``beta``
is clipped to [0, 1] in the forward pass, as snnTorch does. With
``reset_detached=True`` (snnTorch's behaviour) no gradient flows through
``r[t]``; the threshold still gets the gradient of the subtracted term.

With its default arguments ``Leaky(beta)`` reproduces snnTorch 1.0's
``snn.Leaky(beta)`` spike for spike (the surrogate's default is snnTorch's
``atan``). Differences: for ``reset="zero"`` snnTorch's ``Synaptic``,
``RLeaky`` and ``RSynaptic`` zero the membrane *after* integrating
(``v[t] = (1 - r[t]) (beta v[t-1] + x[t])``, dropping ``x[t]``), while every
layer here uses ``Leaky``'s rule above; the all-to-all recurrent weight has no
bias (it would duplicate the bias of the layer in front).
"""

import keras
import numpy as np
from keras import ops

from keras_spiking import surrogates
from keras_spiking.layers.base import TimeStateLayer
from keras_spiking.neurons import RESETS, apply_reset, heaviside, lif_step
from keras_spiking.validation import check_bool, check_choice, check_number

#: accepted ``output`` values
OUTPUTS = ("spikes", "membrane", "both")

_UNSET = object()  # default of the arguments only some subclasses have


def _number_or_array(owner, name, value, **bounds):
    """A float, or a float32 numpy array for per-unit values."""
    if isinstance(value, str):
        raise TypeError(f"{owner}: {name} must be a number or an array of numbers, got {value!r}.")
    value = check_number(owner, name, value, allow_array=True, **bounds)
    return float(value) if np.ndim(value) == 0 else np.asarray(value, "float32")


def _kernel_size(owner, value):
    """None, or a tuple of positive ints (an int becomes a 1-tuple)."""
    if value is None:
        return None
    sizes = (value,) if isinstance(value, int) else value
    if (
        not isinstance(sizes, (tuple, list))
        or not sizes
        or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in sizes)
    ):
        raise ValueError(
            f"{owner}: recurrent_kernel_size must be None, a positive int or a tuple "
            f"of them, got {value!r}."
        )
    return tuple(sizes)


def _to_config(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


class LeakyNeuron(TimeStateLayer):
    """Shared machinery of the surrogate-gradient LIF layers (not used directly).

    Subclasses fix ``synaptic`` (second-order: carries a current ``i``) and
    ``recurrent`` (adds ``W s[t-1]`` to the input) and list their arguments in
    ``get_config``. The state is ``("i",)`` if synaptic, then ``"v"``, then
    ``"s"`` (last spikes) if recurrent.
    """

    synaptic = False
    recurrent = False

    def __init__(
        self,
        beta,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        alpha=_UNSET,
        learn_alpha=_UNSET,
        all_to_all=_UNSET,
        V=_UNSET,
        learn_recurrent=_UNSET,
        recurrent_initializer=_UNSET,
        recurrent_kernel_size=_UNSET,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        # subclasses with a synaptic current or recurrence always pass these;
        # anywhere else they are a mistake, not something to ignore silently
        for arg, value, allowed in (
            ("alpha", alpha, self.synaptic),
            ("learn_alpha", learn_alpha, self.synaptic),
            ("all_to_all", all_to_all, self.recurrent),
            ("V", V, self.recurrent),
            ("learn_recurrent", learn_recurrent, self.recurrent),
            ("recurrent_initializer", recurrent_initializer, self.recurrent),
            ("recurrent_kernel_size", recurrent_kernel_size, self.recurrent),
        ):
            if value is not _UNSET and not allowed:
                raise TypeError(
                    f"{type(self).__name__} got an unexpected argument {arg}={value!r}."
                )
        super().__init__(
            return_sequences=return_sequences,
            return_state=return_state,
            stateful=stateful,
            **kwargs,
        )
        name = self.name
        self.beta = _number_or_array(name, "beta", beta, low=0, high=1)
        self.threshold = _number_or_array(name, "threshold", threshold, low=0, low_open=True)
        self.reset = check_choice(name, "reset", reset, RESETS)
        self.surrogate = surrogates.get(surrogate, owner=f"{name}: surrogate")
        self.learn_beta = check_bool(name, "learn_beta", learn_beta)
        self.learn_threshold = check_bool(name, "learn_threshold", learn_threshold)
        self.reset_detached = check_bool(name, "reset_detached", reset_detached)
        self.output_mode = check_choice(name, "output", output, OUTPUTS)
        self.reset_delay = check_bool(name, "reset_delay", reset_delay)
        if self.synaptic:
            self.alpha = _number_or_array(name, "alpha", alpha, low=0, high=1)
            self.learn_alpha = check_bool(name, "learn_alpha", learn_alpha)
        if self.recurrent:
            self.all_to_all = check_bool(name, "all_to_all", all_to_all)
            self.V = _number_or_array(name, "V", V)
            self.learn_recurrent = check_bool(name, "learn_recurrent", learn_recurrent)
            self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
            self.recurrent_kernel_size = _kernel_size(name, recurrent_kernel_size)
            if self.recurrent_kernel_size is not None and not self.all_to_all:
                raise ValueError(
                    f"{name}: recurrent_kernel_size={recurrent_kernel_size!r} needs "
                    "all_to_all=True (a one-to-one weight V has no kernel)."
                )
        self.beta_variable = self.threshold_variable = self.alpha_variable = None
        self.recurrent_kernel = None

    @property
    def state_names(self):
        return ("i",) * self.synaptic + ("v",) + ("s",) * self.recurrent

    # -- weights ---------------------------------------------------------------------
    def _parameter(self, name, value, learnable, neuron_shape):
        """Check that a per-unit value fits the neurons; a weight if learnable."""
        try:
            fits = np.broadcast_shapes(np.shape(value), neuron_shape) == neuron_shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(
                f"{self.name}: {name} has shape {np.shape(value)}, which does not "
                f"broadcast to the neurons' shape {neuron_shape}; pass a scalar or "
                "one value per unit (e.g. shape (channels,))."
            )
        if not learnable:
            return None
        return self.add_weight(
            shape=np.shape(value),
            initializer=keras.initializers.Constant(value),
            trainable=True,
            name=name,
        )

    def build(self, input_shape):
        super().build(input_shape)
        neuron_shape = self.unit_shape(input_shape)
        self.beta_variable = self._parameter("beta", self.beta, self.learn_beta, neuron_shape)
        self.threshold_variable = self._parameter(
            "threshold", self.threshold, self.learn_threshold, neuron_shape
        )
        if self.synaptic:
            self.alpha_variable = self._parameter(
                "alpha", self.alpha, self.learn_alpha, neuron_shape
            )
        if self.recurrent:
            if self.all_to_all:
                units = neuron_shape[-1]
                size = self.recurrent_kernel_size
                if size is not None:
                    spatial = len(neuron_shape) - 1
                    if not 1 <= spatial <= 3:
                        raise ValueError(
                            f"{self.name}: recurrent_kernel_size needs inputs shaped "
                            "(batch, time, spatial..., channels) with 1 to 3 spatial "
                            f"axes, got input shape {tuple(input_shape)}."
                        )
                    size = size * spatial if len(size) == 1 else size
                    if len(size) != spatial:
                        raise ValueError(
                            f"{self.name}: recurrent_kernel_size {size} has "
                            f"{len(size)} entries for {spatial} spatial axes."
                        )
                    self.recurrent_kernel_size = size
                self.recurrent_kernel = self.add_weight(
                    shape=(size or ()) + (units, units),
                    initializer=self.recurrent_initializer,
                    trainable=self.learn_recurrent,
                    name="recurrent_kernel",
                )
            else:
                self._parameter("V", self.V, False, neuron_shape)
                self.recurrent_kernel = self.add_weight(
                    shape=np.shape(self.V),
                    initializer=keras.initializers.Constant(self.V),
                    trainable=self.learn_recurrent,
                    name="V",
                )

    # -- dynamics ----------------------------------------------------------------------
    @staticmethod
    def _value(variable, value, dtype, clip=False):
        """Python float if fixed and scalar (folds into the graph), else a tensor."""
        if variable is None:
            return value if isinstance(value, float) else ops.convert_to_tensor(value, dtype)
        value = ops.cast(variable, dtype)
        return ops.clip(value, 0.0, 1.0) if clip else value

    def step_function(self, inputs):
        dtype = inputs.dtype
        beta = self._value(self.beta_variable, self.beta, dtype, clip=True)
        threshold = self._value(self.threshold_variable, self.threshold, dtype)
        alpha = (
            self._value(self.alpha_variable, self.alpha, dtype, clip=True)
            if self.synaptic
            else None
        )
        kernel = None if not self.recurrent else ops.cast(self.recurrent_kernel, dtype)
        spike_fn = self.surrogate
        reset = self.reset
        detached, reset_delay = self.reset_detached, self.reset_delay
        reset_fn = heaviside if detached else spike_fn
        synaptic, recurrent = self.synaptic, self.recurrent
        one_to_one = recurrent and not self.all_to_all
        convolve = recurrent and self.recurrent_kernel_size is not None

        def feedback(s):  # W s[t-1]
            if one_to_one:
                return s * kernel
            if convolve:
                return ops.conv(s, kernel, padding="same")
            return ops.matmul(s, kernel)

        output = self.output_mode

        def step(x_t, states):
            states = list(states)
            i = states.pop(0) if synaptic else None
            v = states.pop(0)
            if recurrent:
                s_prev = states.pop(0)
                x_t = x_t + feedback(s_prev)
            if synaptic:
                i = alpha * i + x_t
                x_t = i
            if reset_delay:
                previous = None if reset == "none" else reset_fn(v - threshold)
                s, v, _ = lif_step(
                    v, x_t, decay=beta, threshold=threshold, reset=reset,
                    spike_fn=spike_fn, previous_spikes=previous,
                )
            else:  # immediate reset; v is the voltage after it
                s, v, _ = lif_step(
                    v, x_t, decay=beta, threshold=threshold, reset="none", spike_fn=spike_fn
                )
                v = apply_reset(
                    v, ops.stop_gradient(s) if detached else s, threshold, reset
                )
            new_states = ((i,) if synaptic else ()) + (v,) + ((s,) if recurrent else ())
            if output == "spikes":
                return s, new_states
            if output == "membrane":
                return v, new_states
            return (s, v), new_states

        return step

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        per_step = shape[:1] + shape[2:]
        out = shape if self.return_sequences else per_step
        if self.output_mode == "both":
            out = (out, out)
        if self.return_state:
            return out, tuple(per_step for _ in self.state_names)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            threshold=_to_config(self.threshold),
            reset=self.reset,
            surrogate=surrogates.serialize(self.surrogate),
            learn_threshold=self.learn_threshold,
            reset_detached=self.reset_detached,
            output=self.output_mode,
            reset_delay=self.reset_delay,
        )
        return config

    def _beta_config(self):
        return {"beta": _to_config(self.beta), "learn_beta": self.learn_beta}

    def _synaptic_config(self):
        return {"alpha": _to_config(self.alpha), "learn_alpha": self.learn_alpha}

    def _recurrent_config(self):
        return {
            "all_to_all": self.all_to_all,
            "V": _to_config(self.V),
            "learn_recurrent": self.learn_recurrent,
            "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer),
            "recurrent_kernel_size": self.recurrent_kernel_size,
        }


_COMMON_ARGS = """
    Args:
        beta: membrane decay per step, in [0, 1]; a scalar or one value per
            unit (any shape that broadcasts to the trailing input shape).
        threshold: spike threshold (> 0), scalar or per unit.
        reset: ``"subtract"`` (default), ``"zero"`` or ``"none"``.
        surrogate: spike function: a name in ``keras_spiking.surrogates.SURROGATES``
            (default ``"atan"``, snnTorch's), a ``Surrogate``, or a callable
            ``x -> spikes`` of ``x = v - threshold``.
        learn_beta: make ``beta`` a trainable weight (clipped to [0, 1] when used).
        learn_threshold: make ``threshold`` a trainable weight.
        reset_detached: no gradient through the reset term (snnTorch: True).
        output: ``"spikes"`` (default), ``"membrane"`` (``v[t]``) or ``"both"``
            (a tuple ``(spikes, membrane)``).
        reset_delay: True (snnTorch's default): a spike resets the voltage at
            the next step, as above. False: immediately, in the step it
            fires (Nengo, NIR, SpikingJelly): ``v[t] = beta v[t-1] + x[t]``,
            ``s[t] = H(v[t] - threshold)``, then ``v[t]`` is reset and the
            membrane output is the voltage after the reset. snnTorch's
            ``reset_delay=False`` is this with ``reset_detached=False``.
        return_sequences, return_state, stateful: see ``TimeStateLayer``.
"""


@keras.saving.register_keras_serializable(package="keras_spiking")
class Leaky(LeakyNeuron):
    __doc__ = (
        """First-order LIF neuron with a surrogate gradient (snnTorch's ``Leaky``).

    ``v[t] = beta v[t-1] + x[t] - H(v[t-1] - threshold) threshold``,
    ``s[t] = H(v[t] - threshold)`` (default ``reset="subtract"``; see the
    module docstring for ``"zero"`` and ``"none"``). Inputs ``(batch, time, ...)``.
"""
        + _COMMON_ARGS
        + """
    Example (snnTorch tutorial 5's network)::

        model = keras.Sequential([
            keras.Input((25, 784)),
            keras.layers.Dense(1000), keras_spiking.layers.Leaky(beta=0.95),
            keras.layers.Dense(10), keras_spiking.layers.Leaky(beta=0.95),
        ])
    """
    )

    def __init__(
        self,
        beta,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold,
            reset_detached, output, reset_delay=reset_delay,
            return_sequences=return_sequences, return_state=return_state,
            stateful=stateful, **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), **self._beta_config()}


@keras.saving.register_keras_serializable(package="keras_spiking")
class IF(LeakyNeuron):
    """Integrate-and-fire neuron: ``Leaky`` with ``beta = 1`` (no leak).

    ``v[t] = v[t-1] + x[t] - H(v[t-1] - threshold) threshold``; arguments as
    ``Leaky`` without ``beta``/``learn_beta``.
    """

    def __init__(
        self,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            1.0, threshold, reset, surrogate, False, learn_threshold,
            reset_detached, output, reset_delay=reset_delay,
            return_sequences=return_sequences, return_state=return_state,
            stateful=stateful, **kwargs,
        )


@keras.saving.register_keras_serializable(package="keras_spiking")
class Synaptic(LeakyNeuron):
    __doc__ = (
        """Second-order LIF neuron (snnTorch's ``Synaptic``): a synaptic current
    filters the input before the membrane.

    ``i[t] = alpha i[t-1] + x[t]``, ``v[t] = beta v[t-1] + i[t] - r[t] threshold``.
    State ``(i, v)``.
"""
        + _COMMON_ARGS
        + """        alpha: synaptic current decay per step, in [0, 1], scalar or per unit.
        learn_alpha: make ``alpha`` a trainable weight (clipped to [0, 1]).
    """
    )

    synaptic = True

    def __init__(
        self,
        alpha,
        beta,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold,
            reset_detached, output, reset_delay=reset_delay,
            alpha=alpha, learn_alpha=learn_alpha,
            return_sequences=return_sequences, return_state=return_state,
            stateful=stateful, **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), **self._beta_config(), **self._synaptic_config()}


_RECURRENT_ARGS = """        all_to_all: True: a learnable ``(units, units)`` kernel over the last
            axis (``W s = s @ kernel``; after a Conv layer it mixes channels
            per position, a 1x1 convolution). False: one-to-one weight ``V``.
        V: initial one-to-one weight (scalar or per unit), used if not all_to_all.
        learn_recurrent: train the recurrent weight (default True).
        recurrent_initializer: initializer of the all-to-all kernel.
        recurrent_kernel_size: None (default) for the kernel over the last
            axis; an int or tuple for a convolution ``W s = conv(s, kernel)``
            with ``"same"`` padding over the spatial axes of inputs shaped
            ``(batch, time, spatial..., channels)`` (snnTorch's
            ``conv2d_channels``/``kernel_size``; use odd sizes to match it).
    """


@keras.saving.register_keras_serializable(package="keras_spiking")
class RLeaky(LeakyNeuron):
    __doc__ = (
        """Recurrent first-order LIF neuron (snnTorch's ``RLeaky``).

    ``v[t] = beta v[t-1] + x[t] + W s[t-1] - r[t] threshold``. State ``(v, s)``.
"""
        + _COMMON_ARGS
        + _RECURRENT_ARGS
    )

    recurrent = True

    def __init__(
        self,
        beta,
        all_to_all=True,
        V=1.0,
        learn_recurrent=True,
        recurrent_initializer="orthogonal",
        recurrent_kernel_size=None,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold,
            reset_detached, output, reset_delay=reset_delay,
            all_to_all=all_to_all, V=V,
            learn_recurrent=learn_recurrent,
            recurrent_initializer=recurrent_initializer,
            recurrent_kernel_size=recurrent_kernel_size,
            return_sequences=return_sequences, return_state=return_state,
            stateful=stateful, **kwargs,
        )

    def get_config(self):
        return {**super().get_config(), **self._beta_config(), **self._recurrent_config()}


@keras.saving.register_keras_serializable(package="keras_spiking")
class RSynaptic(LeakyNeuron):
    __doc__ = (
        """Recurrent second-order LIF neuron (snnTorch's ``RSynaptic``).

    ``i[t] = alpha i[t-1] + x[t] + W s[t-1]``,
    ``v[t] = beta v[t-1] + i[t] - r[t] threshold``. State ``(i, v, s)``.
"""
        + _COMMON_ARGS
        + """        alpha: synaptic current decay per step, in [0, 1], scalar or per unit.
        learn_alpha: make ``alpha`` a trainable weight (clipped to [0, 1]).
"""
        + _RECURRENT_ARGS
    )

    synaptic = True
    recurrent = True

    def __init__(
        self,
        alpha,
        beta,
        all_to_all=True,
        V=1.0,
        learn_recurrent=True,
        recurrent_initializer="orthogonal",
        recurrent_kernel_size=None,
        threshold=1.0,
        reset="subtract",
        surrogate="atan",
        learn_alpha=False,
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        return_sequences=True,
        return_state=False,
        stateful=False,
        **kwargs,
    ):
        super().__init__(
            beta, threshold, reset, surrogate, learn_beta, learn_threshold,
            reset_detached, output, reset_delay=reset_delay,
            alpha=alpha, learn_alpha=learn_alpha,
            all_to_all=all_to_all, V=V, learn_recurrent=learn_recurrent,
            recurrent_initializer=recurrent_initializer,
            recurrent_kernel_size=recurrent_kernel_size,
            return_sequences=return_sequences, return_state=return_state,
            stateful=stateful, **kwargs,
        )

    def get_config(self):
        return {
            **super().get_config(),
            **self._beta_config(),
            **self._synaptic_config(),
            **self._recurrent_config(),
        }
