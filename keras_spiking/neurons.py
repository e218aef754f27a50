"""The leaky integrate-and-fire (LIF) dynamics core, in pure ``keras.ops``.

Every LIF in the package is the one ODE

    tau dv/dt = (v_leak - v) + r * I,    spike when v > threshold, then reset,

seen through different parameters and discretisations. This module holds the
only implementations of

* its steady-state rate (``lif_rate``) and the smoothed rate used for training
  (``soft_lif_rate``, Hunsberger & Eliasmith 2015), and
* its discrete update (``lif_step``): decay, integrate, threshold, reset.

The faces of LIF map onto ``lif_step`` as follows (``decay`` multiplies the
voltage, ``gain`` the input, per step of length ``dt`` seconds):

====================  ===========================  ===============  =================
face                  decay                        gain             reset
====================  ===========================  ===============  =================
Nengo LIF (spiking)   exp(-dt_eff / tau_rc)        1 - decay        to 0, immediate
snnTorch ``Leaky``    beta                         1                delayed one step
IF / spiking ReLU     1                            dt               subtract, immediate
NIR ``LIF`` (Euler)   1 - dt / tau                 r * dt / tau     to v_reset, immediate
NIR ``LIF`` (exact)   exp(-dt / tau)               r (1 - decay)    to v_reset, immediate
NIR ``IF``            1                            r * dt           to v_reset, immediate
====================  ===========================  ===============  =================

NIR's ``v_leak`` adds ``(1 - decay) v_leak`` per step (a bias). Read backwards
(``tau = dt / (1 - decay)`` for Euler, ``-dt / log(decay)`` for exact,
``r = gain / (1 - decay)``), the table is how ``converters/nir.py`` exports
every face to NIR so that the chosen scheme reproduces it spike for spike;
``layers.ContinuousLIF`` is the NIR face itself. snnTorch's delayed reset
to zero gives the same spikes as the immediate one; reset by subtraction
has no NIR form.

``dt_eff = clip(dt - refractory_time, 0, dt)`` is the part of the step a
neuron spends outside its refractory period (``tau_ref`` seconds after each
spike); ``refractory_step`` keeps that bookkeeping, with the spike time
interpolated inside the step so that mean rates match ``lif_rate`` exactly.
"""

import keras
from keras import ops

RESETS = ("subtract", "zero", "none")


def _float32(x):
    """Compute rate functions in float32 even under a float16/bfloat16 policy.

    The LIF rate has a steep derivative right above threshold; in float16 its
    intermediate products overflow. The caller casts the result back.
    """
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16") or not dtype.startswith("float"):
        return ops.cast(x, "float32"), dtype
    return x, dtype


def _rate_from_log_term(log_term, tau_rc, tau_ref, amplitude):
    return amplitude / (tau_ref + tau_rc * log_term)


def lif_rate(j, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=1.0):
    """Steady-state firing rate (Hz, times ``amplitude``) of a LIF neuron.

    ``amplitude / (tau_ref + tau_rc * log1p(threshold / (j - threshold)))`` for
    input current ``j > threshold``, else 0. ``tau_rc`` and ``tau_ref`` are in
    seconds. Value and gradient are finite for every finite ``j``.
    """
    j, dtype = _float32(j)
    x = j - threshold
    active = x > 0
    # log1p(threshold / x) = log(x + threshold) - log(x); clamping x to the
    # smallest normal float keeps 1/x finite in the gradient.
    x_safe = ops.where(active, x, 1.0)
    x_safe = ops.maximum(x_safe, 1.1754944e-38)
    log_term = ops.log(x_safe + threshold) - ops.log(x_safe)
    rate = ops.where(
        active, _rate_from_log_term(log_term, tau_rc, tau_ref, amplitude), 0.0
    )
    return ops.cast(rate, dtype)


def soft_lif_rate(
    j,
    tau_rc=0.02,
    tau_ref=0.002,
    threshold=1.0,
    amplitude=1.0,
    sigma=0.02,
    exact_forward=False,
):
    """Smoothed LIF rate for training (Hunsberger & Eliasmith, arXiv 1510.08829).

    ``lif_rate`` with ``max(j - threshold, 0)`` replaced by
    ``sigma * softplus((j - threshold) / sigma)``: positive everywhere, with a
    bounded derivative; ``sigma -> 0`` recovers ``lif_rate`` and ``sigma = 0``
    is exactly ``lif_rate``. Far below threshold, where that smoothed current
    falls under 1e-30, the rate stays at its value there (below 1 Hz).

    ``exact_forward=True`` returns the exact ``lif_rate`` but keeps the smooth
    derivative (a straight-through estimator): a network trained this way
    computes exactly the rates its spiking LIF neurons will fire at.
    """
    if sigma == 0:
        return lif_rate(j, tau_rc, tau_ref, threshold, amplitude)
    j, dtype = _float32(j)

    def smooth(j):
        z = (j - threshold) * (1.0 / sigma)
        x = ops.maximum(sigma * ops.softplus(z), 1e-30)  # log and 1/x stay finite
        rate = _rate_from_log_term(
            ops.log1p(threshold / x), tau_rc, tau_ref, amplitude
        )
        return rate, z, x

    @ops.custom_gradient
    def rate_fn(j):
        # the explicit derivative costs a third fewer kernels than autodiff
        parts = None if exact_forward else smooth(j)

        def grad(*args, upstream=None):
            upstream = args[0] if upstream is None else upstream
            rate, z, x = parts or smooth(j)
            # d rate / dj = rate^2 tau_rc threshold sigmoid(z) / (amplitude x (x + threshold))
            scale = tau_rc * threshold / amplitude
            return upstream * (rate * rate) * ops.sigmoid(z) * scale / (x * (x + threshold))

        if exact_forward:
            return lif_rate(j, tau_rc, tau_ref, threshold, amplitude), grad
        return parts[0], grad

    return ops.cast(rate_fn(j), dtype)


def heaviside(x):
    """Spike function without a surrogate: 1 where ``x > 0``, else 0."""
    return ops.cast(x > 0, x.dtype)


def apply_reset(v, spikes, threshold, reset, reset_value=0.0):
    """Reset the voltage of the neurons that spiked.

    ``"subtract"`` removes ``threshold`` per spike (keeps the overshoot),
    ``"zero"`` sets ``v`` to ``reset_value``, ``"none"`` leaves ``v`` alone.
    """
    if reset == "subtract":
        return v - (spikes if _is_one(threshold) else spikes * threshold)
    if reset == "zero":
        kept = v * (1 - spikes)
        if isinstance(reset_value, (int, float)) and reset_value == 0:
            return kept
        return kept + spikes * reset_value
    if reset == "none":
        return v
    raise ValueError(f"reset must be one of {RESETS}, got {reset!r}")


def _is_one(value):
    return isinstance(value, (int, float)) and value == 1


def lif_step(
    v,
    x,
    *,
    decay,
    gain=1.0,
    threshold=1.0,
    reset="subtract",
    spike_fn=heaviside,
    previous_spikes=None,
    reset_value=0.0,
):
    """One discrete LIF update. Returns ``(spikes, v_before_reset, v_next)``.

    ``v <- decay * v + gain * x``; ``spikes = spike_fn(v - threshold)``.

    The reset is *immediate* (Nengo, NIR) when ``previous_spikes`` is None: the
    neurons that spike this step are reset and ``v_next`` is the reset voltage.
    It is *delayed* (snnTorch's ``Leaky`` convention) when ``previous_spikes``
    is given: the previous step's spikes reset the voltage before
    thresholding, and ``v_next`` equals ``v_before_reset``. Delayed
    ``"subtract"`` removes ``threshold`` after integrating
    (``v = decay v + gain x - s[t-1] threshold``); delayed ``"zero"`` sets the
    old voltage to ``reset_value`` before it decays, keeping this step's input
    (``v = decay (v (1 - s[t-1]) + s[t-1] reset_value) + gain x``).
    ``gain=None`` means ``gain = 1 - decay`` (``v`` relaxes towards ``x``: the
    exact zero-order-hold step of ``tau dv/dt = x - v``), computed as
    ``x + decay (v - x)``. ``gain`` or ``decay`` equal to the Python number 1
    adds no multiply.
    """
    delayed = previous_spikes is not None
    if delayed and reset == "zero":
        v = apply_reset(v, previous_spikes, threshold, reset, reset_value)
    if gain is None:
        v = x + decay * (v - x)
    else:
        if not _is_one(decay):
            v = decay * v
        v = v + (x if _is_one(gain) else gain * x)
    if delayed and reset != "zero":
        v = apply_reset(v, previous_spikes, threshold, reset, reset_value)
    spikes = spike_fn(v - threshold)
    if delayed:
        return spikes, v, v
    return spikes, v, apply_reset(v, spikes, threshold, reset, reset_value)


def refractory_step(
    v, x, refractory_time, *, dt, tau_rc, tau_ref, threshold=1.0, min_voltage=0.0
):
    """One step of Nengo's spiking LIF, built on ``lif_step``.

    ``v`` integrates ``(x - v) / tau_rc`` exactly (zero-order hold) over the part
    of the step outside the refractory period; a neuron crossing ``threshold``
    spikes, resets to 0, and stays refractory for ``tau_ref`` seconds counted
    from the interpolated crossing time. At most one spike per step. Voltages
    below ``min_voltage`` are clipped to it (Nengo's default: 0).
    Returns ``(spikes, v_next, refractory_time_next)``; ``spikes`` is 0/1.
    """
    refractory_time = refractory_time - dt
    # decay = exp(-dt_eff / tau_rc) with dt_eff = clip(dt - refractory_time, 0, dt)
    decay = ops.exp(ops.clip(refractory_time - dt, -dt, 0.0) * (1.0 / tau_rc))
    spikes, v_peak, v_next = lif_step(
        v, x, decay=decay, gain=None, threshold=threshold, reset="zero"
    )
    # Time from the crossing to the end of the step, from the exact solution.
    # Only read where a neuron spiked (then v_peak > threshold and x > threshold
    # when the voltage starts below threshold); elsewhere it may be inf or NaN.
    overshoot = ops.clip((v_peak - threshold) / (x - threshold), 0.0, 1.0 - 1e-7)
    t_after = tau_rc * ops.log1p(-overshoot)  # negative: minus the time after
    refractory_time = ops.where(
        spikes > 0, (tau_ref + dt) + t_after, refractory_time
    )
    v_next = ops.maximum(v_next, min_voltage)
    return spikes, v_next, refractory_time
