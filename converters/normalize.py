"""Data-based firing-rate normalisation (no hand-tuned ``scale_firing_rates``).

For each neuron layer of the converted model, run the rate version of the
graph on calibration data (e.g. 1000 training images), take the ``p``-th
percentile (default 99.9, Rueckauer et al. 2017) of the layer's positive
firing rates ``r_p`` (Hz, before any amplitude), and scale that layer's rates
by ``k = 1 / (r_p * dt)``: the ``p``-th percentile then fires once per step,
the most a binary-spiking neuron can. Each spike's value is divided by ``k``,
so the layer's mean output is unchanged (see ``rules``). A percentile rather
than the maximum keeps a few outliers from making every other neuron slow.

Channel-wise normalisation (``convert(channel_norm=True)``, the default; as
Spiking-YOLO's channel-norm, Kim et al. 2020): in a feature map (a site with
channels on its last axis and at least one spatial axis) the channels' rates
can differ by a large factor, and one percentile for the whole layer leaves
the quiet channels firing a few spikes in the whole run (a 3x3 depthwise
kernel averages too few of them to hide it). Each channel ``c`` of a ReLU
site then fires its own ``p``-th percentile ``r_p,c`` once per step:
``k_c = 1 / (r_p,c * dt) = s_c * k`` with ``s_c = r_p / r_p,c``
(``channel_factors``; 1 for a channel that never fires). ReLU is positively
homogeneous, so ``relu(s_c x) / s_c = relu(x)``: the converter multiplies the
site's input current by ``s_c`` (folded into the kernel and bias of the
Dense/Conv that computes it, when that is its only consumer, else a
``Rescaling``) and its output by ``1 / s_c``: the neuron sends spikes of 1
(``amplitude = dt``) and a ``Rescaling`` after it multiplies channel ``c``'s
by ``1 / (k s_c dt)`` (one multiply, as the amplitude was), so the mean
output is unchanged and the neurons keep one scalar threshold ``1 / k``.

``Converter.calibrate(model)`` puts it together: ``check_calibration`` checks
the data, ``Converter.probe`` builds the unscaled rate-mode graph up to every
neuron site's input current, and ``site_scales`` / ``channel_factors`` turn
the measured rates into the scales.
"""

import warnings

import keras
import numpy as np

from keras_spiking.neurons import lif_rate
from keras_spiking.validation import check_model_data

#: Calibration images run per batch.
BATCH_SIZE = 100


def base_rate(source, currents):
    """Firing rate in Hz at scale k = 1 of a neuron of ``source`` (numpy)."""
    if source.family in ("relu", "qcfs"):  # qcfs sites keep their threshold (no k)
        return np.maximum(currents, 0.0)
    p = source.kwargs
    return keras.ops.convert_to_numpy(
        lif_rate(currents + p["offset"], p["tau_rc"], p["tau_ref"], p["threshold"], 1.0))


def check_calibration(model, data):
    """``data`` (one array per input of ``model``) as float32 arrays shaped
    ``(samples, *input_shape)``; raises ``ValueError`` naming what is wrong."""
    return check_model_data("convert", "calibration_data", data,
                            [x.shape[1:] for x in model.inputs], "x_train[:1000]")


def site_rates(probe, sources, arrays):
    """Per neuron site, its rates (Hz, at ``k = 1``, zeros included) on the
    calibration ``arrays`` as a 2-D array ``(values, channels)``: ``channels``
    is the last axis of a feature map (a site of rank >= 2 without the batch),
    1 otherwise (a Dense site's units are not channels). ``probe`` maps the
    arrays to the input current of each site (``Converter.probe``), ``sources``
    is ``{site: NeuronSource}`` in the probe's output order."""
    names = list(sources)
    rates = {n: [] for n in names}
    count = arrays[0].shape[0]
    for start in range(0, count, BATCH_SIZE):
        batch = [a[start:start + BATCH_SIZE] for a in arrays]
        outs = probe(batch if len(batch) > 1 else batch[0], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for name, current in zip(names, outs):
            r = np.asarray(base_rate(sources[name], keras.ops.convert_to_numpy(current)),
                           "float32")
            rates[name].append(r.reshape(-1, r.shape[-1]) if r.ndim >= 3 else r.reshape(-1, 1))
    return {name: np.concatenate(rates[name]) for name in names}


def site_scales(rates, percentile, dt):
    """Per neuron site: the normalising scale ``k = 1 / (r_p * dt)``, ``r_p`` the
    ``percentile``-th of the site's positive ``rates`` (``site_rates``). A site
    that never fires keeps ``k = 1`` (with a warning)."""
    scales = {}
    for name, r in rates.items():
        positive = r[r > 0]
        if positive.size == 0:
            warnings.warn(f"convert: neuron layer '{name}' never fires on the "
                          "calibration data; its firing-rate scale is left at 1.",
                          stacklevel=4)
            scales[name] = 1.0
            continue
        r_p = float(np.percentile(positive, percentile))
        scales[name] = 1.0 / (r_p * dt)
    return scales


def channel_factors(rates, percentile):
    """The channel factors ``s_c = r_p / r_p,c`` of one site's ``rates``
    (``(values, channels)``, from ``site_rates``): ``r_p`` the ``percentile``-th
    of all its positive rates, ``r_p,c`` that of channel ``c``'s; with
    ``k_c = s_c k`` each channel's ``percentile``-th rate fires once per step.
    A channel that never fires keeps 1. None when there is one channel or no
    positive rate (nothing to balance)."""
    positive = rates[rates > 0]
    if rates.shape[1] < 2 or positive.size == 0:
        return None
    r_p = float(np.percentile(positive, percentile))
    factors = np.ones(rates.shape[1], "float64")
    for c in range(rates.shape[1]):
        column = rates[:, c]
        column = column[column > 0]
        if column.size:
            factors[c] = r_p / float(np.percentile(column, percentile))
    return factors


#: the threshold factors ``zero_reset_threshold`` tries
_FACTORS = np.linspace(0.5, 1.0, 101)


def zero_reset_threshold(rates, k, dt, samples=20000):
    """The threshold factor ``f`` (threshold ``f / k``, spike value ``1 / k``) with which
    reset-to-zero IF neurons best reproduce ReLU on the site's positive ``rates``.

    With reset by subtraction a neuron driven by ``u`` thresholds per step fires
    ``u`` times per step (``u <= 1``). Reset to zero loses the voltage above
    the threshold at each spike: from 0, the voltage ``n u`` first exceeds
    ``f`` after ``n = floor(f / u) + 1`` steps, so the neuron fires ``1 / n``
    times per step. ``f`` is the one of 0.5, 0.505, ..., 1 whose ``1 / n``
    is closest to ``u`` in the mean square over (a seeded sample of) the site's
    rates ``u = min(r k dt, 1)``; 1 for a site that never fires.
    """
    u = np.minimum(np.asarray(rates, "float64") * k * dt, 1.0)
    if u.size == 0:
        return 1.0
    if u.size > samples:
        u = np.random.default_rng(0).choice(u, samples, replace=False)
    fired = 1.0 / (np.floor(_FACTORS[:, None] / u[None, :]) + 1.0)
    return float(_FACTORS[np.argmin(np.mean((fired - u[None, :]) ** 2, axis=1))])
