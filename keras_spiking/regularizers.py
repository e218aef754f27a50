"""Firing-rate regularisation of spiking layers.

``FiringRate`` is a Keras activity regulariser for a layer whose output is a
spike sequence ``s`` shaped ``(batch, time, neurons...)``. With
``r[b, n] = mean_t s[b, t, n] / dt`` the rate of neuron ``n`` on sample ``b``
(spikes per step when ``dt`` is None, else Hz with ``dt`` in seconds), the
loss added per batch is

    mean_{b,n} [ l1 * r[b, n]
                 + band_weight * (relu(min_rate - r[b, n])^2 + relu(r[b, n] - max_rate)^2) ]

The first term asks for sparse activity (fewer spikes, less energy); the
second keeps each neuron's rate inside ``[min_rate, max_rate]`` on every
sample, reviving silent neurons and taming saturated ones. Both are sums of
per-sample terms, so the value does not depend on how a batch is split: the
same under ``tf.distribute`` data parallelism as on one device. (A band on the
batch-mean rate would not have that property: each replica would see only
its share of the batch.)

Like Keras' own regularisers, the call returns a sum over the batch (the
value above times the batch size); Keras divides activity losses by the batch
size, so the model's loss receives exactly the value above.
"""

import keras
from keras import ops

from keras_spiking.validation import check_number


@keras.saving.register_keras_serializable(package="keras_spiking")
class FiringRate(keras.regularizers.Regularizer):
    """Activity regulariser: L1 sparsity of firing rates and a target rate band.

    Args:
        l1: weight of the mean firing rate (>= 0).
        min_rate, max_rate: the band for each neuron's rate on each sample
            (None: no bound on that side); spikes per step, or Hz with ``dt``.
        band_weight: weight of the squared distance outside the band (>= 0).
        dt: step length in seconds; None measures rates in spikes per step.

    Example::

        keras_spiking.layers.Leaky(beta=0.9, activity_regularizer=
            keras_spiking.regularizers.FiringRate(l1=1e-3, min_rate=0.01))
    """

    def __init__(self, l1=0.0, min_rate=None, max_rate=None, band_weight=1.0, dt=None):
        owner = "FiringRate"
        self.l1 = float(check_number(owner, "l1", l1, low=0))
        self.band_weight = float(check_number(owner, "band_weight", band_weight, low=0))
        self.dt = None if dt is None else float(check_number(owner, "dt", dt, low=0, low_open=True))
        self.min_rate = None if min_rate is None else float(check_number(owner, "min_rate", min_rate, low=0))
        self.max_rate = None if max_rate is None else float(check_number(owner, "max_rate", max_rate, low=0))
        if self.min_rate is not None and self.max_rate is not None and self.min_rate > self.max_rate:
            raise ValueError(
                f"{owner}: min_rate must be <= max_rate, got min_rate={min_rate!r} "
                f"and max_rate={max_rate!r}."
            )

    def rates(self, spikes):
        """Per-sample, per-neuron rates ``(batch, neurons...)``."""
        spikes = ops.convert_to_tensor(spikes)
        if len(spikes.shape) < 3:
            raise ValueError(
                "FiringRate: expected spikes shaped (batch, time, neurons...), got "
                f"shape {tuple(spikes.shape)}; regularise a layer with "
                "return_sequences=True."
            )
        r = ops.mean(spikes, axis=1)
        return r if self.dt is None else r / self.dt

    def __call__(self, spikes):
        r = self.rates(spikes)
        penalty = ops.zeros_like(r)
        if self.l1:
            penalty = penalty + self.l1 * r
        if self.band_weight and self.min_rate is not None:
            penalty = penalty + self.band_weight * ops.square(ops.relu(self.min_rate - r))
        if self.band_weight and self.max_rate is not None:
            penalty = penalty + self.band_weight * ops.square(ops.relu(r - self.max_rate))
        batch = ops.cast(ops.shape(r)[0], r.dtype)
        return batch * ops.mean(penalty)

    def get_config(self):
        return dict(
            l1=self.l1, min_rate=self.min_rate, max_rate=self.max_rate,
            band_weight=self.band_weight, dt=self.dt,
        )
