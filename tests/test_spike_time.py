"""Spike-time math: Lambert W0, closed forms vs ODE integration, gradients."""

import math

import keras
import mpmath
import numpy as np
import pytest
from keras import ops

from keras_spiking import spike_time
from keras_spiking.spike_time import first_spike_times, lambert_w0, spike_times

from gradients import value_and_grads


def np_(x):
    return ops.convert_to_numpy(x)


# --- Lambert W0 ---------------------------------------------------------------


def _w_reference(z):
    return np.array([
        float(mpmath.lambertw(mpmath.mpf(float(v)))) if float(v) >= -math.exp(-1)
        else np.nan for v in z])


def _w_test_points(dtype):
    z = np.concatenate([
        -1 / np.e + np.logspace(-15, -0.5, 80),
        np.linspace(-0.3, 5, 120),
        np.logspace(0, 300 if dtype == "float64" else 38, 60),
        [0.0, -1e-300, 1e-300],
    ]).astype(dtype)
    return z[np.isfinite(z)]


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-6)])
def test_lambert_w0_values(dtype, tol):
    z = _w_test_points(dtype)
    w = np_(lambert_w0(z))
    ref = _w_reference(z)
    assert w.dtype == np.dtype(dtype)
    ok = np.isfinite(ref)
    np.testing.assert_array_equal(np.isnan(w), ~ok)  # NaN exactly below -1/e
    err = np.abs(w[ok] - ref[ok]) / np.maximum(1.0, np.abs(ref[ok]))
    assert err.max() < tol


def test_lambert_w0_below_branch_point_is_nan():
    assert np.isnan(np_(lambert_w0(np.array([-0.4, -1.0])))).all()


def test_lambert_w0_derivative():
    zn = np.array([-0.36, -0.2, 0.0, 0.5, 3.0, 1e6])
    wn, (grad,) = value_and_grads(lambert_w0, zn)
    h = 1e-7 * np.maximum(1.0, np.abs(zn))
    fd = (_w_reference(zn + h) - _w_reference(zn - h)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)
    nz = zn != 0
    np.testing.assert_allclose(grad[nz], wn[nz] / (zn[nz] * (1 + wn[nz])), rtol=1e-12)
    assert grad[zn == 0] == pytest.approx(1.0)
    # at the branch point the derivative is huge but finite
    _, (grad_b,) = value_and_grads(lambert_w0, np.array([np.nextafter(-1 / np.e, 0.0)]))
    assert np.isfinite(grad_b).all()


# --- ODE reference ------------------------------------------------------------


def simulate(t_in, w, tau_syn, tau_ratio, threshold=1.0, leak=0.0, g_leak=None,
             dt=2e-3, t_end=10.0):
    return spike_time.integrate_first_spike_times(
        t_in[None], w, tau_syn=tau_syn, tau_ratio=tau_ratio, threshold=threshold,
        leak_potential=leak, g_leak=g_leak, dt=dt, t_end=t_end)[0]


@pytest.mark.parametrize("tau_ratio", [1, 2])
def test_closed_form_matches_ode_integration(tau_ratio):
    rng = np.random.default_rng(tau_ratio)
    tau_syn = 1.0
    n_in, n_out, batch = 6, 40, 3
    t_in = np.round(rng.uniform(0, 3, (batch, n_in)) / 2e-3) * 2e-3
    t_in[1, 2] = np.inf  # an absent input
    w = rng.normal(0.6 * tau_ratio, 1.2, (n_in, n_out))
    got = np_(first_spike_times(t_in, w, tau_syn=tau_syn, tau_ratio=tau_ratio))
    ref = np.stack([simulate(t_in[b], w, tau_syn, tau_ratio) for b in range(batch)])
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    assert fin.mean() > 0.3 and (~fin).any()  # both cases exercised
    assert np.abs(got[fin] - ref[fin]).max() < 1e-3 * tau_syn


def test_closed_form_neuron_parameters_match_ode():
    # non-default tau_syn, threshold, leak potential and g_leak
    rng = np.random.default_rng(5)
    t_in = np.round(rng.uniform(0, 6, (1, 5)) / 2e-3) * 2e-3
    w = rng.normal(1.0, 0.8, (5, 30))
    kw = dict(tau_syn=2.0, tau_ratio=2, threshold=0.5, leak=-0.4, g_leak=0.8)
    ref = simulate(t_in[0], w, **kw, t_end=25.0)
    got = np_(first_spike_times(t_in, w, tau_syn=2.0, tau_ratio=2, threshold=0.5,
                                leak_potential=-0.4, g_leak=0.8))[0]
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
    fin = np.isfinite(ref)
    assert fin.any() and np.abs(got[fin] - ref[fin]).max() < 2e-3


# --- causal-set edge cases ----------------------------------------------------


@pytest.mark.parametrize("tau_ratio", [1, 2])
def test_edge_cases(tau_ratio):
    inf = np.inf
    w = np.array([[2.0, -1.0, 5.0], [2.0, -1.0, 5.0]])
    t = np.array([
        [inf, inf],      # no input at all
        [0.3, 0.3],      # exact tie
        [0.3, inf],      # one input absent
    ])
    got = np_(first_spike_times(t, w, tau_ratio=tau_ratio))
    assert np.isinf(got[0]).all()
    assert np.isinf(got[:, 1]).all()  # all-inhibitory: never spikes
    assert np.isfinite(got[1:, 2]).all() and (got[1:, 2] > 0.3).all()
    # the tie behaves like one input of double weight
    single = np_(first_spike_times(np.array([[0.3]]), w[:1] * 2, tau_ratio=tau_ratio))
    np.testing.assert_allclose(got[1, [0, 2]], single[0, [0, 2]], rtol=1e-6)
    # no NaN anywhere, and zero gradients for silent outputs
    assert not np.isnan(got).any()


def test_inhibition_after_spike_is_not_causal():
    # a strong inhibitory input after the spike must not change it
    t1 = np_(first_spike_times(np.array([[0.0, 5.0]]), np.array([[3.0], [-50.0]])))
    t0 = np_(first_spike_times(np.array([[0.0]]), np.array([[3.0]])))
    np.testing.assert_allclose(t1, t0)
    # while inhibition before the would-be spike suppresses it
    t2 = np_(first_spike_times(np.array([[0.0, 0.05]]), np.array([[3.0], [-50.0]])))
    assert np.isinf(t2).all()


def test_single_input_closed_form_by_hand():
    # tau_ratio 1, one input w at 0: (t/tau) exp(-t/tau) w = threshold
    w, tau = 3.0, 1.0
    t = np_(first_spike_times(np.array([[0.0]]), np.array([[w]]), tau_syn=tau))[0, 0]
    assert t * np.exp(-t) * w == pytest.approx(1.0, rel=1e-6)
    # the PSP peaks at w/e (t = tau): silent below threshold, spikes above
    t = np_(first_spike_times(np.array([[0.0], [0.0]]), np.array([[2.5, 2.8]])))
    assert np.isinf(t[:, 0]).all() and np.isfinite(t[:, 1]).all() and (t[:, 1] < 1).all()


# --- gradients ----------------------------------------------------------------


def _grads(t_in, w, tau_ratio, max_dw_norm=None):
    def finite(t_, w_):
        out = spike_times(t_, w_, tau_ratio=tau_ratio, max_dw_norm=max_dw_norm)
        return keras.ops.where(keras.ops.isfinite(out), out, 0.0)

    _, (gt, gw) = value_and_grads(finite, t_in, w)
    out = spike_times(t_in, w, tau_ratio=tau_ratio, max_dw_norm=max_dw_norm)
    return np_(out), gw, gt


@pytest.mark.parametrize("tau_ratio", [1, 2])
def test_gradients_match_finite_differences(tau_ratio):
    rng = np.random.default_rng(10 + tau_ratio)
    t_in = rng.uniform(0, 2, (2, 5))
    w = rng.normal(0.8 * tau_ratio, 1.0, (5, 8))
    out, gw, gt = _grads(t_in, w, tau_ratio)
    assert np.isfinite(gw).all() and np.isfinite(gt).all()
    h = 1e-6

    def total(t_, w_):
        o = np_(first_spike_times(t_, w_, tau_ratio=tau_ratio))
        return np.where(np.isfinite(o), o, 0.0)

    base = total(t_in, w)
    fd_w = np.zeros_like(w)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            wp, wm = w.copy(), w.copy()
            wp[i, j] += h
            wm[i, j] -= h
            fd_w[i, j] = (total(t_in, wp) - total(t_in, wm)).sum() / (2 * h)
    fd_t = np.zeros_like(t_in)
    for b in range(t_in.shape[0]):
        for i in range(t_in.shape[1]):
            tp, tm = t_in.copy(), t_in.copy()
            tp[b, i] += h
            tm[b, i] -= h
            fd_t[b, i] = (total(tp, w) - total(tm, w)).sum() / (2 * h)
    assert np.isfinite(base).any()
    scale = np.maximum(np.abs(fd_w), 1e-3)
    assert (np.abs(gw - fd_w) / scale).max() < 1e-4
    scale = np.maximum(np.abs(fd_t), 1e-3)
    assert (np.abs(gt - fd_t) / scale).max() < 1e-4


def test_gradients_zero_for_silent_and_noncausal():
    inf = np.inf
    t_in = np.array([[0.0, 3.0, inf]])
    w = np.array([[3.0, 0.1], [1.0, 0.1], [1.0, 0.1]])  # neuron 1 is silent
    out, gw, gt = _grads(t_in, w, 1)
    assert np.isfinite(out[0, 0]) and out[0, 0] < 3.0 and np.isinf(out[0, 1])
    assert gw[0, 0] != 0 and gw[1, 0] == 0 and gw[2, 0] == 0  # later / absent inputs
    assert (gw[:, 1] == 0).all()  # silent neuron
    assert gt[0, 1] == 0 and gt[0, 2] == 0
    assert np.isfinite(gw).all() and np.isfinite(gt).all()


def test_max_dw_norm_chops_large_weight_gradients():
    t_in = np.array([[0.0, 0.2]])
    w = np.array([[2.0, 2.0], [0.8, 0.8]])
    _, gw, gt = _grads(t_in, w, 1)
    limit = 0.5 * np.abs(gw[:, 0]).max()
    _, gw_c, gt_c = _grads(t_in, w, 1, max_dw_norm=limit)
    assert (gw_c == 0).all()  # both neurons identical: both exceed the limit
    np.testing.assert_allclose(gt_c, gt)  # input-time gradients are kept
    _, gw_k, _ = _grads(t_in, w, 1, max_dw_norm=10 * np.abs(gw).max())
    np.testing.assert_allclose(gw_k, gw)


def test_observed_times_take_the_gradient_at_that_time():
    # gradient at a given (observed) time is -eps_i / U'(t)
    t_in = np.array([[0.0, 0.4]])
    w = np.array([[2.0], [1.0]])
    observed = np.array([[1.0]])
    out, (g,) = value_and_grads(lambda w_: spike_times(t_in, w_, observed), w)
    g = g[:, 0]
    s = 1.0 - t_in[0]
    eps = s * np.exp(-s)
    slope = np.sum(w[:, 0] * (1 - s) * np.exp(-s))
    np.testing.assert_allclose(out, observed)
    np.testing.assert_allclose(g, -eps / slope, rtol=1e-12)


def test_encode_times_and_first_spike_class():
    v = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(spike_time.encode_times(v, 0.1, 1.1), [1.1, 0.6, 0.1])
    np.testing.assert_allclose(
        spike_time.encode_times(v, 0.1, 1.1, large_early=False), [0.1, 0.6, 1.1])
    cls = np_(spike_time.first_spike_class(np.array([[2.0, 1.0, np.inf],
                                                     [np.inf, np.inf, np.inf]])))
    np.testing.assert_array_equal(cls, [1, -1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(tau_syn=0.0), "tau_syn"),
    (dict(tau_syn=-1.0), "tau_syn"),
    (dict(tau_ratio=3), "tau_ratio"),
    (dict(threshold=-1.0), "threshold"),
    (dict(g_leak=0.0), "g_leak"),
])
def test_bad_parameters(kwargs, match):
    if "tau_ratio" in kwargs:
        with pytest.raises(ValueError, match="first_spike_times: tau_ratio"):
            first_spike_times(np.zeros((1, 1)), np.ones((1, 1)), tau_ratio=kwargs["tau_ratio"])
    args = dict(tau_syn=1.0, tau_ratio=1, threshold=1.0, leak_potential=0.0, g_leak=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        spike_time.check_neuron_parameters("owner", **args)
