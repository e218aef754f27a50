"""Surrogate-gradient LIF layers (snnTorch's neurons): Leaky, Synaptic, RLeaky, RSynaptic, IF.

Each takes input currents shaped ``(batch, time, ...)`` (any trailing shape, so
it follows Dense or Conv layers), scans its state over the time axis, and
returns 0/1 spikes (or the membrane voltage) of the same shape. Forward, a
spike is the exact step ``H(v - threshold)``; backward, its derivative is the
layer's ``surrogate`` (``keras_spiking.surrogates``), so the network trains by
backpropagation through time with a plain ``model.fit``.

Dynamics, per step ``t`` (dimensionless; one step is one time bin), as faces
of the dynamics core ``keras_spiking.neurons`` (``decay = beta``, ``gain = 1``,
``synapse_decay = alpha``) with snnTorch's *delayed* reset, where
``r[t] = H(v[t-1] - threshold)`` is the previous step's spike::

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
from keras_spiking.layers.base import DynamicsLayer, parameter_value
from keras_spiking.neurons import RESETS, Dynamics
from keras_spiking.validation import check_bool, check_choice, check_number

#: accepted ``output`` values
OUTPUTS = ("spikes", "membrane", "both")


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


class LeakyNeuron(DynamicsLayer):
    """First-order LIF with a surrogate gradient: the base of the family.

    Declares the arguments every member has; ``Synaptic`` adds a synaptic
    current, ``Recurrent`` a recurrent weight. The state is ``("i",)`` if
    synaptic, then ``"v"``, then ``"s"`` (last spikes) if recurrent: the
    core's order.

    Under a float16/bfloat16 dtype policy (e.g. ``mixed_bfloat16``: bfloat16
    convolutions) the state is scanned in float32 and the outputs are cast back
    (``state_dtype``): a bfloat16 voltage (8-bit mantissa) drifts and moves
    spikes (the tutorial-6 CSNN, one epoch on 10 000 images: 58.6 % test
    accuracy with a bfloat16 state, 71.5 % with float32, 63.7 % all float32).
    """

    synaptic = False
    state_dtype = "float32"
    recurrent = False

    def __init__(
        self,
        beta,
        threshold=1.0,
        *,
        reset="subtract",
        surrogate="atan",
        learn_beta=False,
        learn_threshold=False,
        reset_detached=True,
        output="spikes",
        reset_delay=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
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
        self.beta_variable = self.threshold_variable = None

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

    # -- dynamics ----------------------------------------------------------------------
    def dynamics(self, dtype=None):
        """``decay = beta`` (clipped to [0, 1]), ``gain = 1``, snnTorch's delayed
        reset unless ``reset_delay=False``."""
        return Dynamics(
            decay=parameter_value(self.beta, self.beta_variable, dtype, clip=(0.0, 1.0)),
            threshold=parameter_value(self.threshold, self.threshold_variable, dtype),
            reset=self.reset,
            reset_delayed=self.reset_delay,
            reset_detached=self.reset_detached,
            spike_fn=self.surrogate,
        )

    def select_output(self, spikes, voltage):
        if self.output_mode == "spikes":
            return spikes
        if self.output_mode == "membrane":
            return voltage
        return spikes, voltage

    @property
    def outputs_spikes(self):
        return self.output_mode == "spikes"

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
            beta=_to_config(self.beta),
            learn_beta=self.learn_beta,
            threshold=_to_config(self.threshold),
            reset=self.reset,
            surrogate=surrogates.serialize(self.surrogate),
            learn_threshold=self.learn_threshold,
            reset_detached=self.reset_detached,
            output=self.output_mode,
            reset_delay=self.reset_delay,
        )
        return config


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


@keras.saving.register_keras_serializable(package="keras_spiking")
class IF(LeakyNeuron):
    """Integrate-and-fire neuron: ``Leaky`` with ``beta = 1`` (no leak).

    ``v[t] = v[t-1] + x[t] - H(v[t-1] - threshold) threshold``; arguments as
    ``Leaky`` without ``beta``/``learn_beta``.
    """

    def __init__(self, threshold=1.0, **kwargs):
        for arg in ("beta", "learn_beta"):
            if arg in kwargs:
                raise TypeError(
                    f"IF got an unexpected argument {arg}={kwargs[arg]!r}: an IF neuron "
                    "has no leak (use Leaky for beta < 1)."
                )
        super().__init__(1.0, threshold, **kwargs)

    def get_config(self):
        config = super().get_config()
        del config["beta"], config["learn_beta"]
        return config


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

    def __init__(self, alpha, beta, *, learn_alpha=False, **kwargs):
        super().__init__(beta, **kwargs)
        self.alpha = _number_or_array(self.name, "alpha", alpha, low=0, high=1)
        self.learn_alpha = check_bool(self.name, "learn_alpha", learn_alpha)
        self.alpha_variable = None

    def build(self, input_shape):
        super().build(input_shape)
        self.alpha_variable = self._parameter(
            "alpha", self.alpha, self.learn_alpha, self.unit_shape(input_shape)
        )

    def dynamics(self, dtype=None):
        """``Leaky``'s, with ``synapse_decay = alpha`` (clipped to [0, 1])."""
        alpha = parameter_value(self.alpha, self.alpha_variable, dtype, clip=(0.0, 1.0))
        return super().dynamics(dtype).replace(synapse_decay=alpha)

    def get_config(self):
        config = super().get_config()
        config.update(alpha=_to_config(self.alpha), learn_alpha=self.learn_alpha)
        return config


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


class Recurrent:
    """Mixin of ``RLeaky`` and ``RSynaptic``: the recurrent weight ``W s[t-1]``
    added to the input (keyword arguments; see ``_RECURRENT_ARGS``)."""

    recurrent = True

    def __init__(
        self,
        *args,
        all_to_all=True,
        V=1.0,
        learn_recurrent=True,
        recurrent_initializer="orthogonal",
        recurrent_kernel_size=None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        name = self.name
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
        self.recurrent_kernel = None

    @property
    def recurrence(self):
        """The core's recurrence kind: ``"conv"``, ``"dense"`` or ``"one_to_one"``."""
        if not self.all_to_all:
            return "one_to_one"
        return "dense" if self.recurrent_kernel_size is None else "conv"

    def build(self, input_shape):
        super().build(input_shape)
        neuron_shape = self.unit_shape(input_shape)
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

    def dynamics(self, dtype=None):
        """The base's, with ``W s[t-1]`` added to the input."""
        kernel = self.recurrent_kernel
        kernel = keras.ops.convert_to_numpy(kernel) if dtype is None else ops.cast(kernel, dtype)
        return super().dynamics(dtype).replace(
            recurrent=self.recurrence, recurrent_kernel=kernel
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            all_to_all=self.all_to_all,
            V=_to_config(self.V),
            learn_recurrent=self.learn_recurrent,
            recurrent_initializer=keras.initializers.serialize(self.recurrent_initializer),
            recurrent_kernel_size=self.recurrent_kernel_size,
        )
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class RLeaky(Recurrent, LeakyNeuron):
    __doc__ = (
        """Recurrent first-order LIF neuron (snnTorch's ``RLeaky``).

    ``v[t] = beta v[t-1] + x[t] + W s[t-1] - r[t] threshold``. State ``(v, s)``.
"""
        + _COMMON_ARGS
        + _RECURRENT_ARGS
    )


@keras.saving.register_keras_serializable(package="keras_spiking")
class RSynaptic(Recurrent, Synaptic):
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
