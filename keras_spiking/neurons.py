"""The dynamics core: every neuron and synapse of the package, in pure ``keras.ops``.

Every LIF in the package (and every synaptic filter) is one discrete update,
per step of ``dt`` seconds, described by a frozen ``Dynamics``::

    J[t] = x[t] + offset + W y[t-1]                         input current (W: recurrence)
    i[t] = synapse_decay i[t-1] + synapse_gain J[t]         synaptic current (optional)
    v[t] = decay v[t-1] + gain I[t] + bias                  charge; I = i[t], or J[t] without synapse
    v[t] = decay v[t-1] + gain J[t] + current_gain i[t-1] + bias   (current_gain set: exact coupled pair)
    v[t] = I[t] + decay (v[t-1] - I[t])                     (gain=None: tau dv/dt = I - v, zero-order hold)
    s[t] = H(v[t] - threshold)                              fire (graded: floor(v / threshold) spikes)
    v[t] -= s[t] threshold | v[t] = reset_value | nothing   reset "subtract" | "zero" | "none"

With ``integer`` set (a hardware profile's integer arithmetic, see
``IntegerState``) the current and voltage are integers times ``quantum``: each
decayed value is rounded as the chip rounds it (Loihi: ``trunc(D v / 2**n)``,
Xylo: ``v - floor(v / 2**dash)``), and the new value is rounded to the grid and
saturated to ``bits`` signed bits.

``charge``, ``fire`` and ``reset`` are the three parts and ``step`` chains
them; the reset is *immediate* (Nengo, NIR, SpikingJelly), or *delayed*
(snnTorch: the previous step's spike resets before thresholding). A
refractory period (Nengo's LIF) shortens the part of a step a neuron
integrates after a spike. The layers are faces of this update: each builds a
``Dynamics`` from its own parameters and calls ``step``; the NIR exporter and
``ModelEnergy`` read the same description (``layer.dynamics()``).

Parameter mappings (``decay`` multiplies the voltage, ``gain`` the input):

====================  ===========================  ===============  =================
face                  decay                        gain             reset
====================  ===========================  ===============  =================
Nengo LIF (spiking)   exp(-dt_eff / tau_rc)        1 - decay        to 0, immediate
snnTorch ``Leaky``    beta                         1                delayed one step
IF / spiking ReLU     1                            dt               subtract, immediate
NIR ``LIF`` (Euler)   1 - dt / tau                 r * dt / tau     to v_reset, immediate
NIR ``LIF`` (exact)   exp(-dt / tau)               r (1 - decay)    to v_reset, immediate
NIR ``IF``            1                            r * dt           to v_reset, immediate
``Lowpass``           exp(-dt / tau)               1 - decay        none (no threshold)
``Alpha``             NIR ``CubaLI`` exact, tau_syn = tau, r = w_in = 1
====================  ===========================  ===============  =================

NIR's ``v_leak`` adds ``(1 - decay) v_leak`` per step (a bias).
``discretize`` computes the continuous -> discrete mapping of NIR's
``tau dv/dt = (v_leak - v) + r I`` (with ``tau_syn dI/dt = -I + w_in x``) by
forward Euler or exact zero-order hold, and ``continuous`` reads a
single-stage update back (``tau = dt / (1 - decay)`` for Euler,
``-dt / log(decay)`` for exact, ``r = gain / (1 - decay)``). snnTorch's delayed
reset to zero gives the same spikes as the immediate one; reset by
subtraction has no NIR form.

The module also holds the LIF's steady-state rate (``lif_rate``) and the
smoothed rate used for training (``soft_lif_rate``, Hunsberger & Eliasmith 2015).
"""

import dataclasses

import keras
import numpy as np
from keras import ops

from keras_spiking.validation import check_text



def _float32(x, owner="lif_rate"):
    """Compute rate functions in float32 even under a float16/bfloat16 policy.

    The LIF rate has a steep derivative right above threshold; in float16 its
    intermediate products overflow. The caller casts the result back.
    """
    x = ops.convert_to_tensor(check_text(owner, "j", x))
    check_text(owner, "j", x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(x, "float32"), dtype
    if "float" not in dtype:  # integer currents: a float32 rate
        return ops.cast(x, "float32"), "float32"
    return x, dtype


def _rate_from_log_term(log_term, tau_rc, tau_ref, amplitude):
    return amplitude / (tau_ref + tau_rc * log_term)


def lif_rate(j, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=1.0):
    """Steady-state firing rate (Hz, times ``amplitude``) of a LIF neuron.

    ``amplitude / (tau_ref + tau_rc * log1p(threshold / (j - threshold)))`` for
    input current ``j > threshold``, else 0. ``tau_rc`` and ``tau_ref`` are in
    seconds. Value and gradient are finite for every finite ``j``; ``j = +inf``
    gives the saturated rate ``amplitude / tau_ref``, ``-inf`` gives 0, NaN NaN.
    """
    j, dtype = _float32(j)
    x = j - threshold
    active = x > 0
    # log1p(threshold / x) = log(x + threshold) - log(x); clamping x to the
    # smallest normal float keeps 1/x finite in the gradient.
    x_safe = ops.where(active, x, 1.0)
    # the largest float32 keeps +inf finite: log_term -> 0, the saturated rate
    x_safe = ops.clip(x_safe, 1.1754944e-38, 3.4028235e38)
    log_term = ops.log(x_safe + threshold) - ops.log(x_safe)
    # NaN input stays NaN (never a plausible rate); -inf is inactive: 0
    rate = ops.where(
        active, _rate_from_log_term(log_term, tau_rc, tau_ref, amplitude),
        ops.where(ops.isnan(x), x, 0.0),
    )
    return ops.cast(rate, dtype)


def soft_lif_rate(j, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=1.0, sigma=0.02,
        exact_forward=False):
    """Smoothed LIF rate for training (Hunsberger & Eliasmith, arXiv 1510.08829).

    ``lif_rate`` with ``max(j - threshold, 0)`` replaced by
    ``sigma * softplus((j - threshold) / sigma)``: positive everywhere, with a
    bounded derivative; ``sigma -> 0`` recovers ``lif_rate`` and ``sigma = 0``
    is exactly ``lif_rate``. Far below threshold, where that smoothed current
    falls under 1e-30, the rate stays at its value there (below 1 Hz; also for
    ``-inf``); as in ``lif_rate``, ``+inf`` gives ``amplitude / tau_ref`` and NaN NaN.

    ``exact_forward=True`` returns the exact ``lif_rate`` but keeps the smooth
    derivative (a straight-through estimator): a network trained this way
    computes exactly the rates its spiking LIF neurons will fire at.
    """
    if sigma == 0:
        return lif_rate(j, tau_rc, tau_ref, threshold, amplitude)
    j, dtype = _float32(j, "soft_lif_rate")

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


# ---------------------------------------------------------------------------------------
# the discrete update
# ---------------------------------------------------------------------------------------

RESETS = ("subtract", "zero", "none")
RECURRENCES = (None, "one_to_one", "dense", "conv")
METHODS = ("euler", "exact")


def heaviside(x):
    """Spike function without a surrogate: 1 where ``x > 0``, else 0; NaN where
    ``x`` is NaN, so that a NaN voltage shows in the output instead of silencing
    the neuron (``sign(relu(x))``: as many kernels as ``cast(x > 0)``)."""
    return ops.sign(ops.relu(x))


DECAY_MODES = ("multiply", "shift")


@dataclasses.dataclass(frozen=True)
class IntegerState:
    """Integer arithmetic of a chip: state = integer * ``quantum``.

    Attributes:
        quantum: the value of one integer unit (scalar, or one per unit).
        bits: signed bits of the state; values saturate to
            ``[-2**(bits-1), 2**(bits-1) - 1]`` units.
        decay_mode: ``"multiply"`` (Loihi, lava-dl ``right_shift_to_zero``):
            ``trunc(D k / 2**decay_bits)`` with ``D = decay * 2**decay_bits``
            an integer; ``"shift"`` (Xylo): ``k - floor(k / 2**dash)`` with
            ``decay = 1 - 2**-dash``.
        decay_bits: bits of ``D`` (``"multiply"``; at most 12 keeps float32 exact).

    The arithmetic is exact in float32 while ``|k| < 2**23``.
    """

    quantum: object = 1.0
    bits: int = 16
    decay_mode: str = "multiply"
    decay_bits: int = 12

    def __post_init__(self):
        if self.decay_mode not in DECAY_MODES:
            raise ValueError(f"IntegerState: decay_mode must be one of {DECAY_MODES}, got "
                             f"{self.decay_mode!r}.")
        if not 2 <= int(self.bits) <= 24:
            raise ValueError(f"IntegerState: bits must be in [2, 24], got {self.bits!r}.")
        if self.decay_mode == "multiply" and not 1 <= int(self.decay_bits) <= 12:
            raise ValueError(f"IntegerState: decay_bits must be in [1, 12], got "
                             f"{self.decay_bits!r}.")


def _int_decay(spec, decay, k):
    """The chip's decay of integer state ``k`` (a float tensor of integers)."""
    if _is(decay, 1):
        return k
    if spec.decay_mode == "shift":  # k - (k >> dash); 1 - decay = 2**-dash, exact
        return k - ops.floor(k * (1.0 - decay))
    n = 2.0 ** int(spec.decay_bits)
    big = ops.round(decay * n)  # D, an integer <= 2**12
    a = ops.abs(k)  # trunc(D k / n) = sign(k) floor(D |k| / n), split so products stay < 2**24
    high = ops.floor(a / n)
    low = a - high * n
    return ops.sign(k) * (big * high + ops.floor(big * low / n))


def _int_grid(spec, x):
    """``x`` rounded to the integer grid and saturated (in units of ``quantum``)."""
    top = 2.0 ** (int(spec.bits) - 1)
    return ops.clip(ops.round(x / spec.quantum), -top, top - 1.0)


def _decayed(d, decay, state):
    """``decay * state``, in the chip's integer arithmetic when ``d.integer``."""
    if d.integer is None:
        return state if _is(decay, 1) else decay * state
    k = ops.round(state / d.integer.quantum)
    return _int_decay(d.integer, decay, k) * d.integer.quantum


def _settled(d, state):
    """The new state on the integer grid (nearest, saturated) when ``d.integer``."""
    if d.integer is None:
        return state
    return _int_grid(d.integer, state) * d.integer.quantum


def _is(value, number):
    """True if ``value`` is the Python number ``number`` (no op is needed)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == number


@dataclasses.dataclass(frozen=True)
class Dynamics:
    """One discrete neuron/synapse update (see the module docstring for the equations).

    Values are Python floats (folded into the graph), numpy arrays (one per
    unit) or tensors (learned parameters, read once per call).

    Attributes:
        decay: membrane decay per step.
        gain: input gain; None means ``1 - decay`` in relaxation form
            (``v = I + decay (v - I)``, the exact step of ``tau dv/dt = I - v``).
        bias: added to the voltage every step.
        offset: added to the input current (Nengo's LIF: ``j = x + offset``).
        threshold: spike threshold; None for no spikes (the voltage is the output).
        reset: ``"subtract"``, ``"zero"`` (to ``reset_value``) or ``"none"``.
        reset_value: voltage after a ``"zero"`` reset.
        reset_delayed: the previous step's spike resets (snnTorch); else immediate.
        reset_detached: no gradient through the reset.
        spike_fn: ``x -> spikes`` of ``x = v - threshold`` (a surrogate for training).
        graded: emit ``floor(v / threshold)`` spikes per step (an integer payload),
            limited to ``[min_spikes, max_spikes]`` (None: unbounded), instead of 0/1.
        amplitude: value of one spike in the output.
        refractory: refractory period, seconds (None: none); needs ``tau`` and ``dt``.
        tau: membrane time constant, seconds (only read with ``refractory``).
        dt: step, seconds (only read with ``refractory``).
        min_voltage: voltages below it are clipped to it (None: no floor).
        synapse_decay: decay of the synaptic current per step; None: no current.
        synapse_gain: input gain of the synaptic current.
        current_gain: None: the membrane integrates the new current ``i[t]``;
            a value: it integrates ``gain x[t] + current_gain i[t-1]`` (the exact
            solution of the coupled pair).
        recurrent: None, ``"one_to_one"`` (``W y = V * y``), ``"dense"``
            (``y @ W``) or ``"conv"`` (``conv(y, W, "same")``); ``y`` is the
            previous step's spikes (or voltage without threshold).
        recurrent_kernel: the recurrent weight.
        initial_voltage: the voltage at the first step.
        integer: None (float arithmetic) or an ``IntegerState``: current and
            voltage held as integers times its ``quantum`` (not with ``gain=None``
            or ``current_gain``).
    """

    decay: object = 1.0
    gain: object = 1.0
    bias: object = 0.0
    offset: object = 0.0
    threshold: object = 1.0
    reset: str = "subtract"
    reset_value: object = 0.0
    reset_delayed: bool = False
    reset_detached: bool = False
    spike_fn: object = heaviside
    graded: bool = False
    min_spikes: object = 0
    max_spikes: object = None
    amplitude: object = 1.0
    refractory: object = None
    tau: object = None
    dt: object = None
    min_voltage: object = None
    synapse_decay: object = None
    synapse_gain: object = 1.0
    current_gain: object = None
    recurrent: object = None
    recurrent_kernel: object = None
    initial_voltage: object = 0.0
    integer: object = None

    def __post_init__(self):
        if self.integer is not None and (self.gain is None or self.current_gain is not None):
            raise ValueError("Dynamics: integer state needs the plain update (a gain, no "
                             "current_gain); the relaxation form has no integer form.")
        if self.reset not in RESETS:
            raise ValueError(f"Dynamics: reset must be one of {RESETS}, got {self.reset!r}.")
        if self.recurrent not in RECURRENCES:
            raise ValueError(
                f"Dynamics: recurrent must be one of {RECURRENCES}, got {self.recurrent!r}.")
        if self.refractory is not None and (self.tau is None or self.dt is None):
            raise ValueError("Dynamics: a refractory period needs tau and dt (seconds).")
        if self.reset_delayed and self.graded:
            raise ValueError("Dynamics: graded spikes have no delayed reset.")
        if self.gain is None and not _is(self.bias, 0):
            raise ValueError("Dynamics: gain=None (relaxation form) takes no bias; use offset.")

    @property
    def spiking(self):
        """True if the update emits spikes (it has a threshold)."""
        return self.threshold is not None

    @property
    def synaptic(self):
        """True if the update carries a synaptic current."""
        return self.synapse_decay is not None

    @property
    def state_names(self):
        """Names of the state, in ``step``'s order: the current (if synaptic), the
        voltage, the refractory time (if any), the last output (if recurrent)."""
        return (
            ("current",) * self.synaptic
            + ("voltage",)
            + ("refractory_time",) * (self.refractory is not None)
            + ("output",) * (self.recurrent is not None)
        )

    def replace(self, **changes):
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def initial_state(d, like):
    """The state at the first step, each entry shaped like ``like`` ``(batch, ...)``."""
    zeros = ops.zeros_like(like)
    voltage = zeros if _is(d.initial_voltage, 0) else zeros + ops.cast(d.initial_voltage, like.dtype)
    return tuple(voltage if name == "voltage" else zeros for name in d.state_names)


def feedback(d, y):
    """The recurrent input ``W y`` of the previous step's output ``y``."""
    kernel = d.recurrent_kernel
    if d.recurrent == "one_to_one":
        return y * kernel
    if d.recurrent == "conv":
        return ops.conv(y, kernel, padding="same")
    return ops.matmul(y, kernel)


def _scaled(gain, x):
    return x if _is(gain, 1) else gain * x


def charge(d, v, x, current=None):
    """Integrate one step: returns ``(v, current)`` before firing and reset.

    ``x`` is the input current of this step, recurrence included; ``current`` the
    synaptic current of the previous step (if ``d.synaptic``).
    """
    if not _is(d.offset, 0):
        x = x + d.offset
    new_current = None
    if d.synaptic:
        new_current = _settled(d, _decayed(d, d.synapse_decay, current)
                               + _scaled(d.synapse_gain, x))
        if d.current_gain is None:
            drive_in = new_current
        else:
            drive_in = None
    else:
        drive_in = x
    if d.gain is None:  # relaxation form: v = I + decay (v - I)
        return drive_in + d.decay * (v - drive_in), new_current
    if drive_in is None:  # exact coupled pair: gain x[t] + current_gain i[t-1]
        drive = _scaled(d.gain, x) + d.current_gain * current
    else:
        drive = _scaled(d.gain, drive_in)
    if not _is(d.bias, 0):
        drive = drive + d.bias
    if d.integer is not None:
        return _settled(d, _decayed(d, d.decay, v) + drive), new_current
    if not _is(d.decay, 1):
        v = d.decay * v
    return v + drive, new_current


def fire(d, v, spike_fn=None):
    """Spikes of voltage ``v``: ``spike_fn(v - threshold)`` (0/1), or graded counts."""
    if d.graded:
        count = ops.floor(v if _is(d.threshold, 1) else v / d.threshold)
        if d.min_spikes is not None or d.max_spikes is not None:
            low = -float("inf") if d.min_spikes is None else d.min_spikes
            high = float("inf") if d.max_spikes is None else d.max_spikes
            count = ops.clip(count, low, high)
        return count
    return (spike_fn or d.spike_fn)(v - d.threshold)


def reset(d, v, spikes):
    """Reset the neurons that spiked: subtract ``threshold`` per spike, set to
    ``reset_value``, or leave ``v`` alone."""
    if d.reset == "subtract":
        return _settled(d, v - _scaled(d.threshold, spikes))
    if d.reset == "zero":
        kept = v * (1 - spikes)
        return _settled(d, kept if _is(d.reset_value, 0) else kept + spikes * d.reset_value)
    return v


def _refractory_decay(d, refractory_time):
    """``exp(-dt_eff / tau)`` with ``dt_eff = clip(dt - refractory_time, 0, dt)``:
    the part of the step spent outside the refractory period."""
    return ops.exp(ops.clip(refractory_time - d.dt, -d.dt, 0.0) * (1.0 / d.tau))


def _refractory_time(d, refractory_time, spikes, v_peak, x):
    """Refractory time left after this step: ``refractory`` seconds from the spike
    time, interpolated inside the step from the exact solution, so that mean
    rates match ``lif_rate`` exactly."""
    # Only read where a neuron spiked (then v_peak > threshold and x > threshold
    # when the voltage starts below threshold); elsewhere it may be inf or NaN.
    overshoot = ops.clip((v_peak - d.threshold) / (x - d.threshold), 0.0, 1.0 - 1e-7)
    t_after = d.tau * ops.log1p(-overshoot)  # negative: minus the time after the spike
    return ops.where(spikes > 0, (d.refractory + d.dt) + t_after, refractory_time)


def step(d, x, state):
    """One step of ``d`` for input ``x`` ``(batch, ...)`` and ``state`` (a tuple in
    ``d.state_names`` order). Returns ``(spikes, voltage, state)``; ``spikes`` is
    None without a threshold, else the 0/1 (or graded) spikes times
    ``amplitude``; ``voltage`` is the voltage after the reset.
    """
    state = list(state)
    current = state.pop(0) if d.synaptic else None
    v = state.pop(0)
    refractory_time = state.pop(0) if d.refractory is not None else None
    if d.recurrent is not None:
        x = x + feedback(d, state.pop(0))
    if refractory_time is not None:
        refractory_time = refractory_time - d.dt
        d_now = d.replace(decay=_refractory_decay(d, refractory_time))
    else:
        d_now = d
    if d.reset_delayed and d.spiking and d.reset != "none":
        # snnTorch: the previous step's spike (recomputed from v) resets first
        previous = fire(d, v, heaviside if d.reset_detached else None)
        if d.reset == "zero":
            v = reset(d, v, previous)
        v, current = charge(d_now, v, x, current)
        if d.reset == "subtract":
            v = reset(d, v, previous)
        spikes = fire(d, v)
    else:
        v, current = charge(d_now, v, x, current)
        spikes = fire(d, v) if d.spiking else None
        if spikes is not None and not d.reset_delayed:
            v_peak = v
            v = reset(d, v, ops.stop_gradient(spikes) if d.reset_detached else spikes)
            if refractory_time is not None:
                j = x if _is(d.offset, 0) else x + d.offset
                refractory_time = _refractory_time(d, refractory_time, spikes, v_peak, j)
    if d.min_voltage is not None:
        v = ops.maximum(v, d.min_voltage)
    new_state = (
        ((current,) if d.synaptic else ())
        + (v,)
        + ((refractory_time,) if refractory_time is not None else ())
        + (((v if spikes is None else spikes),) if d.recurrent is not None else ())
    )
    if spikes is not None and not _is(d.amplitude, 1):
        spikes = spikes * d.amplitude
    return spikes, v, new_state


def hoist(d, x):
    """Split off the per-step work that does not need the state, to do it once
    for all steps: returns ``(d_loop, x_loop, amplitude)`` such that scanning
    ``step(d_loop, ...)`` over ``x_loop`` (``(batch, time, ...)``) and then
    multiplying its spikes by ``amplitude`` (None: nothing to multiply) gives
    scanning ``step(d, ...)`` over ``x``, bit for bit (the same products, taken
    outside the loop: one op for all steps instead of one per step).

    The input gain is split off when the drive is exactly ``gain * x`` (no
    offset, synapse, refractory period, recurrence or integer state); the spike
    amplitude when nothing inside the step reads the scaled spikes (no recurrence).
    """
    if (d.gain is not None and not _is(d.gain, 1) and _is(d.offset, 0) and not d.synaptic
            and d.integer is None and d.refractory is None and d.recurrent is None
            and d.current_gain is None):
        x = _scaled(d.gain, x)
        d = d.replace(gain=1.0)
    amplitude = None
    if d.spiking and not _is(d.amplitude, 1) and d.recurrent is None:
        amplitude, d = d.amplitude, d.replace(amplitude=1.0)
    return d, x, amplitude


def closed_form_applies(d):
    """True if ``constant_input_spikes`` computes ``d``'s spikes: a non-leaky
    integrator (``decay = 1``, no bias, offset, synapse, refractory period,
    recurrence, voltage floor or integer state) with binary spikes of the
    Heaviside spike function, reset by subtraction, and a numeric threshold > 0."""
    return (_is(d.decay, 1) and d.gain is not None and _is(d.bias, 0) and _is(d.offset, 0)
            and d.spiking and not d.graded and d.reset == "subtract"
            and not d.reset_delayed and d.spike_fn is heaviside and not d.synaptic
            and d.refractory is None and d.recurrent is None and d.min_voltage is None
            and d.integer is None and d.current_gain is None
            and isinstance(d.threshold, (int, float)) and d.threshold > 0)


def constant_input_spikes(d, x, steps):
    """The spikes of ``steps`` steps of ``d`` (``closed_form_applies``) for an
    input ``x`` ``(batch, ...)`` held constant, in closed form, without a loop.

    With drive ``a = gain x`` and initial voltage ``v0`` in ``[0, threshold]``,
    the number of spikes after ``t`` steps is ``N[t] = min(t, max(0,
    ceil((v0 + t a) / threshold) - 1))`` (a spike whenever the voltage exceeds
    the threshold, reset by subtraction, at most one per step), and the spikes
    are ``N[t] - N[t-1]``. The loop adds ``a`` step by step, the closed form
    takes ``v0 + t a`` at once, so where the voltage comes within float rounding
    of a multiple of the threshold a spike may come one step earlier or later
    (the count after each step then differs by one, never more); with exactly
    representable sums the two agree bit for bit; NaN inputs give NaN spikes and
    infinite ones the loop's. Returns ``(batch, steps, ...)`` spikes times ``amplitude``.
    """
    a = _scaled(d.gain, x)
    t = ops.reshape(ops.arange(1, steps + 1, dtype=a.dtype), (1, steps) + (1,) * (len(a.shape) - 1))
    u = ops.expand_dims(a, 1) * t
    if not _is(d.initial_voltage, 0):
        u = u + ops.cast(d.initial_voltage, a.dtype)
    count = ops.minimum(t, ops.maximum(ops.ceil(u / d.threshold) - 1.0, 0.0))
    count = ops.where(ops.isnan(u), u, count)  # NaN shows, as ``heaviside``'s (XLA's max drops it)
    before = ops.concatenate([ops.zeros_like(count[:, :1]), count[:, :-1]], axis=1)
    spikes = count - before
    return spikes if _is(d.amplitude, 1) else spikes * d.amplitude


# ---------------------------------------------------------------------------------------
# continuous <-> discrete
# ---------------------------------------------------------------------------------------


def _numeric(*values):
    return all(v is None or isinstance(v, (int, float, np.ndarray, np.number)) for v in values)


def discretize(tau, r=1.0, v_leak=0.0, *, dt, method="euler", tau_syn=None, w_in=1.0):
    """``Dynamics`` coefficients of NIR's LIF family for a step of ``dt`` seconds.

    ``tau dv/dt = (v_leak - v) + r J`` (``tau=None``: ``dv/dt = r J``), with
    ``J = I`` and ``tau_syn dI/dt = -I + w_in x`` when ``tau_syn`` is given, else
    ``J = x``; the input held constant over each step.

    * ``"euler"``: ``I <- I + dt/tau_syn (w_in x - I)``, then with the new ``I``
      ``v <- v + dt/tau (v_leak - v + r I)``: ``decay = 1 - dt/tau``,
      ``gain = r dt/tau``.
    * ``"exact"`` (zero-order hold): ``decay = exp(-dt/tau)``,
      ``gain = r (1 - decay)``; with a synaptic current the coupled pair is
      solved exactly: ``v <- e v + (1 - e) r w x + r K (I_old - w x)`` with
      ``K = tau_syn / (tau_syn - tau) (e_syn - e)`` (``dt/tau e`` when equal).

    Numbers and numpy arrays give numpy results (Python floats when scalar);
    tensors (learned time constants) give tensors. Returns a dict of
    ``decay, gain, bias`` and, with ``tau_syn``, ``synapse_decay,
    synapse_gain`` and ``current_gain`` (exact only).
    """
    if method not in METHODS:
        raise ValueError(f"discretize: method must be one of {METHODS}, got {method!r}.")
    numeric = _numeric(tau, r, v_leak, tau_syn, w_in)
    exp = np.exp if numeric else ops.exp
    if tau is None:
        c = dict(decay=1.0, gain=dt * r, bias=0.0)
    else:
        decay = 1.0 - dt / tau if method == "euler" else exp(-dt / tau)
        bias = 0.0 if _is(v_leak, 0) else (1.0 - decay) * v_leak
        c = dict(decay=decay, gain=(1.0 - decay) * r, bias=bias)
    if tau_syn is not None:
        if method == "euler":
            e_syn = 1.0 - dt / tau_syn
        else:
            e_syn = exp(-dt / tau_syn)
            e_m = c["decay"]
            if tau_syn is tau:
                k = dt / tau * e_m
            else:
                same = np.isclose(tau_syn, tau, rtol=1e-6, atol=0.0)
                diff = np.where(same, 1.0, np.asarray(tau_syn) - tau)
                k = np.where(same, dt / np.asarray(tau) * e_m, tau_syn / diff * (e_syn - e_m))
            c["current_gain"] = r * k
            c["gain"] = (1.0 - e_m) * r * w_in - r * k * w_in
        c.update(synapse_decay=e_syn, synapse_gain=(1.0 - e_syn) * w_in)
    if numeric:
        c = {key: (float(v) if np.ndim(v) == 0 else np.asarray(v)) for key, v in c.items()}
    return c


def continuous(decay, gain, bias=0.0, *, dt, method="euler"):
    """NIR's ``(tau, r, v_leak)`` of a single-stage update, inverting ``discretize``.

    ``decay = 1`` has no leak (``tau = None``, ``r = gain / dt``, NIR's IF);
    otherwise ``tau = dt / (1 - decay)`` (Euler) or ``-dt / log(decay)`` (exact),
    ``r = gain / (1 - decay)`` and ``v_leak = bias / (1 - decay)``. Numpy in,
    numpy out; ``decay`` must lie in (0, 1] (exact) or [0, 1] (Euler).
    """
    if method not in METHODS:
        raise ValueError(f"continuous: method must be one of {METHODS}, got {method!r}.")
    decay, gain, bias = (np.asarray(v, "float64") for v in (decay, gain, bias))
    if np.all(decay == 1.0):
        return dict(tau=None, r=gain / dt, v_leak=np.zeros_like(bias))
    leak = 1.0 - decay
    tau = dt / leak if method == "euler" else -dt / np.log(decay)
    return dict(tau=tau, r=gain / leak, v_leak=bias / leak)
