"""``SpikeTimeDense``: a dense layer of time-to-first-spike LIF neurons.

Inputs and outputs are spike TIMES, shape ``(batch, features)``, ``inf`` where
a neuron does not spike; the math is in ``keras_spiking.spike_time``.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_spiking import spike_time
from keras_spiking.layers.base import checked_inputs
from keras_spiking.validation import RefusesText, check_number


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikeTimeDense(RefusesText, keras.layers.Layer):
    """Dense layer of LIF neurons that each spike once, with exact gradients.

    Each output neuron ``j`` obeys (times in the unit of ``tau_syn``)::

        tau_syn dI_j/dt = -I_j + tau_syn sum_i W_ij delta(t - t_i)
        tau_mem dV_j/dt = -(V_j - leak_potential) + I_j / g_leak

    with ``tau_mem = tau_ratio * tau_syn``, and its output is the first time
    ``V_j`` reaches ``threshold`` (closed form: Göltz, Kriener et al. 2021).
    Gradients w.r.t. ``W`` and the input times are exact; silent neurons and
    inputs after the output spike get zero gradient.

    Args:
        units: number of output neurons.
        tau_syn: synaptic time constant (> 0), in the unit of the spike times
            (seconds for a physical model; 1 in the paper's normalisation).
        tau_ratio: ``tau_mem / tau_syn``, 1 or 2 (the ratios with a closed form).
        threshold: firing threshold (> leak_potential).
        leak_potential: resting potential ``E_leak``.
        g_leak: leak conductance; default ``1 / tau_ratio`` (the paper's choice).
        bias_times: times of extra input spikes that every sample receives
            (e.g. ``(0.9,)``), each with its own trainable weights.
        kernel_initializer, bias_initializer: for ``W`` ``(n_in, units)`` and
            the bias spikes' weights ``(len(bias_times), units)``.
        max_dw_norm: if set, drop the weight gradient of any (sample, neuron)
            whose largest weight gradient exceeds it (the paper's guard against
            neurons that barely spike; 0.2 in the paper). ``None`` keeps all.

    Hardware in the loop: ``keras_spiking.use_forward_fn(model, f)`` sets
    ``layer.forward_fn`` to a callable ``f(input_times, kernel, layer) ->
    output_times`` (e.g. a ``SpikeTimeEmulator``, or a chip run with
    ``run_eagerly=True``); its times are the output and the gradient is the
    model's at those times. ``forward_fn`` is not saved with the model.

    Example::

        model = keras.Sequential([
            keras.Input((9,)),                       # input spike times
            SpikeTimeDense(11, bias_times=(0.5,)),
            SpikeTimeDense(3, bias_times=(0.5,)),
        ])
        model.compile("adam", loss=keras_spiking.SpikeTimeCrossEntropy(),
                      metrics=[keras_spiking.FirstSpikeAccuracy()])
    """

    def __init__(
        self,
        units,
        tau_syn=1.0,
        tau_ratio=1,
        threshold=1.0,
        leak_potential=0.0,
        g_leak=None,
        bias_times=(),
        kernel_initializer=None,
        bias_initializer=None,
        max_dw_norm=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = f"SpikeTimeDense '{self.name}'"
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"{owner}: units must be a positive integer, got {units!r}.")
        self._g_leak_arg = g_leak
        self.g_leak = spike_time.check_neuron_parameters(
            owner, tau_syn, tau_ratio, threshold, leak_potential, g_leak)
        flat = np.ravel(np.asarray(bias_times, dtype=object))
        if isinstance(bias_times, (str, bytes)) or any(
                isinstance(t, bool) or not isinstance(t, numbers.Real) for t in flat):
            raise TypeError(f"{owner}: bias_times must be numbers (spike times), got "
                            f"{bias_times!r}; pass e.g. bias_times=(0.5,).")
        bias_times = tuple(float(t) for t in flat)
        for t in bias_times:
            check_number(owner, "bias_times", t)
        if max_dw_norm is not None:
            check_number(owner, "max_dw_norm", max_dw_norm, low=0, low_open=True)
        self.units = int(units)
        self.tau_syn = float(tau_syn)
        self.tau_ratio = int(tau_ratio)
        self.threshold = float(threshold)
        self.leak_potential = float(leak_potential)
        self.bias_times = bias_times
        self.kernel_initializer = keras.initializers.get(
            kernel_initializer or keras.initializers.RandomNormal(1.0, 0.5))
        self.bias_initializer = keras.initializers.get(
            bias_initializer or self.kernel_initializer)
        self.max_dw_norm = None if max_dw_norm is None else float(max_dw_norm)
        self.forward_fn = None

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                f"SpikeTimeDense '{self.name}': expected input spike times shaped "
                f"(batch, features), got shape {tuple(input_shape)}; flatten first.")
        n_in = input_shape[-1]
        if n_in is None:
            raise ValueError(
                f"SpikeTimeDense '{self.name}': the last input dimension must be "
                f"known, got input shape {input_shape}.")
        self.kernel = self.add_weight(
            name="kernel", shape=(n_in, self.units),
            initializer=self.kernel_initializer)
        self.bias_kernel = None
        if self.bias_times:
            self.bias_kernel = self.add_weight(
                name="bias_kernel", shape=(len(self.bias_times), self.units),
                initializer=self.bias_initializer)
        # fraction of silent outputs in the last training batch, and which
        # neurons were silent in at least one sample (for WeightBumping)
        self.silent_fraction = self.add_weight(
            name="silent_fraction", shape=(), initializer="zeros", trainable=False)
        self.silent_neurons = self.add_weight(
            name="silent_neurons", shape=(self.units,), initializer="zeros",
            trainable=False)

    def neuron_parameters(self):
        """The keyword arguments of ``spike_time.first_spike_times``."""
        return dict(tau_syn=self.tau_syn, tau_ratio=self.tau_ratio,
                    threshold=self.threshold, leak_potential=self.leak_potential,
                    g_leak=self.g_leak)

    def full_inputs_and_kernel(self, inputs):
        """Input times with the bias spikes appended, and the matching kernel."""
        inputs = ops.cast(inputs, self.compute_dtype)
        if not self.bias_times:
            return inputs, ops.cast(self.kernel, self.compute_dtype)
        bias = ops.convert_to_tensor(np.asarray(self.bias_times), self.compute_dtype)
        bias = ops.broadcast_to(bias[None], (ops.shape(inputs)[0], len(self.bias_times)))
        times = ops.concatenate([inputs, bias], axis=-1)
        kernel = ops.concatenate([self.kernel, self.bias_kernel], axis=0)
        return times, ops.cast(kernel, self.compute_dtype)

    def _check_no_nan(self, inputs):
        try:  # concrete tensors only; traced ones are checked when fit/predict run eagerly
            has_nan = bool(ops.convert_to_numpy(ops.any(ops.isnan(inputs))))
        except Exception:  # noqa: BLE001 (symbolic tensor: no value yet)
            return
        if has_nan:
            raise ValueError(
                f"SpikeTimeDense '{self.name}': input spike times contain NaN; "
                "use inf for 'no spike' and finite times otherwise.")

    def call(self, inputs, training=False):
        inputs = checked_inputs(self, inputs, check_finite=False)  # inf: no spike
        self._check_no_nan(inputs)
        if inputs.shape[0] == 0:  # an empty batch: nothing to reduce over
            return ops.zeros((0, self.units), self.compute_dtype)
        times, kernel = self.full_inputs_and_kernel(inputs)
        params = self.neuron_parameters()
        if self.forward_fn is not None:
            observed = ops.stop_gradient(self.forward_fn(times, kernel, self))
        else:
            observed = spike_time.first_spike_times(times, kernel, **params)
        out = spike_time.spike_times(
            times, kernel, observed, max_dw_norm=self.max_dw_norm, **params)
        # a NaN input time has no meaning: say so in the output, never guess
        nan_rows = ops.any(ops.isnan(times), axis=-1, keepdims=True)
        out = ops.where(nan_rows, ops.full_like(out, float("nan")), out)
        if training:
            silent = ops.cast(ops.logical_not(ops.isfinite(observed)), "float32")
            self.silent_fraction.assign(ops.mean(silent))
            self.silent_neurons.assign(ops.max(silent, axis=0))
        return out

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.units,)

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            tau_syn=self.tau_syn,
            tau_ratio=self.tau_ratio,
            threshold=self.threshold,
            leak_potential=self.leak_potential,
            g_leak=self._g_leak_arg,
            bias_times=list(self.bias_times),
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            bias_initializer=keras.initializers.serialize(self.bias_initializer),
            max_dw_norm=self.max_dw_norm,
        )
        return config

