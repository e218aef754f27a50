"""``TimeStateLayer``: the base of every layer that carries state over time.

Neurons and synaptic filters take ``(batch, time, ...)`` inputs and scan a
small state (voltages, currents, refractory times) along axis 1 with
``keras_spiking.timeloop.scan_time``. This base owns what they share:

* ``return_sequences`` (all timesteps, or the last one), ``return_state``;
* ``stateful``: the final state of one call is the initial state of the next
  (needs a fixed batch size; ``reset_state()`` clears it), for long or
  streamed runs in chunks;
* ``initial_state`` passed to ``call``.

A subclass defines ``state_names`` (a tuple of names), ``initial_state(inputs)``
(a tuple of tensors shaped ``(batch, ...)``; override for seeded or non-zero
states) and ``step(x_t, states) -> (y_t, states)``. ``x_t`` is ``(batch, ...)``;
``y_t`` is a tensor or a tuple of tensors. ``step_function(inputs)`` may return
a closure instead of ``step`` that holds what does not change over time.

``DynamicsLayer`` is the base of every neuron and synaptic filter: a face of
the dynamics core (``keras_spiking.neurons``). It defines only
``dynamics(dtype)``, the ``neurons.Dynamics`` built from its own parameters,
and which of the core's results it returns (``select_output``); the step is the core's.
"""

import inspect

import keras
import numpy as np
from keras import ops

from keras_spiking import config, neurons
from keras_spiking.kernels import threshold_scan
from keras_spiking.timeloop import scan_time
from keras_spiking.validation import RefusesText, check_bool, check_finite_data


def _called_directly(layer):
    """True unless ``layer`` runs inside another layer's or a model's call."""
    try:
        from keras.src.backend.common import global_state

        context = global_state.get_global_attribute("current_call_ctx")
    except Exception:  # noqa: BLE001 (another Keras layout: check every call)
        return True
    return context is None or getattr(context, "entry_layer", layer) is layer


def checked_inputs(layer, inputs, check_finite=True):
    """``inputs`` of a package layer's ``call`` (text was refused by ``RefusesText``
    in ``__call__``): NaN/Inf refused when the layer is called eagerly by itself
    (README "Non-finite data"; inside a model, a compiled step or with the check
    off, NaN flows to the output), integers cast to the layer's compute dtype."""
    if check_finite and _called_directly(layer):
        check_finite_data(layer.name, "inputs", inputs)  # concrete tensors only
    if "float" not in keras.backend.standardize_dtype(inputs.dtype):
        inputs = ops.cast(inputs, layer.compute_dtype)
    return inputs


#: attribute of a graph tensor made by ``RepeatTime``: the static tensor it repeats
_STATIC = "_keras_spiking_static_input"


def mark_static(repeated, static):
    """Record on a TensorFlow graph tensor which static tensor it repeats, so that a
    layer that needs only that tensor (the closed form's ``static_input``, the fused
    scan's ``repeated_from``) can take ``static`` and leave the repeat unused:
    TensorFlow then prunes it instead of materialising ``batch x T`` copies (1 GB
    at T = 120 for the converted reference ANN's first layer). XLA (JAX,
    ``jit_compile``) simplifies a slice of a repeat by itself."""
    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    if tf.executing_eagerly():
        return
    try:
        setattr(repeated, _STATIC, static)
    except (AttributeError, TypeError):  # pragma: no cover - a tensor type without a dict
        pass


def repeated_from(inputs):
    """The tensor ``(batch, ...)`` that ``RepeatTime`` repeated into ``inputs`` in this
    TensorFlow graph, or None (not known to repeat one)."""
    return getattr(inputs, _STATIC, None)


def static_input(inputs):
    """``inputs[:, 0]`` of a ``(batch, time, ...)`` tensor whose steps are all equal:
    the tensor ``RepeatTime`` repeated, when it made ``inputs`` in this graph, so
    that the repeat is never computed; else the slice."""
    static = repeated_from(inputs)
    return inputs[:, 0] if static is None else static


class AttributeConfig:
    """Mixin: ``get_config`` adds the attributes each class in the hierarchy names
    in its ``config_attributes`` (numpy arrays as lists), base classes first."""

    config_attributes = ()

    def get_config(self):
        config = super().get_config()
        for cls in reversed(type(self).__mro__):
            for name in cls.__dict__.get("config_attributes", ()):
                value = getattr(self, name)
                config[name] = value.tolist() if isinstance(value, np.ndarray) else value
        return config


class TimeStateLayer(RefusesText, AttributeConfig, keras.layers.Layer):
    """Base class: scans ``step`` over axis 1 of ``(batch, time, ...)`` inputs.

    Args:
        return_sequences: return every timestep (True) or only the last one.
        return_state: also return the final state tuple.
        stateful: carry the final state over to the next call.
        unroll: None (default): unroll the time loop when the number of steps
            is static and small (``timeloop.MAX_UNROLL``), else a symbolic
            loop; True / False force one (KerasSpiking's ``unroll``).
        time_major: inputs and outputs are ``(time, batch, ...)`` instead of
            ``(batch, time, ...)``.
    """

    state_names = ()
    #: None, or the dtype in which float16/bfloat16 inputs are scanned (state
    #: and arithmetic): "float32" keeps long recursions accurate under mixed
    #: precision policies; outputs are cast back to the compute dtype.
    state_dtype = None

    def __init__(
        self,
        return_sequences=True,
        return_state=False,
        stateful=False,
        unroll=None,
        time_major=False,
        **kwargs,
    ):
        try:
            super().__init__(**kwargs)
        except ValueError as error:  # Keras' message does not say which value
            if "Unrecognized keyword arguments" not in str(error):
                raise
            known = set(inspect.signature(keras.layers.Layer.__init__).parameters) | {
                "input_dim", "input_shape", "batch_input_shape", "batch_size", "weights"}
            arg, value = next((k, v) for k, v in kwargs.items() if k not in known)
            raise TypeError(
                f"{type(self).__name__} got an unexpected argument {arg}={value!r}."
            ) from None
        self.return_sequences = check_bool(self.name, "return_sequences", return_sequences)
        self.return_state = check_bool(self.name, "return_state", return_state)
        self.stateful = check_bool(self.name, "stateful", stateful)
        if unroll is not None:
            check_bool(self.name, "unroll", unroll)
        self.unroll = unroll
        self.time_major = check_bool(self.name, "time_major", time_major)
        self.state_variables = None

    # -- to be defined by subclasses -------------------------------------------------
    def step(self, x_t, states):
        raise NotImplementedError

    def fused_scan(self, inputs, states, training=None):
        """``(outputs, states)`` of the whole loop computed by one fused kernel
        (``keras_spiking.kernels``), or None: ``scan_time`` runs ``step``."""
        return None

    def step_function(self, inputs):
        """The ``step`` used for this call. Override to compute time-invariant
        parts (clipped parameters, casts) once per call and close over them."""
        return self.step

    def loop_parts(self, inputs):
        """``(step, loop_inputs, finish)`` of this call: ``scan_time`` runs ``step``
        over ``loop_inputs`` and ``finish`` (None: nothing) maps the stacked
        outputs. Default: ``step_function(inputs)`` over ``inputs``; override to
        take time-invariant work out of the loop."""
        return self.step_function(inputs), inputs, None

    def initial_state(self, inputs):
        """Zeros shaped like one timestep of ``inputs``, one per state name."""
        zeros = ops.zeros_like(inputs[:, 0])
        return tuple(zeros for _ in self.state_names)

    # -- shared machinery ---------------------------------------------------------------
    def check_input_shape(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"{self.name}: expected inputs shaped (batch, time, features...), got "
                f"shape {tuple(input_shape)}. Add a time axis (e.g. "
                "keras_spiking.layers.RepeatTime or ops.expand_dims(x, 1))."
            )

    def unit_shape(self, input_shape):
        """The shape of one timestep's units (all axes after time), all known."""
        shape = tuple(input_shape[2:])
        if any(d is None for d in shape):
            raise ValueError(
                f"{self.name}: every axis after time must have a known size, got "
                f"input shape {tuple(input_shape)}."
            )
        return shape

    def build(self, input_shape):
        self.check_input_shape(input_shape)
        if self.time_major:
            input_shape = (input_shape[1], input_shape[0]) + tuple(input_shape[2:])
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError(
                    f"{self.name}: stateful=True needs a fixed batch size; build the "
                    "model with keras.Input(shape, batch_size=N)."
                )
            self.state_variables = [
                self.add_weight(
                    shape=(input_shape[0],) + tuple(input_shape[2:]),
                    initializer="zeros",
                    trainable=False,
                    name=f"{name}_state",
                )
                for name in self.state_names
            ]
            self._state_initialized = self.add_weight(
                shape=(), initializer="zeros", trainable=False, name="state_initialized"
            )
        super().build(input_shape)

    def reset_state(self):
        """Forget the carried state: the next call starts from ``initial_state``."""
        self.reset_states()

    def reset_states(self, states=None):
        """Forget the carried state (``states=None``), or set it to ``states``
        (one array per state, ``(batch, ...)``; KerasSpiking's name)."""
        if self.state_variables is None:
            return
        if states is None:
            for variable in self.state_variables:
                variable.assign(ops.zeros(variable.shape, variable.dtype))
            self._state_initialized.assign(0.0)
            return
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != len(self.state_variables):
            raise ValueError(
                f"{self.name}: reset_states got {len(states)} states, expected "
                f"{len(self.state_variables)} ({', '.join(self.state_names)})."
            )
        for variable, value in zip(self.state_variables, states):
            if tuple(np.shape(value)) != tuple(variable.shape):
                raise ValueError(
                    f"{self.name}: reset_states: a state of shape {np.shape(value)} does "
                    f"not fit the carried state of shape {tuple(variable.shape)}."
                )
            variable.assign(ops.cast(value, variable.dtype))
        self._state_initialized.assign(1.0)

    def call(self, inputs, initial_state=None, training=None):
        inputs = checked_inputs(self, inputs)
        time_axis = 0 if self.time_major else 1
        if len(inputs.shape) > time_axis and inputs.shape[time_axis] == 0:
            raise ValueError(
                f"{self.name}: got inputs of shape {tuple(inputs.shape)}: zero timesteps "
                f"(axis {time_axis}); a time layer needs at least one step.")
        if not self.time_major:
            return self.scan(inputs, initial_state, training)
        result = self.scan(ops.moveaxis(inputs, 0, 1), initial_state, training)
        if not self.return_sequences:
            return result
        if self.return_state:
            outputs, states = result
            return keras.tree.map_structure(lambda y: ops.moveaxis(y, 0, 1), outputs), states
        return keras.tree.map_structure(lambda y: ops.moveaxis(y, 0, 1), result)

    def scan(self, inputs, initial_state=None, training=None):
        """``call`` on batch-major inputs ``(batch, time, ...)``."""
        dtype = self.state_dtype
        low_precision = keras.backend.standardize_dtype(inputs.dtype) in ("float16", "bfloat16")
        if dtype is not None and low_precision:
            if initial_state is not None:
                initial_state = tuple(ops.cast(s, dtype) for s in initial_state)
            result = self.scan(ops.cast(inputs, dtype), initial_state, training)
            return keras.tree.map_structure(lambda y: ops.cast(y, inputs.dtype), result)
        if initial_state is not None:
            states = tuple(initial_state)
        elif self.stateful:
            fresh = self.initial_state(inputs)
            started = ops.cast(self._state_initialized, inputs.dtype)
            states = tuple(
                started * ops.cast(v, inputs.dtype) + (1 - started) * f
                for v, f in zip(self.state_variables, fresh)
            )
        else:
            states = self.initial_state(inputs)
        fused = self.fused_scan(inputs, tuple(states), training)
        if fused is not None:
            outputs, states = fused
        else:
            step, loop_inputs, finish = self.loop_parts(inputs)
            outputs, states = scan_time(
                step, loop_inputs, tuple(states), unroll=self.unroll,
                xla=config.default.xla_time_loops and not training,
            )
            if finish is not None:
                outputs = finish(outputs)
        if self.stateful:
            for variable, value in zip(self.state_variables, states):
                variable.assign(ops.cast(value, variable.dtype))
            self._state_initialized.assign(1.0)
        if not self.return_sequences:
            outputs = keras.tree.map_structure(lambda y: y[:, -1], outputs)
        if self.return_state:
            return outputs, tuple(states)
        return outputs

    # a dt variable (DtScheduler) is tracked, so that compiled steps see it, but
    # it belongs to the schedule, not the layer: get_config saves its value
    def _saved_variables(self):
        dt = getattr(self, "dt", None)
        variables = self._trainable_variables + self._non_trainable_variables
        return [v for v in variables if v is not dt]

    def save_own_variables(self, store):
        for i, variable in enumerate(self._saved_variables()):
            store[f"{i}"] = variable

    def load_own_variables(self, store):
        variables = self._saved_variables()
        if len(store.keys()) != len(variables):
            raise ValueError(
                f"{self.name}: the saved file has {len(store.keys())} variables for this "
                f"layer, expected {len(variables)}; was it saved from another version?"
            )
        for i, variable in enumerate(variables):
            variable.assign(store[f"{i}"])

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.time_major:
            shape = (shape[1], shape[0]) + shape[2:]
            return (shape[1], shape[0]) + shape[2:] if self.return_sequences else shape[:1] + shape[2:]
        return shape if self.return_sequences else shape[:1] + shape[2:]

    config_attributes = ("return_sequences", "return_state", "stateful", "unroll", "time_major")


class DynamicsLayer(TimeStateLayer):
    """Base of the neurons and filters: a ``TimeStateLayer`` whose step is
    ``keras_spiking.neurons.step`` on the layer's ``dynamics``.

    Subclasses define ``dynamics(dtype=None)``: the ``neurons.Dynamics`` of the
    layer's current parameters, as tensors of ``dtype`` for a call, or as
    Python floats / numpy arrays when ``dtype`` is None (what the NIR exporter
    and ``ModelEnergy`` read). ``select_output(spikes, voltage)`` picks what the layer
    returns per step (default: the spikes, or the voltage without threshold).
    """

    def __init__(self, *args, integer_state=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.integer_state = _integer_state(self.name, integer_state)

    def dynamics(self, dtype=None):
        raise NotImplementedError

    def call_dynamics(self, dtype):
        """``dynamics(dtype)`` with the layer's ``integer_state`` (set by
        ``keras_spiking.hardware.quantize``: integer arithmetic of a chip)."""
        d = self.dynamics(dtype)
        if self.integer_state is None:
            return d
        spec = dict(self.integer_state)
        q = spec["quantum"] = ops.convert_to_tensor(np.asarray(spec["quantum"]), dtype)
        changes = dict(integer=neurons.IntegerState(**spec))
        if d.threshold is not None:  # integer * q, as the state: equal values compare equal
            changes["threshold"] = ops.round(ops.cast(d.threshold, dtype) / q) * q
        return d.replace(**changes)

    def get_config(self):
        config = super().get_config()
        if self.integer_state is not None:
            config["integer_state"] = dict(self.integer_state)
        return config

    def select_output(self, spikes, voltage):
        return voltage if spikes is None else spikes

    @property
    def outputs_spikes(self):
        """True if the layer's output is its spikes (what ``ModelEnergy`` counts
        as the events of the next layer)."""
        return self.dynamics().spiking

    def initial_state(self, inputs):
        return neurons.initial_state(self.call_dynamics(inputs.dtype), inputs[:, 0])

    def step_function(self, inputs, dynamics=None):
        d = dynamics or self.call_dynamics(inputs.dtype)  # time-invariant: built once per call

        def step(x_t, states):
            spikes, voltage, states = neurons.step(d, x_t, states)
            return self.select_output(spikes, voltage), states

        return step

    def loop_parts(self, inputs):
        """On TensorFlow, the input gain applied to all steps at once and, when the
        output is the spikes, their amplitude to the stacked output
        (``neurons.hoist``): the same numbers as ``step_function``'s loop with two
        kernels fewer per step (1.02-1.05x CPU-seconds for the SpikingActivation
        example). Not on JAX, where XLA fuses them into the step for free and the
        extra passes over all steps cost 0.72-0.89x (2026-12-02, under load)."""
        if keras.backend.backend() != "tensorflow":
            return super().loop_parts(inputs)
        d = self.call_dynamics(inputs.dtype)
        d_loop, x_loop, amplitude = neurons.hoist(d, inputs)
        # outputs_spikes reads the parameters' values; with select_output's default it is
        # d.spiking, known without them (also while tracing a compiled step)
        default = type(self).outputs_spikes is DynamicsLayer.outputs_spikes
        finish = None
        if amplitude is not None and not (d.spiking if default else self.outputs_spikes):
            d_loop = d_loop.replace(amplitude=amplitude)
        elif amplitude is not None:
            def finish(spikes):
                return spikes * amplitude
        return self.step_function(inputs, d_loop), x_loop, finish

    def fused_scan(self, inputs, states, training=None):
        """The loop as one op when ``kernels.threshold_scan`` covers the dynamics
        (first-order binary-spike neurons on TensorFlow's CPU), else None."""
        if keras.backend.backend() != "tensorflow":
            return None
        d = self.call_dynamics(inputs.dtype)
        if not threshold_scan.applies(d, inputs):
            return None
        # the voltage is computed only if the output includes it
        voltage = "voltage" in keras.tree.flatten(self.select_output("spikes", "voltage"))
        spikes, voltage, states = threshold_scan.scan(
            d, inputs, states, voltage=voltage or not d.spiking, training=training,
            static=repeated_from(inputs))
        return self.select_output(spikes, voltage), states

    def step(self, x_t, states):
        return self.step_function(ops.expand_dims(x_t, 1))(x_t, states)


def _integer_state(owner, spec):
    """Check an ``integer_state`` argument: None or a dict of ``IntegerState``'s
    fields (``quantum`` a number or a list, one per unit)."""
    if spec is None:
        return None
    if not isinstance(spec, dict):
        raise TypeError(f"{owner}: integer_state must be None or a dict of "
                        f"{tuple(neurons.IntegerState.__dataclass_fields__)}, got {spec!r}.")
    unknown = set(spec) - set(neurons.IntegerState.__dataclass_fields__)
    if unknown:
        raise ValueError(f"{owner}: integer_state has unknown keys {sorted(unknown)}; the "
                         f"keys are {tuple(neurons.IntegerState.__dataclass_fields__)}.")
    quantum = np.asarray(spec.get("quantum", 1.0), "float64")
    if quantum.size == 0 or not np.all(np.isfinite(quantum)) or np.any(quantum <= 0):
        raise ValueError(f"{owner}: integer_state quantum must be finite and > 0, got "
                         f"{spec.get('quantum')!r}.")
    spec = dict(spec, quantum=float(quantum) if quantum.ndim == 0 else quantum.tolist())
    neurons.IntegerState(**spec)  # checks the other fields
    return spec


def parameter_value(value, variable, dtype, clip=None):
    """A layer parameter for ``Dynamics``: the variable if it is learned (cast to
    ``dtype``, optionally clipped to ``clip = (low, high)``), else the fixed value
    (a Python float folds into the graph; an array becomes a constant).
    ``dtype=None`` returns numpy / Python floats (for exporters)."""
    if variable is None:
        if dtype is None or isinstance(value, float) or value is None:
            return value
        return ops.convert_to_tensor(value, dtype)
    if dtype is None:
        value = np.asarray(keras.ops.convert_to_numpy(variable), "float64")
        value = np.clip(value, *clip) if clip else value
        return float(value) if value.ndim == 0 else value
    value = ops.cast(variable, dtype)
    return ops.clip(value, *clip) if clip else value
