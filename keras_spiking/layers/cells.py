"""RNN cells of ``SpikingActivation``, ``Lowpass`` and ``Alpha`` (KerasSpiking's cells).

A cell computes one timestep, for ``keras.layers.RNN`` or a loop of your own
(Keras 3's cell protocol: ``state_size``, ``output_size``,
``call(inputs, states, training=None) -> (output, new_states)`` and
``get_initial_state(batch_size=None)``)::

    x = keras.Input((None, 32))                      # (batch, time, 32)
    y = keras.layers.RNN(keras_spiking.SpikingActivationCell(32, "relu", dt=0.01),
                         return_sequences=True)(x)

Each cell holds the matching layer, built for ``size`` units, and steps that
layer's own ``Dynamics`` with the dynamics core (``neurons.step``): a cell is
the layer taken one step at a time, with the same parameters, weights
(trained ``tau``, initial level), initial state and training behaviour. The
layers themselves are faster (they apply the activation to all timesteps at
once and scan only the state); use a cell where an ``RNN`` is needed, e.g.
inside ``keras.layers.StackedRNNCells`` or a custom recurrent loop.
"""

import keras
from keras import ops

from keras_spiking.layers.filters import Alpha, Lowpass
from keras_spiking.layers.spiking import SpikingActivation, straight_through
from keras_spiking.layers.time import check_positive_integer


def _states(states):
    """The RNN's states as a list (a single state may come as a bare tensor)."""
    return list(states) if isinstance(states, (list, tuple)) else [states]


class DynamicsCell(keras.layers.Layer):
    """Base of the cells (``keras_spiking.layers.KerasSpikingCell``): one step of a layer.

    Subclasses set ``self.layer`` (made with ``layer_kwargs()``) and may pre-
    or post-process the step (``call``). ``size`` is the number of units: Keras 3's RNN
    carries flat states ``(batch, size)``, so flatten other shapes first (or
    use the layers, which take any shape after time).

    Args:
        size: number of units (an integer >= 1; a 1-tuple is accepted).
        **kwargs: passed on to ``keras.layers.Layer`` (``name``, ``dtype``).
    """

    def __init__(self, size, **kwargs):
        super().__init__(**kwargs)
        if isinstance(size, (tuple, list)) and len(size) == 1:
            size = size[0]
        if isinstance(size, (tuple, list)):
            raise ValueError(
                f"{self.name}: size must be the number of units (Keras 3's RNN carries "
                f"flat states), got {tuple(size)!r}; flatten the inputs first, or use "
                "the layer, which takes any shape after the time axis."
            )
        self.size = check_positive_integer(self.name, "size", size)
        self.layer = None  # subclasses: the layer whose step the cell computes

    def layer_kwargs(self):
        """Arguments every cell gives its layer: the cell's name (so that errors
        name the cell) and dtype policy."""
        return dict(name=self.name, dtype=self.dtype_policy)

    @property
    def state_size(self):
        """``size`` per state of the layer (one int for a single state)."""
        n = len(self.layer.state_names)
        return self.size if n == 1 else [self.size] * n

    @property
    def output_size(self):
        """Units of one step's output."""
        return self.size

    def build(self, input_shape):
        if input_shape[-1] != self.size:
            raise ValueError(
                f"{self.name}: the cell has size={self.size} but its inputs have "
                f"{input_shape[-1]} units (input shape {tuple(input_shape)})."
            )
        self.layer.build((input_shape[0], None, self.size))
        super().build(input_shape)

    def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
        """The layer's initial state for ``batch_size`` samples, one ``(batch,
        size)`` tensor per state (KerasSpiking's signature: ``inputs`` gives the
        batch size and dtype when passed)."""
        if inputs is not None:
            batch_size = ops.shape(inputs)[0] if batch_size is None else batch_size
            dtype = dtype or inputs.dtype
        if batch_size is None:
            raise ValueError(f"{self.name}: get_initial_state needs batch_size or inputs.")
        if not self.layer.built:
            self.build((None, self.size))
        like = ops.zeros((batch_size, 1, self.size), dtype or self.compute_dtype)
        return list(self.layer.initial_state(like))

    def step(self, inputs, states):
        """One step of the layer's dynamics: ``(output, new_states)``."""
        output, states = self.layer.step(inputs, tuple(_states(states)))
        return output, list(states)

    def call(self, inputs, states, training=None):
        return self.step(inputs, states)

    def get_config(self):
        config = super().get_config()
        config["size"] = self.size
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikingActivationCell(DynamicsCell):
    """One step of ``SpikingActivation``: any activation as a spiking neuron.

    ``v += activation(x) dt``; ``n = floor(v)`` spikes, each worth ``1 / dt``
    in the output; ``v -= n``. The state is the voltage, starting uniformly
    random in ``[0, 1)`` (``seed``) from ``get_initial_state``. Training as
    the layer: spikes forward and the activation's gradient
    (``spiking_aware_training=True``), or the plain activation (False; the
    state is then passed on unchanged).

    Args:
        size: number of units.
        activation: a Keras activation (name or callable).
        dt: step in seconds; None: ``keras_spiking.default.dt``; a non-trainable
            ``keras.Variable`` is read at every step (``DtScheduler``).
        seed: integer seed of the initial voltages.
        spiking_aware_training: see above.

    Example::

        cell = keras_spiking.SpikingActivationCell(128, "relu", dt=0.01)
        spikes = keras.layers.RNN(cell, return_sequences=True)(currents)
    """

    def __init__(self, size, activation, *, dt=None, seed=None, spiking_aware_training=True,
                 **kwargs):
        super().__init__(size, **kwargs)
        self.layer = SpikingActivation(
            activation, dt=dt, seed=seed, spiking_aware_training=spiking_aware_training,
            **self.layer_kwargs())

    def call(self, inputs, states, training=None):
        layer, states = self.layer, _states(states)
        rates = layer.activation(inputs)
        if training and not layer.spiking_aware_training:
            return rates, states
        spikes, states = self.step(rates, states)  # the layer's step takes activations
        return (straight_through(spikes, rates) if training else spikes), states

    def get_config(self):
        config = super().get_config()
        config.update(self.layer.activation_config())
        return config

    from_config = classmethod(SpikingActivation.from_config.__func__)


class FilterCell(DynamicsCell):
    """One step of a synaptic filter (``LowpassCell``, ``AlphaCell``).

    Args:
        size: number of units.
        tau_initializer: the time constant in seconds (a number), or a Keras
            initializer of the trained per-unit tau.
        dt: step in seconds; None: ``keras_spiking.default.dt``; or a dt variable.
        apply_during_training: False passes the input through while training
            (the state is passed on unchanged).
        level_initializer: initializer of the trained initial state, one level
            per unit (KerasSpiking's default ``"zeros"``: a trainable weight
            starting at 0); None: a fixed zero initial state.
        initial_level_constraint: constraint on that level.
        tau_constraint: constraint on the trained tau (default ``NonNeg``).
    """

    layer_class = None

    def __init__(self, size, tau_initializer, *, dt=None, apply_during_training=True,
                 level_initializer="zeros", initial_level_constraint=None,
                 tau_constraint=None, **kwargs):
        super().__init__(size, **kwargs)
        self.layer = self.layer_class(
            tau_initializer=tau_initializer, dt=dt, apply_during_training=apply_during_training,
            level_initializer=level_initializer, initial_level_constraint=initial_level_constraint,
            tau_constraint=tau_constraint, **self.layer_kwargs())

    def call(self, inputs, states, training=None):
        if training and not self.layer.apply_during_training:
            return inputs, _states(states)
        return self.step(inputs, _states(states))

    def get_config(self):
        config = super().get_config()
        layer = self.layer.get_config()
        serialize = keras.initializers.serialize
        init = self.layer.tau_initializer
        config.update(
            tau_initializer=layer["tau"] if init is None else serialize(init),
            dt=layer["dt"],
            apply_during_training=layer["apply_during_training"],
            level_initializer=layer["level_initializer"],
            initial_level_constraint=layer["initial_level_constraint"],
            tau_constraint=layer["tau_constraint"],
        )
        return config


@keras.saving.register_keras_serializable(package="keras_spiking")
class LowpassCell(FilterCell):
    """One step of ``Lowpass``: ``y = a y + (1 - a) x`` with ``a = exp(-dt / tau)``
    (``tau dy/dt = x - y`` for an input held over the step).

{args}
    Example::

        smoothed = keras.layers.RNN(keras_spiking.LowpassCell(128, 0.01, dt=0.01),
                                    return_sequences=True)(spikes)
    """

    layer_class = Lowpass


@keras.saving.register_keras_serializable(package="keras_spiking")
class AlphaCell(FilterCell):
    """One step of ``Alpha``: two coupled lowpasses of the same ``tau``
    (``H(s) = 1 / (tau s + 1)^2``), exactly discretised; two states
    (current, output).

{args}    """

    layer_class = Alpha


_ARGS = FilterCell.__doc__.split("\n\n", 1)[1].rstrip() + "\n"
for _cell in (LowpassCell, AlphaCell):
    _cell.__doc__ = _cell.__doc__.replace("{args}", _ARGS)
