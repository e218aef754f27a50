"""Activity and weight regularisers for spiking networks.

``FiringRate`` regularises the firing rates of a spike sequence (below).
``L1L2``, ``L1`` and ``L2`` are Keras' penalties measured from a ``target``
instead of from 0, ``RangedRegularizer`` applies any regulariser to the
distance from a target or a ``(low, high)`` band, and ``Percentile`` applies
the penalty to a percentile of the activity along an axis (by default the
largest value over the batch), which is less sensitive to a few outliers than
a penalty on every value.

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

from keras_spiking.validation import check_finite_data, check_number, check_text


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
        spikes = ops.convert_to_tensor(check_text("FiringRate", "spikes", spikes))
        check_text("FiringRate", "spikes", spikes)
        check_finite_data("FiringRate", "spikes", spikes)  # eager calls only
        if len(spikes.shape) < 3:
            raise ValueError(
                "FiringRate: expected spikes shaped (batch, time, neurons...), got "
                f"shape {tuple(spikes.shape)}; regularise a layer with "
                "return_sequences=True."
            )
        if 0 in tuple(spikes.shape[:2]):
            raise ValueError(
                f"FiringRate: got spikes of shape {tuple(spikes.shape)}, with no samples "
                "or no timesteps; a rate needs at least one of each.")
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


def _check_target(owner, target):
    """``(low, high)`` from a number (``low == high``) or a ``(low, high)`` pair."""
    if isinstance(target, (list, tuple)):
        if len(target) != 2:
            raise ValueError(
                f"{owner}: target must be a number or a (low, high) pair, got {target!r}."
            )
        low = float(check_number(owner, "target[0] (low)", target[0]))
        high = float(check_number(owner, "target[1] (high)", target[1]))
        if low > high:
            raise ValueError(
                f"{owner}: target (low, high) needs low <= high, got {tuple(target)!r}."
            )
        return low, high
    value = float(check_number(owner, "target", target))
    return value, value


def _normalize_axis(owner, axis, ndim):
    """Sorted non-negative axes from an int or a tuple of ints."""
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    if not axes or any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
        raise TypeError(f"{owner}: axis must be an int or a tuple of ints, got {axis!r}.")
    if ndim is not None:
        if any(not -ndim <= a < ndim for a in axes):
            raise ValueError(
                f"{owner}: axis {axis!r} is out of range for an input of rank {ndim}."
            )
        axes = tuple(a % ndim for a in axes)
        if len(set(axes)) != len(axes):
            raise ValueError(f"{owner}: axis {axis!r} names the same axis twice.")
        return tuple(sorted(axes))
    return axes


def percentile(x, q, axis=0):
    """The ``q``-th percentile of ``x`` along ``axis`` (an int or a tuple), in keras.ops.

    With the ``n`` values along ``axis`` sorted, ``v[0] <= ... <= v[n-1]``, and
    ``p = q / 100 * (n - 1)``, the result is the linear interpolation
    ``v[floor(p)] + (p - floor(p)) * (v[floor(p) + 1] - v[floor(p)])``
    (numpy's default method). ``q = 100`` is the maximum, ``q = 0`` the minimum.
    The axes in ``axis`` are removed from the result; gradients flow to the one
    or two values interpolated.
    """
    x = ops.convert_to_tensor(x)
    if not keras.backend.is_float_dtype(x.dtype):
        x = ops.cast(x, keras.config.floatx())
    ndim = len(x.shape)
    axes = _normalize_axis("percentile", axis, ndim)
    if q == 100:
        return ops.max(x, axis=axes)
    if q == 0:
        return ops.min(x, axis=axes)
    kept = [i for i in range(ndim) if i not in axes]
    x = ops.transpose(x, kept + list(axes))
    shape = ops.shape(x)
    x = ops.sort(ops.reshape(x, tuple(shape[: len(kept)]) + (-1,)), axis=-1)
    n = ops.shape(x)[-1]
    exact = "float64" if keras.backend.standardize_dtype(x.dtype) == "float64" else "float32"
    position = ops.cast(n - 1, exact) * (q / 100)
    below = ops.floor(position)
    lower = ops.cast(below, "int32")
    upper = ops.minimum(lower + 1, ops.cast(n - 1, "int32"))
    v_lower = ops.take(x, lower, axis=-1)
    v_upper = ops.take(x, upper, axis=-1)
    return v_lower + ops.cast(position - below, x.dtype) * (v_upper - v_lower)


@keras.saving.register_keras_serializable(package="keras_spiking")
class RangedRegularizer(keras.regularizers.Regularizer):
    """Applies ``regularizer`` to the distance of its input from a target or a band.

    With ``target`` a number ``c``, the distance is ``e = x - c``. With ``target``
    a band ``(low, high)``, it is ``e = relu(low - x) + relu(x - high)``: zero
    inside the band, the distance to the nearest edge outside it. The penalty
    is ``regularizer(e)``.

    Args:
        target: a number, or a ``(low, high)`` pair with ``low <= high``.
        regularizer: a Keras regulariser (or its name or config); None is
            ``keras.regularizers.L1L2(l2=0.01)``.
    """

    def __init__(self, target=0, regularizer=None):
        owner = type(self).__name__
        self.low, self.high = _check_target(owner, target)
        self.target = (self.low, self.high) if isinstance(target, (list, tuple)) else self.low
        if regularizer is None:
            regularizer = keras.regularizers.L1L2(l2=0.01)
        elif isinstance(regularizer, (str, dict)):
            regularizer = keras.regularizers.get(regularizer)
        if not callable(regularizer):
            raise TypeError(
                f"{owner}: regularizer must be a Keras regularizer (or a callable), got "
                f"{regularizer!r}."
            )
        self.regularizer = regularizer

    def distance(self, x):
        """``x - target``, or the distance outside the ``(low, high)`` band."""
        x = ops.convert_to_tensor(x)
        if self.low == self.high:
            return x - self.low
        return ops.relu(self.low - x) + ops.relu(x - self.high)

    def __call__(self, x):
        return self.regularizer(self.distance(x))

    def _target_config(self):
        return list(self.target) if isinstance(self.target, tuple) else self.target

    def get_config(self):
        return {
            "target": self._target_config(),
            "regularizer": keras.regularizers.serialize(self.regularizer),
        }


@keras.saving.register_keras_serializable(package="keras_spiking")
class L1L2(RangedRegularizer):
    """Keras' L1L2 penalty measured from ``target``:
    ``l1 * sum(|e|) + l2 * sum(e^2)`` with ``e`` the distance from ``target``
    (see ``RangedRegularizer``: ``x - target``, or outside a ``(low, high)`` band).

    Args:
        l1, l2: weights of the two terms (>= 0).
        target: a number, or a ``(low, high)`` band.
    """

    def __init__(self, l1=0.0, l2=0.0, target=0, **kwargs):
        owner = type(self).__name__
        if kwargs:
            raise TypeError(
                f"{owner}: unexpected argument(s) {sorted(kwargs)}; the arguments are "
                "l1, l2 and target."
            )
        self.l1 = float(check_number(owner, "l1", l1, low=0))
        self.l2 = float(check_number(owner, "l2", l2, low=0))
        super().__init__(target=target, regularizer=keras.regularizers.L1L2(self.l1, self.l2))

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2, "target": self._target_config()}


@keras.saving.register_keras_serializable(package="keras_spiking")
class L1(L1L2):
    """``l1 * sum(|e|)``, ``e`` the distance from ``target`` (see ``L1L2``)."""

    def __init__(self, l1=0.01, target=0, **kwargs):
        super().__init__(l1=l1, target=target, **kwargs)


@keras.saving.register_keras_serializable(package="keras_spiking")
class L2(L1L2):
    """``l2 * sum(e^2)``, ``e`` the distance from ``target`` (see ``L1L2``)."""

    def __init__(self, l2=0.01, target=0, **kwargs):
        super().__init__(l2=l2, target=target, **kwargs)


@keras.saving.register_keras_serializable(package="keras_spiking")
class Percentile(L1L2):
    """The ``L1L2`` penalty of a percentile of the activity along ``axis``.

    ``P = percentile(x, percentile, axis)`` (linear interpolation, see
    ``percentile``), then ``l1 * sum(|e|) + l2 * sum(e^2)`` with ``e`` the
    distance of ``P`` from ``target``. With the default ``axis=0`` (the batch)
    and ``percentile=100`` this penalises each neuron's largest activity in the
    batch; a lower percentile ignores the few largest values. For example, keep
    most neurons' peak rates within 5-10 Hz::

        activity_regularizer=keras_spiking.regularizers.Percentile(
            percentile=95, target=(5, 10), l2=0.01)

    Args:
        percentile: in [0, 100]; 100 is the maximum, 0 the minimum.
        axis: the axis, or tuple of axes, the percentile is taken over.
        target: a number, or a ``(low, high)`` band.
        l1, l2: weights of the two terms (>= 0).
    """

    def __init__(self, percentile=100, axis=0, target=0, l1=0, l2=0):
        owner = type(self).__name__
        self.percentile = float(check_number(owner, "percentile", percentile, low=0, high=100))
        axes = _normalize_axis(owner, axis, None)
        self.axis = axes if isinstance(axis, (list, tuple)) else axes[0]
        super().__init__(l1=l1, l2=l2, target=target)

    def __call__(self, x):
        return super().__call__(percentile(x, self.percentile, self.axis))

    def get_config(self):
        config = super().get_config()
        config.update(
            percentile=self.percentile,
            axis=list(self.axis) if isinstance(self.axis, tuple) else self.axis,
        )
        return config
