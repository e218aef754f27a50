"""Surrogates: exact Heaviside forward, closed-form derivative backward, serialization."""

import keras
import numpy as np
import pytest
from keras import ops

from gradients import gradients
from keras_spiking import surrogates


def compiled(fn):
    """``fn`` as a traced graph: tf.function or jax.jit."""
    if keras.backend.backend() == "jax":
        import jax

        return jax.jit(fn)
    import tensorflow as tf

    return tf.function(fn)

X = np.concatenate(
    [np.linspace(-3, 3, 241), [0.0, -1e-7, 1e-7, -0.5, 0.5, 1.0, -1.0]]
).astype("float32")


def _sig(z):
    return 1 / (1 + np.exp(-z))


# closed forms written independently of the module
CLOSED_FORMS = [
    ("fast_sigmoid", {}, lambda x: 1 / (25 * np.abs(x) + 1) ** 2),
    ("fast_sigmoid", {"slope": 5}, lambda x: 1 / (5 * np.abs(x) + 1) ** 2),
    ("atan", {}, lambda x: 1 / (1 + (np.pi * x) ** 2)),
    ("atan", {"alpha": 3}, lambda x: 1.5 / (1 + (np.pi * 1.5 * x) ** 2)),
    ("sigmoid", {}, lambda x: 25 * np.exp(-25 * x) / (np.exp(-25 * x) + 1) ** 2),
    ("sigmoid", {"slope": 4}, lambda x: 4 * _sig(4 * x) * (1 - _sig(4 * x))),
    ("triangular", {}, lambda x: np.maximum(0, 1 - np.abs(x))),
    ("triangular", {"width": 0.5}, lambda x: np.maximum(0, 1 - 2 * np.abs(x)) * 2),
    ("straight_through", {}, lambda x: np.ones_like(x)),
    ("spike_rate_escape", {}, lambda x: 25 * np.exp(-np.abs(x))),
    ("spike_rate_escape", {"beta": 2, "slope": 3}, lambda x: 3 * np.exp(-2 * np.abs(x))),
]


def _forward_and_grad(fn, x, upstream=None):
    upstream = np.ones_like(x) if upstream is None else upstream
    (g,) = gradients(lambda x: ops.sum(fn(x) * upstream), ops.convert_to_tensor(x))
    return ops.convert_to_numpy(fn(ops.convert_to_tensor(x))), ops.convert_to_numpy(g)


@pytest.mark.parametrize("name, config, closed_form", CLOSED_FORMS)
def test_forward_is_heaviside_and_gradient_is_closed_form(name, config, closed_form):
    surrogate = surrogates.SURROGATES[name](**config)
    upstream = np.random.RandomState(0).uniform(-2, 2, X.shape).astype("float32")
    s, g = _forward_and_grad(surrogate, X, upstream)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, (X > 0).astype("float32"))
    np.testing.assert_allclose(g, upstream * closed_form(X.astype("float64")), rtol=2e-5, atol=1e-7)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(surrogate.derivative(ops.convert_to_tensor(X))),
        closed_form(X.astype("float64")), rtol=2e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(surrogates.SURROGATES))
def test_derivative_has_smooth_antiderivative(name):
    """The backward pass is the derivative of the smooth function in the table:
    check by finite differences of g where g is known in closed form."""
    smooth = {
        "fast_sigmoid": lambda x: x / (1 + 25 * np.abs(x)),
        "atan": lambda x: np.arctan(np.pi * x) / np.pi,
        "sigmoid": lambda x: _sig(25 * x),
        "triangular": lambda x: np.where(
            np.abs(x) < 1, np.sign(x) * (np.abs(x) - x * x / 2), np.sign(x) / 2),
        "straight_through": lambda x: x,
        "spike_rate_escape": lambda x: np.sign(x) * 25 * (1 - np.exp(-np.abs(x))),
    }[name]
    x = np.linspace(-2, 2, 41) + 0.013  # away from kinks at 0 and +-1
    h = 1e-6
    numeric = (smooth(x + h) - smooth(x - h)) / (2 * h)
    analytic = keras.ops.convert_to_numpy(
        surrogates.get(name).derivative(ops.convert_to_tensor(x, "float64")))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-6)


def test_float16_and_graph_mode():
    fn = compiled(lambda x: surrogates.FastSigmoid()(x))
    s, g = _forward_and_grad(fn, X.astype("float16"))
    assert s.dtype == np.float16
    np.testing.assert_array_equal(s, X > 0)
    np.testing.assert_allclose(g, 1 / (25 * np.abs(X) + 1) ** 2, rtol=2e-3, atol=1e-4)


def test_custom_derivative_and_user_callable():
    custom = surrogates.Custom(lambda x: 2.0 * keras.ops.ones_like(x))
    s, g = _forward_and_grad(custom, X)
    np.testing.assert_array_equal(s, X > 0)
    np.testing.assert_array_equal(g, 2.0)

    def my_spike(x):
        return keras.ops.cast(x > 0, x.dtype)

    assert surrogates.get(my_spike) is my_spike


def test_get_by_name_config_object():
    assert surrogates.get("fast_sigmoid") == surrogates.FastSigmoid(25)
    assert surrogates.get("FastSigmoid") == surrogates.FastSigmoid()
    assert surrogates.get({"class_name": "ATan", "config": {"alpha": 3}}) == surrogates.ATan(3.0)
    assert surrogates.get({"class_name": "SpikeRateEscape", "config": {"beta": 2}}).beta == 2.0
    obj = surrogates.Sigmoid(slope=7)
    assert surrogates.get(obj) is obj
    for obj in [cls() for cls in surrogates.SURROGATES.values()] + [surrogates.Triangular(0.3)]:
        again = surrogates.get(surrogates.serialize(obj))
        assert again == obj and again is not obj
    assert surrogates.fast_sigmoid(slope=10) == surrogates.FastSigmoid(10.0)
    assert repr(surrogates.atan()) == "ATan(alpha=2.0)"


@keras.saving.register_keras_serializable(package="test_surrogates")
def double_derivative(x):
    return 2.0 * keras.ops.ones_like(x)


def test_custom_serializes_registered_function():
    again = surrogates.get(surrogates.serialize(surrogates.Custom(double_derivative)))
    assert isinstance(again, surrogates.Custom)
    assert again.derivative is not None and again._derivative is double_derivative


@keras.saving.register_keras_serializable(package="test_surrogates")
class FastSigmoid(surrogates.Surrogate):
    """A user's class that happens to share a name with ours."""

    def derivative(self, x):
        return ops.ones_like(x)


def test_user_class_with_the_same_name_is_not_shadowed():
    again = surrogates.get(surrogates.serialize(FastSigmoid()))
    assert type(again) is FastSigmoid
    assert type(surrogates.get(surrogates.serialize(surrogates.FastSigmoid()))) is (
        surrogates.FastSigmoid)


def test_errors():
    with pytest.raises(ValueError, match=r"surrogate must be one of \('fast_sigmoid'.*got 'fast_sigmod'"):
        surrogates.get("fast_sigmod")
    with pytest.raises(TypeError, match="surrogate must be a name"):
        surrogates.get(3)
    with pytest.raises(ValueError, match=r"FastSigmoid: slope must be > 0, got -1"):
        surrogates.FastSigmoid(slope=-1)
    with pytest.raises(ValueError, match=r"ATan: alpha must be > 0, got 0"):
        surrogates.ATan(alpha=0)
    with pytest.raises(TypeError, match="Custom: derivative must be a callable"):
        surrogates.Custom(3.0)
    with pytest.raises(ValueError, match="cannot deserialize surrogate"):
        surrogates.get({"class_name": "NoSuchSurrogate", "config": {}})
