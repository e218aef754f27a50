"""Exact first-spike times of current-based LIF neurons ("fast & deep").

Göltz, Kriener et al., Nature Machine Intelligence 3, 823-835 (2021). Each
neuron spikes at most once; inputs and outputs are spike TIMES (``inf`` = no
spike). Between input spikes the neuron is linear:

    tau_syn dI/dt = -I + tau_syn * sum_i w_i delta(t - t_i)   (I jumps by w_i)
    tau_mem dV/dt = -(V - leak_potential) + I / g_leak,   V(0) = leak_potential

and it spikes when V first reaches ``threshold``. With the PSP kernel
``eps(s)`` of one unit input, ``U(t) = sum_{t_i < t} w_i eps(t - t_i)`` equals
``g_leak (V(t) - leak_potential)``, so the spike is the first upward crossing
of ``U(t) = c`` with ``c = g_leak (threshold - leak_potential)``. For the two
time-constant ratios with a closed form (``a1 = sum w_i exp(t_i/tau_syn)``):

* ``tau_mem = tau_syn`` (``tau_ratio=1``): ``eps(s) = (s/tau) exp(-s/tau)``,
  ``t* = tau_syn [b/a1 - W0(-(c/a1) exp(b/a1))]``,
  ``b = sum w_i (t_i/tau_syn) exp(t_i/tau_syn)``; no spike if the argument of
  the Lambert W0 is below ``-1/e``.
* ``tau_mem = 2 tau_syn`` (``tau_ratio=2``): ``eps(s) = exp(-s/tau_mem) -
  exp(-s/tau_syn)``, ``t* = 2 tau_syn ln(2 a1 / (a2 + sqrt(a2^2 - 4 a1 c)))``,
  ``a2 = sum w_i exp(t_i/tau_mem)``; no spike if the discriminant is negative.

The sums run over the causal set (inputs before ``t*``). The forward pass sorts
the inputs, evaluates the candidate time of every causal prefix at once with
cumulative sums, and keeps the earliest one that is consistent (not before the
prefix's last input, before the next one). A prefix with ``a1 <= 0`` has no
upward crossing, so it never yields a spike.

Gradients come from the implicit function theorem at the spike time:
``dt*/dp = -(dU/dp) / (dU/dt)`` at ``t = t*`` (identical to differentiating the
closed forms, but needing neither W nor the sort, and valid at any OBSERVED
spike time: hardware in the loop). Silent neurons, non-causal inputs and
neurons whose model voltage is not rising at the spike get zero gradient.

Times are in the unit of ``tau_syn`` (seconds in a physical model). Inputs
should span less than about 80 tau_syn (float32; 700 in float64) within one
sample: earlier inputs are then clipped to that horizon, where their effect on
the voltage is below exp(-80) of their weight anyway.
"""

import math
from fractions import Fraction

import keras
import numpy as np
from keras import ops

from keras_spiking.validation import check_number

#: Supported ratios tau_mem / tau_syn (the two with a closed form).
TAU_RATIOS = (1, 2)

# 1/e to 40 digits
_INV_E = Fraction("0.3678794411714423215955237701614608674458")

# W0 = sum_k _BRANCH_SERIES[k] p^k near z = -1/e, p = sqrt(2 (e z + 1))
_BRANCH_SERIES = (
    -1.0, 1.0, -1.0 / 3.0, 11.0 / 72.0, -43.0 / 540.0, 769.0 / 17280.0,
    -221.0 / 8505.0, 680863.0 / 43545600.0, -1963.0 / 204120.0,
    226287557.0 / 37623398400.0,
)


def _inv_e_split(dtype):
    """1/e as hi + lo in ``dtype``, so that z + 1/e is exact near the branch."""
    np_dtype = np.dtype(keras.backend.standardize_dtype(dtype))
    hi = np_dtype.type(float(_INV_E))
    lo = np_dtype.type(float(_INV_E - Fraction(float(hi))))
    return hi, lo


def _const(value, dtype):
    # ops.cast of a Python float goes through float32; build it exactly instead
    return ops.convert_to_tensor(
        np.asarray(value, dtype=keras.backend.standardize_dtype(dtype)))


def _is_float64(x):
    return keras.backend.standardize_dtype(x.dtype) == "float64"


def _lambert_w0_value(z, nonpositive=False):
    """W0(z); ``nonpositive=True`` promises ``z <= 0`` and skips the large-z form."""
    dtype = z.dtype
    f64 = _is_float64(z)
    e = _const(math.e, dtype)
    # distance from the branch point, without cancellation
    inv_e_hi, inv_e_lo = _inv_e_split(dtype)
    delta = (z + _const(inv_e_hi, dtype)) + _const(inv_e_lo, dtype)
    invalid = delta < 0
    p = ops.sqrt(ops.maximum(2.0 * e * delta, 0.0))
    series = ops.zeros_like(z)
    for coef in reversed(_BRANCH_SERIES):
        series = series * p + _const(coef, dtype)
    # Winitzki's start elsewhere (relative error ~1e-2 or better)
    zs = ops.maximum(z, -0.25)
    l1 = ops.log1p(zs)
    winitzki = l1 * (1.0 - ops.log1p(l1) / (2.0 + l1))
    near = z < -0.25
    w = ops.where(near, series, winitzki)
    # Halley iterations; two forms for numerical safety:
    # w exp(w) = z for z <= 1, and w + log(w) = log(z) for z > 1 (no overflow)
    large = z > 1.0
    log_z = ops.log(ops.maximum(z, 1.0))
    for _ in range(3 if f64 else 2):
        # small/moderate z
        ew = ops.exp(ops.minimum(w, 2.0))
        f = w * ew - z
        wp1 = ops.where(ops.abs(w + 1.0) < 1e-30, 1e-30, w + 1.0)
        step_small = f / (ew * wp1 - (w + 2.0) * f / (2.0 * wp1))
        if nonpositive:
            w = w - step_small
            continue
        # large z: g(w) = w + log w - log z
        wl = ops.maximum(w, 0.5)
        g = wl + ops.log(wl) - log_z
        g1 = 1.0 + 1.0 / wl
        g2 = -1.0 / (wl * wl)
        step_large = 2.0 * g * g1 / (2.0 * g1 * g1 - g * g2)
        w = w - ops.where(large, step_large, step_small)
    p_cut = 0.02 if f64 else 0.3
    w = ops.where(p < p_cut, series, w)
    w = ops.where(z == 0, ops.zeros_like(w), w)
    nan = _const(float("nan"), dtype)
    return ops.where(invalid, nan, w)


@ops.custom_gradient
def _lambert_w0(z):
    w = _lambert_w0_value(z)

    def grad(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        one_plus_w = ops.maximum(1.0 + w, _const(1e-30, w.dtype))
        return upstream * ops.exp(-w) / one_plus_w

    return w, grad


def lambert_w0(z):
    """Principal branch W0 of the Lambert W function, in ``keras.ops``.

    Solves ``w exp(w) = z`` for ``z >= -1/e`` (``w >= -1``); ``z < -1/e`` gives
    NaN (no real solution). A branch-point series or Winitzki's approximation
    starts a few Halley iterations; accurate to about 1e-10 (float64) and
    1e-6 (float32). The gradient is ``W / (z (1 + W)) = exp(-W) / (1 + W)``
    (1 at ``z = 0``, large but finite at ``z = -1/e``).
    """
    z = ops.convert_to_tensor(z)
    if not keras.backend.is_float_dtype(z.dtype):
        z = ops.cast(z, keras.config.floatx())
    return _lambert_w0(z)


def _check_ratio(owner, tau_ratio):
    if isinstance(tau_ratio, bool) or tau_ratio not in TAU_RATIOS:
        raise ValueError(
            f"{owner}: tau_ratio (tau_mem / tau_syn) must be one of {TAU_RATIOS} "
            f"(the ratios with a closed-form spike time), got {tau_ratio!r}."
        )


def check_neuron_parameters(owner, tau_syn, tau_ratio, threshold, leak_potential,
                            g_leak):
    """Validate the spike-time neuron's parameters; returns ``g_leak`` resolved."""
    check_number(owner, "tau_syn", tau_syn, low=0, low_open=True)
    _check_ratio(owner, tau_ratio)
    check_number(owner, "threshold", threshold)
    check_number(owner, "leak_potential", leak_potential)
    if g_leak is None:
        g_leak = 1.0 / tau_ratio
    check_number(owner, "g_leak", g_leak, low=0, low_open=True)
    if threshold <= leak_potential:
        raise ValueError(
            f"{owner}: threshold must be above leak_potential ({leak_potential}), "
            f"got {threshold!r}; a neuron at rest would already be above it."
        )
    return float(g_leak)


def psp_kernel(s, tau_syn, tau_ratio):
    """PSP ``eps(s)`` of one unit input ``s`` after its arrival (``s >= 0``).

    ``tau_ratio=1``: ``(s/tau_syn) exp(-s/tau_syn)``; ``tau_ratio=2``:
    ``exp(-s/(2 tau_syn)) - exp(-s/tau_syn)``. Scaled so that ``U = g_leak
    (V - leak_potential) = sum_i w_i eps(t - t_i)``.
    """
    x = s / tau_syn
    if tau_ratio == 1:
        return x * ops.exp(-x)
    return ops.exp(-0.5 * x) - ops.exp(-x)


def _psp_kernel_derivative(s, tau_syn, tau_ratio):
    x = s / tau_syn
    if tau_ratio == 1:
        return (1.0 - x) * ops.exp(-x) / tau_syn
    return (ops.exp(-x) - 0.5 * ops.exp(-0.5 * x)) / tau_syn


def first_spike_times(input_times, weights, *, tau_syn=1.0, tau_ratio=1,
                      threshold=1.0, leak_potential=0.0, g_leak=None):
    """Closed-form first spike times (no gradient; see ``spike_times``).

    Args:
        input_times: ``(batch, n_in)`` input spike times (``inf`` = none).
        weights: ``(n_in, n_out)`` synaptic weights (current jumps).
        tau_syn, tau_ratio, threshold, leak_potential, g_leak: the neuron
            (module docstring); ``threshold`` may be per output neuron.

    Returns:
        ``(batch, n_out)`` output spike times, ``inf`` where a neuron is silent.
    """
    _check_ratio("first_spike_times", tau_ratio)
    g_leak = 1.0 / tau_ratio if g_leak is None else g_leak
    t_in = ops.stop_gradient(ops.convert_to_tensor(input_times))
    dtype = t_in.dtype
    w = ops.stop_gradient(ops.cast(weights, dtype))
    c = _const(g_leak * (np.asarray(threshold, "float64") - leak_potential), dtype)
    horizon = 700.0 if _is_float64(t_in) else 80.0
    inf = _const(float("inf"), dtype)

    order = ops.argsort(t_in, axis=1)
    ts = ops.take_along_axis(t_in, order, axis=1)  # (batch, n_in) sorted
    ws = ops.take(w, order, axis=0)  # (batch, n_in, n_out)
    finite = ops.isfinite(ts)
    t_ref = ops.where(finite[:, :1], ts[:, :1], ops.zeros_like(ts[:, :1]))
    ts_safe = ops.where(finite, ts, t_ref)
    ws = ws * ops.cast(finite, dtype)[:, :, None]
    x = ops.minimum((ts_safe - t_ref) / tau_syn, horizon)[:, :, None]
    e1 = ops.exp(x)
    a1 = ops.cumsum(ws * e1, axis=1)
    valid = (a1 > 0) & finite[:, :, None]
    a1_safe = ops.where(valid, a1, ops.ones_like(a1))
    if tau_ratio == 1:
        b = ops.cumsum(ws * x * e1, axis=1)
        ratio = b / a1_safe
        # z = -(c/a1) exp(b/a1) = -exp(log_mag)
        log_mag = ops.log(c) - ops.log(a1_safe) + ratio
        valid = valid & (log_mag <= -1.0)
        z = -ops.exp(ops.minimum(log_mag, -1.0))
        local = ratio - _lambert_w0_value(z, nonpositive=True)
    else:
        a2 = ops.cumsum(ws * ops.exp(0.5 * x), axis=1)
        disc = a2 * a2 - 4.0 * a1_safe * c
        valid = valid & (disc >= 0)
        root = a2 + ops.sqrt(ops.maximum(disc, 0.0))
        valid = valid & (root > 0)
        root_safe = ops.where(valid, root, ops.ones_like(root))
        local = 2.0 * (ops.log(2.0 * a1_safe) - ops.log(root_safe))
    t_cand = t_ref[:, :, None] + tau_syn * local
    t_next = ops.concatenate([ts[:, 1:], ops.full_like(ts[:, :1], inf)], axis=1)
    valid = (
        valid
        & (t_cand >= ts_safe[:, :, None])
        & (t_cand < t_next[:, :, None])
    )
    t_cand = ops.where(valid, t_cand, inf)
    return ops.min(t_cand, axis=1)


def spike_times(input_times, weights, output_times=None, *, tau_syn=1.0,
                tau_ratio=1, threshold=1.0, leak_potential=0.0, g_leak=None,
                max_dw_norm=None, min_slope=1e-9):
    """First spike times with exact gradients w.r.t. weights and input times.

    If ``output_times`` is given (e.g. observed on hardware or an emulator),
    they are the values, and the gradient is the model's at those times
    (``-(dU/dp) / (dU/dt)``); otherwise ``first_spike_times`` supplies them.
    Entries that are silent, or where the model's voltage is not rising faster
    than ``min_slope`` (U per time unit) get zero gradient. ``max_dw_norm``:
    drop the weight gradient of a (sample, neuron) whose largest entry would
    exceed it (the paper's update clipping); input-time gradients are kept.
    """
    _check_ratio("spike_times", tau_ratio)
    input_times = ops.convert_to_tensor(input_times)
    dtype = input_times.dtype
    weights = ops.cast(weights, dtype)
    if output_times is None:
        output_times = first_spike_times(
            input_times, weights, tau_syn=tau_syn, tau_ratio=tau_ratio,
            threshold=threshold, leak_potential=leak_potential, g_leak=g_leak)
    t_out = ops.stop_gradient(ops.cast(output_times, dtype))
    out_finite = ops.isfinite(t_out)
    t_out_safe = ops.where(out_finite, t_out, ops.zeros_like(t_out))[:, None, :]
    in_finite = ops.isfinite(input_times)
    t_in_safe = ops.where(in_finite, input_times, ops.zeros_like(input_times))
    s = t_out_safe - t_in_safe[:, :, None]  # (batch, n_in, n_out)
    causal = (s > 0) & in_finite[:, :, None]
    mask = ops.cast(causal, dtype)
    s_safe = ops.where(causal, s, ops.zeros_like(s))
    eps = psp_kernel(s_safe, tau_syn, tau_ratio) * mask
    eps_const = ops.stop_gradient(eps)
    w_const = ops.stop_gradient(weights)[None]
    slope = ops.sum(
        w_const * _psp_kernel_derivative(ops.stop_gradient(s_safe), tau_syn,
                                         tau_ratio) * mask, axis=1)
    rising = out_finite & (slope > min_slope)
    slope = ops.where(rising, slope, ops.ones_like(slope))
    # value 0, gradient -dU/dp / dU/dt (U = sum_i w_i eps(t - t_i))
    u_w = ops.sum(weights[None] * eps_const, axis=1)
    u_t = ops.sum(w_const * eps, axis=1)
    shift_w = -(u_w - ops.stop_gradient(u_w)) / slope
    shift_t = -(u_t - ops.stop_gradient(u_t)) / slope
    if max_dw_norm is not None:
        sensitivity = ops.max(eps_const, axis=1) / slope
        shift_w = _chop_gradient(shift_w, sensitivity, float(max_dw_norm))
    zero = ops.zeros_like(shift_w)
    return t_out + ops.where(rising, shift_w, zero) + ops.where(rising, shift_t, zero)


def _chop_gradient(x, sensitivity, max_dw_norm):
    """Identity; its gradient is zeroed where ``|upstream| * sensitivity``
    exceeds ``max_dw_norm``."""

    @ops.custom_gradient
    def chop(x, sensitivity):
        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            keep = ops.abs(upstream) * sensitivity <= max_dw_norm
            return (ops.where(keep, upstream, ops.zeros_like(upstream)),
                    ops.zeros_like(sensitivity))

        return x, grad

    return chop(x, ops.stop_gradient(sensitivity))


def integrate_first_spike_times(input_times, weights, *, tau_syn=1.0, tau_ratio=1,
                                threshold=1.0, leak_potential=0.0, g_leak=None,
                                dt=1e-3, t_end=None):
    """Reference: first spike times by RK4 integration of the neuron ODE (numpy).

    Independent of the closed forms, for checking them. Each input is injected
    at the grid step nearest to its time (timing error <= dt/2; exact for
    times on the grid); the crossing is interpolated linearly within a step.
    Works for any ``tau_ratio > 0``. ``t_end`` defaults to the last finite
    input time plus 10 tau_mem. Returns ``(batch, n_out)`` times (``inf``: none).
    """
    t_in = np.asarray(input_times, "float64")
    w = np.asarray(weights, "float64")
    g_leak = 1.0 / tau_ratio if g_leak is None else g_leak
    tau_mem = tau_ratio * tau_syn
    finite = np.isfinite(t_in)
    if t_end is None:
        t_end = (t_in[finite].max() if finite.any() else 0.0) + 10 * tau_mem
    n_steps = int(np.ceil(t_end / dt))
    index = np.where(finite, np.rint(np.where(finite, t_in, 0) / dt), -1).astype(int)
    jumps = {k: (index == k).astype("float64") @ w for k in np.unique(index[index >= 0])}
    current = np.zeros((t_in.shape[0], w.shape[1]))
    v = np.full_like(current, float(leak_potential))
    out = np.full_like(current, np.inf)

    def f(i_syn, v_mem):
        return -i_syn / tau_syn, (-(v_mem - leak_potential) + i_syn / g_leak) / tau_mem

    for k in range(n_steps):
        if k in jumps:
            current = current + jumps[k]
        k1 = f(current, v)
        k2 = f(current + 0.5 * dt * k1[0], v + 0.5 * dt * k1[1])
        k3 = f(current + 0.5 * dt * k2[0], v + 0.5 * dt * k2[1])
        k4 = f(current + dt * k3[0], v + dt * k3[1])
        new_current = current + dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        new_v = v + dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        crossed = (v < threshold) & (new_v >= threshold) & np.isinf(out)
        frac = (threshold - v) / np.where(crossed, new_v - v, 1.0)
        out = np.where(crossed, (k + frac) * dt, out)
        current, v = new_current, new_v
    return out


def encode_times(values, t_early=0.15, t_late=2.0, large_early=True):
    """Values in [0, 1] to spike times in ``[t_early, t_late]``.

    ``large_early=True`` maps 1 to ``t_early`` (strong input spikes first).
    Works on numpy arrays and tensors alike.
    """
    v = values if large_early is False else 1.0 - values
    return t_early + v * (t_late - t_early)


def first_spike_class(output_times):
    """Index of the earliest output spike; -1 where no output neuron spikes."""
    t = ops.convert_to_tensor(output_times)
    first = ops.argmin(t, axis=-1)
    any_spike = ops.any(ops.isfinite(t), axis=-1)
    return ops.where(any_spike, first, -ops.ones_like(first))
