"""lif_rate and soft_lif_rate against numpy references, finite differences, edge cases."""

import keras
import numpy as np
import pytest

from gradients import value_and_grads
from keras_spiking.neurons import lif_rate, soft_lif_rate


def numpy_lif_rate(j, tau_rc, tau_ref, threshold, amplitude):
    j = np.asarray(j, dtype="float64")
    out = np.zeros_like(j)
    on = j > threshold
    out[on] = amplitude / (tau_ref + tau_rc * np.log1p(threshold / (j[on] - threshold)))
    return out


def tutorial_soft_lif(j, tau_m=0.02, tau_ref=0.004, v_thr=1.0, gamma=0.15):
    """The formula as the tutorial writes it (only valid where nothing under/overflows)."""
    smooth = gamma * np.log(1 + np.exp((j - v_thr) / gamma))
    return 1.0 / (tau_ref + tau_m * np.log(1 + v_thr / smooth))


def value_and_grad(fn, j):
    y, (grad,) = value_and_grads(fn, j)
    return y, grad


PARAMS = [
    dict(tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=1.0),
    dict(tau_rc=0.05, tau_ref=0.0, threshold=0.5, amplitude=0.01),
    dict(tau_rc=0.01, tau_ref=0.004, threshold=2.0, amplitude=3.0),
]


@pytest.mark.parametrize("params", PARAMS)
def test_lif_rate_matches_numpy(params):
    j = np.concatenate([np.linspace(-3, 10, 401), [params["threshold"]]])
    ours = np.asarray(lif_rate(j, **params))
    np.testing.assert_allclose(ours, numpy_lif_rate(j, **params), rtol=1e-12, atol=1e-12)
    assert ours[-1] == 0.0  # exactly at threshold the neuron is silent


def test_soft_lif_reproduces_tutorial_formula():
    j = np.linspace(-2.0, 10.0, 1001)
    ours = np.asarray(
        soft_lif_rate(j, tau_rc=0.02, tau_ref=0.004, threshold=1.0, sigma=0.15)
    )
    np.testing.assert_allclose(ours, tutorial_soft_lif(j), rtol=1e-6, atol=0)


@pytest.mark.parametrize("params", PARAMS)
def test_soft_lif_approaches_lif_as_sigma_shrinks(params):
    j = np.linspace(-3, 10, 301)
    exact = numpy_lif_rate(j, **params)
    errors = [
        np.max(np.abs(np.asarray(soft_lif_rate(j, sigma=s, **params)) - exact))
        for s in (0.1, 0.01, 0.001)
    ]
    assert errors[0] > errors[1] > errors[2]
    # above threshold the smoothing vanishes fast; below it the soft rate only
    # decays logarithmically (a fraction of a Hz at 100 sigma below threshold)
    error = np.abs(np.asarray(soft_lif_rate(j, sigma=1e-3, **params)) - exact)
    above = j > params["threshold"] + 0.1
    below = j < params["threshold"] - 0.1
    assert np.max(error[above]) < 1e-9 * np.max(exact)
    assert np.max(error[below]) < 1e-2 * np.max(exact)
    np.testing.assert_array_equal(np.asarray(soft_lif_rate(j, sigma=0, **params)),
                                  np.asarray(lif_rate(j, **params)))


def test_soft_lif_far_below_threshold_is_a_continuous_floor():
    """Where the smoothed current underflows, the rate keeps its last value."""
    sigma = 0.1
    j = 1.0 + sigma * np.array([-60.0, -68.0, -69.0, -100.0, -1e5])
    rates = np.asarray(soft_lif_rate(j, sigma=sigma))
    floor = 1 / (0.002 + 0.02 * np.log1p(1 / 1e-30))
    np.testing.assert_allclose(rates[3:], floor, rtol=1e-6)
    assert np.all(np.diff(rates) <= 0) and rates[0] - floor < 0.1


@pytest.mark.parametrize(
    "fn",
    [
        lambda j: lif_rate(j, tau_rc=0.02, tau_ref=0.002, threshold=1.0, amplitude=2.0),
        lambda j: soft_lif_rate(j, sigma=0.05, amplitude=2.0),
        lambda j: soft_lif_rate(j, sigma=0.5, tau_ref=0.0),
    ],
)
def test_gradient_matches_finite_differences(fn):
    # avoid the kink at threshold for the hard rate: points at least 0.05 away
    j = np.concatenate([np.linspace(-2, 0.95, 20), np.linspace(1.05, 8, 40)])
    _, grad = value_and_grad(fn, j)
    h = 1e-6
    numeric = (np.asarray(fn(j + h)) - np.asarray(fn(j - h))) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_exact_forward_keeps_lif_rate_and_soft_gradient():
    """Straight-through: the value of lif_rate, the derivative of soft_lif_rate."""
    j = np.linspace(-2, 6, 81)
    kwargs = dict(tau_rc=0.03, tau_ref=0.001, threshold=1.0, amplitude=0.5, sigma=0.1)
    y, grad = value_and_grad(lambda x: soft_lif_rate(x, exact_forward=True, **kwargs), j)
    _, soft_grad = value_and_grad(lambda x: soft_lif_rate(x, **kwargs), j)
    exact = np.asarray(lif_rate(j, 0.03, 0.001, 1.0, 0.5))
    np.testing.assert_array_equal(y, exact)
    np.testing.assert_allclose(grad, soft_grad, rtol=1e-12)
    assert np.all(grad[j < 1] > 0)  # silent neurons still learn


def _extreme_inputs(dtype):
    j = np.concatenate(
        [np.linspace(-1e4, 1e4, 2001), [1.0, np.nextafter(1.0, 2.0), -0.0, 0.0]]
    )
    return j.astype(dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
@pytest.mark.parametrize("sigma", [None, 0.15, 1e-3])
@pytest.mark.parametrize("exact_forward", [False, True])
def test_value_and_gradient_finite_everywhere(dtype, sigma, exact_forward):
    np_dtype = "float32" if dtype == "bfloat16" else dtype
    j = keras.ops.cast(_extreme_inputs(np_dtype), dtype)

    def fn(x):
        if sigma is None:
            return lif_rate(x)
        return soft_lif_rate(x, sigma=sigma, exact_forward=exact_forward)

    y, grad = value_and_grad(fn, j)
    assert keras.backend.standardize_dtype(y.dtype) == keras.backend.standardize_dtype(j.dtype)
    assert np.all(np.isfinite(y.astype("float64")))
    assert np.all(np.isfinite(grad.astype("float64")))
    assert np.all(y.astype("float64") >= 0)
    assert np.all(y.astype("float64") <= 1 / 0.002 * 1.001)


def test_mixed_precision_layer_is_finite():
    from keras_spiking.layers import LIFRate, SoftLIF

    keras.config.set_dtype_policy("mixed_float16")
    j = _extreme_inputs("float32")
    for layer in (SoftLIF(sigma=0.15), LIFRate()):
        y, grad = value_and_grad(layer, j)
        assert y.dtype == np.float16
        assert np.all(np.isfinite(y)) and np.all(np.isfinite(grad))


@pytest.mark.parametrize("fn", [
    lambda j: lif_rate(j, tau_ref=0.002, amplitude=2.0),
    lambda j: soft_lif_rate(j, tau_ref=0.002, amplitude=2.0, sigma=0.05),
    lambda j: soft_lif_rate(j, tau_ref=0.002, amplitude=2.0, sigma=0.05, exact_forward=True),
])
def test_infinite_input_saturates_and_nan_stays_nan(fn):
    """+inf -> amplitude / tau_ref (the limit, as for 1e30), -inf -> the rate at
    -1e30 (0, or the smooth rate's floor below 1 Hz x amplitude), NaN -> NaN."""
    j = np.array([np.inf, -np.inf, np.nan, 1e30, -1e30], "float32")
    rates = keras.ops.convert_to_numpy(fn(j))
    np.testing.assert_allclose(rates[[0, 3]], 2.0 / 0.002, rtol=1e-6)
    assert rates[1] == rates[4] and rates[1] < 2.0 and np.isnan(rates[2])
