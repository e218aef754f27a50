"""``SpikeMaxPool``: max pooling whose output is still a spike train.

The max of several spike trains is not the spike train of the maximum rate
(at almost every step some input spikes, so ``max`` fires far too often).
``SpikeMaxPool`` gates instead (after Rueckauer et al. 2017): at every step,
each pooling window passes on the spike of the input that has spiked most
often so far, so its output rate approaches the largest input rate as the
counts separate. Ties favour a spike: while the leading inputs are tied (all
of them at the first step), the window spikes if any of them does.
"""

import keras
from keras import ops

from keras_spiking import layer_facts, neurons
from keras_spiking.layers.base import checked_inputs
from keras_spiking.layers.time import TimeFold
from keras_spiking.validation import check_bool


@keras.saving.register_keras_serializable(package="keras_spiking")
class SpikeMaxPool(TimeFold):
    """Gated max pooling of spikes over ``(batch, time, ...)``.

    ``y[t]`` in a window = ``x[t]`` of the window's input with the largest
    spike count over steps ``0 .. t-1`` (a spike if any tied leader spikes).
    Inputs are spikes (0, or one amplitude shared by the layer); the output
    holds the same amplitude. The counts are cumulative sums over the time
    axis, so the layer runs without a time loop; with ``stateful=True`` they
    carry over to the next call (a chunked run equals one long run), and
    ``reset_state()`` clears them. Counts are exact up to 8 million steps.

    Args:
        layer: a Keras max pooling layer (``MaxPooling1D/2D/3D`` or
            ``GlobalMaxPooling1D/2D/3D``) that defines the windows.
        stateful: carry the spike counts across calls (needs a fixed batch).

    Example::

        spikes = keras_spiking.layers.SpikingIF()(currents)   # (batch, T, 8, 8, 4)
        pooled = SpikeMaxPool(keras.layers.MaxPooling2D(2))(spikes)
    """

    def __init__(self, layer, stateful=False, **kwargs):
        if layer_facts.facts_of(layer).pool != "max":
            names = ", ".join(c.__name__ for c in layer_facts.classes(pool="max"))
            raise TypeError(
                f"SpikeMaxPool: layer must be a Keras max pooling layer ({names}), "
                f"got {layer!r}."
            )
        super().__init__(layer, **kwargs)
        self.stateful = check_bool(self.name, "stateful", stateful)
        self.counts = None

    def build(self, input_shape):
        super().build(input_shape)
        if self.stateful:
            if input_shape[0] is None:
                raise ValueError(
                    f"{self.name}: stateful=True needs a fixed batch size; build the "
                    "model with keras.Input(shape, batch_size=N)."
                )
            self.counts = self.add_weight(
                shape=(input_shape[0],) + tuple(input_shape[2:]),
                initializer="zeros", trainable=False, name="spike_counts",
            )

    def reset_state(self):
        """Forget the spike counts carried by a stateful layer."""
        if self.counts is not None:
            self.counts.assign(ops.zeros(self.counts.shape, self.counts.dtype))

    def call(self, inputs):
        inputs = checked_inputs(self, inputs)
        if inputs.shape[1] == 0:
            raise ValueError(f"{self.name}: got inputs of shape {tuple(inputs.shape)}: "
                             "zero timesteps (axis 1); a time layer needs at least one step.")
        spiked = neurons.heaviside(inputs)  # 0/1; NaN stays NaN
        counts = ops.cumsum(spiked, axis=1) - spiked  # spikes before each step
        if self.counts is not None:
            counts = counts + ops.expand_dims(ops.cast(self.counts, inputs.dtype), 1)
            self.counts.assign(ops.cast(counts[:, -1] + spiked[:, -1], self.counts.dtype))
        # one pooling call on four stacked tensors: the leading count, the
        # leading count with a spike bit below it, the spike amplitude, and
        # where the input is NaN (max pooling would skip a NaN: it must show)
        nan = ops.cast(ops.isnan(inputs), inputs.dtype)
        stacked = ops.concatenate([counts, 2 * counts + spiked, inputs, nan], axis=0)
        lead, lead_and_spike, amplitude, nan = ops.split(
            self._fold_call(stacked, None, None), 4)
        out = (lead_and_spike - 2 * lead) * amplitude
        return ops.where(nan > 0, float("nan"), out)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        config = super().get_config()
        config["stateful"] = self.stateful
        del config["steps_per_call"]
        return config


# registered here, not in layer_facts.py, which this module imports
layer_facts.register(SpikeMaxPool, role="pooling", pool="spike", time_axis="scans")
