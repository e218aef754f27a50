"""Surrogate-gradient LIF layers against a plain-numpy step-by-step reference."""

import keras
import numpy as np
import pytest
from keras import ops
from gradients import gradients

from keras_spiking import surrogates
from keras_spiking.layers import IF, Leaky, RLeaky, RSynaptic, Synaptic

RNG = np.random.RandomState(0)
X = RNG.uniform(-0.5, 1.5, (3, 20, 5)).astype("float32")


def conv_same(s, kernel):
    """'same' cross-correlation of (batch, H, W, C) with (kh, kw, C, C'), odd sizes."""
    kh, kw = kernel.shape[:2]
    padded = np.pad(s, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(s.shape[:3] + kernel.shape[3:])
    for i in range(kh):
        for j in range(kw):
            out += padded[:, i:i + s.shape[1], j:j + s.shape[2]] @ kernel[i, j]
    return out


def reference(x, beta, threshold=1.0, reset="subtract", alpha=None, kernel=None, V=None,
              immediate=False, v0=None):
    """snnTorch's Leaky convention, one step at a time in float64 numpy
    (``immediate``: reset in the step of the spike, membrane after the reset)."""
    x = x.astype("float64")
    v = np.zeros_like(x[:, 0]) if v0 is None else v0.astype("float64")
    i = np.zeros_like(v)
    s = np.zeros_like(v)
    spikes, mems = [], []
    for t in range(x.shape[1]):
        r = (v > threshold).astype("float64")  # previous step's spike
        inp = x[:, t]
        if kernel is not None:
            inp = inp + (s @ kernel if kernel.ndim == 2 else conv_same(s, kernel))
        if V is not None:
            inp = inp + s * V
        if alpha is not None:
            i = alpha * i + inp
            inp = i
        if immediate:
            v = beta * v + inp
            s = (v > threshold).astype("float64")
            v = {"subtract": v - s * threshold, "zero": v * (1 - s), "none": v}[reset]
            spikes.append(s)
            mems.append(v)
            continue
        if reset == "zero":
            v = v * (1 - r)
        v = beta * v + inp
        if reset == "subtract":
            v = v - r * threshold
        s = (v > threshold).astype("float64")
        spikes.append(s)
        mems.append(v)
    return np.stack(spikes, 1), np.stack(mems, 1)


def run(layer, x=X):
    spikes, mem = layer(x)
    return keras.ops.convert_to_numpy(spikes), keras.ops.convert_to_numpy(mem)


def check(layer, expected, x=X):
    spikes, mem = run(layer, x)
    ref_spikes, ref_mem = expected
    assert spikes.dtype == np.float32 and spikes.shape == x.shape
    # float32 vs float64 may flip a spike only on a near-tie; there are none here
    np.testing.assert_array_equal(spikes, ref_spikes)
    np.testing.assert_allclose(mem, ref_mem, rtol=1e-5, atol=1e-5)
    assert 0 < spikes.sum() < spikes.size  # a meaningful test


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("beta", [0.5, 1.0, "per_unit"])
def test_leaky_matches_reference(reset, beta):
    beta = np.linspace(0.1, 0.95, 5).astype("float32") if beta == "per_unit" else beta
    check(Leaky(beta, reset=reset, output="both"), reference(X, beta, reset=reset))
    check(Leaky(beta, threshold=0.6, reset=reset, output="both"),
          reference(X, beta, threshold=0.6, reset=reset))


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_immediate_reset_matches_reference(reset):
    check(Leaky(0.8, threshold=0.7, reset=reset, reset_delay=False, output="both"),
          reference(X, 0.8, threshold=0.7, reset=reset, immediate=True))
    check(Synaptic(0.5, 0.8, reset=reset, reset_delay=False, output="both"),
          reference(X, 0.8, reset=reset, alpha=0.5, immediate=True))
    check(RLeaky(0.8, all_to_all=False, V=-0.3, reset=reset, reset_delay=False, output="both"),
          reference(X, 0.8, reset=reset, V=-0.3, immediate=True))


def test_if_is_leaky_with_beta_one():
    check(IF(threshold=2.0, output="both"), reference(X, 1.0, threshold=2.0))
    check(IF(reset="zero", output="both"), reference(X, 1.0, reset="zero"))


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
def test_synaptic_matches_reference(reset):
    check(Synaptic(0.6, 0.7, reset=reset, output="both"),
          reference(X, 0.7, reset=reset, alpha=0.6))
    alpha = np.linspace(0, 1, 5)
    check(Synaptic(alpha, 0.4, threshold=1.5, reset=reset, output="both"),
          reference(X, 0.4, threshold=1.5, reset=reset, alpha=alpha))


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_recurrent_match_reference(reset):
    kernel = RNG.normal(0, 0.5, (5, 5)).astype("float32")
    layer = RLeaky(0.5, reset=reset, output="both")
    layer.build(X.shape)
    layer.recurrent_kernel.assign(kernel)
    check(layer, reference(X, 0.5, reset=reset, kernel=kernel))

    V = np.array([-0.5, 0.2, 0.0, 1.0, 0.3])
    check(RLeaky(0.8, all_to_all=False, V=V, reset=reset, output="both"),
          reference(X, 0.8, reset=reset, V=V))

    layer = RSynaptic(0.3, 0.5, reset=reset, output="both")
    layer.build(X.shape)
    layer.recurrent_kernel.assign(kernel)
    check(layer, reference(X, 0.5, reset=reset, alpha=0.3, kernel=kernel))
    check(RSynaptic(0.3, 0.5, all_to_all=False, V=-0.4, reset=reset, output="both"),
          reference(X, 0.5, reset=reset, alpha=0.3, V=-0.4))


def test_convolutional_recurrence_matches_reference():
    x = RNG.uniform(-0.5, 1.5, (2, 8, 5, 4, 3)).astype("float32")
    kernel = RNG.normal(0, 0.4, (3, 3, 3, 3)).astype("float32")
    layer = RLeaky(0.6, recurrent_kernel_size=3, output="both")
    layer.build(x.shape)
    assert layer.recurrent_kernel.shape == (3, 3, 3, 3)
    layer.recurrent_kernel.assign(kernel)
    check(layer, reference(x, 0.6, kernel=kernel), x)
    layer = RSynaptic(0.4, 0.6, recurrent_kernel_size=(3, 1), reset="zero", output="both")
    layer.build(x.shape)
    layer.recurrent_kernel.assign(kernel[:, 1:2])
    check(layer, reference(x, 0.6, alpha=0.4, reset="zero", kernel=kernel[:, 1:2]), x)
    assert RSynaptic.from_config(layer.get_config()).recurrent_kernel_size == (3, 1)


def test_initial_state_above_threshold_resets_at_the_first_step():
    """snnTorch derives the reset from the voltage, so a start above threshold
    is reset (delayed) at step 0, exactly as after a spike."""
    v0 = RNG.uniform(0, 2.5, X[:, 0].shape).astype("float32")
    for reset in ["subtract", "zero"]:
        layer = Leaky(0.7, reset=reset, output="both")
        spikes, mem = layer(X, initial_state=[v0])
        ref_spikes, ref_mem = reference(X, 0.7, reset=reset, v0=v0)
        np.testing.assert_array_equal(spikes, ref_spikes)
        np.testing.assert_allclose(mem, ref_mem, atol=1e-5)


def test_outputs_and_states():
    spikes_ref, mem_ref = reference(X, 0.5)
    np.testing.assert_array_equal(Leaky(0.5)(X), spikes_ref)
    np.testing.assert_allclose(Leaky(0.5, output="membrane")(X), mem_ref, atol=1e-5)
    last, (v,) = Leaky(0.5, return_sequences=False, return_state=True)(X)
    np.testing.assert_array_equal(last, spikes_ref[:, -1])
    np.testing.assert_allclose(v, mem_ref[:, -1], atol=1e-5)
    (s, m), states = RSynaptic(0.5, 0.5, output="both", return_sequences=False,
                               return_state=True)(X)
    assert s.shape == m.shape == (3, 5) and [t.shape for t in states] == [(3, 5)] * 3


@pytest.mark.parametrize("shape", [(4, 6, 7), (2, 5, 6, 6, 3)])
def test_any_trailing_shape_and_functional_shapes(shape):
    x = RNG.uniform(0, 2, shape).astype("float32")
    per_channel = np.linspace(0.2, 0.9, shape[-1])
    for layer in [Leaky(per_channel), Synaptic(0.5, per_channel), RLeaky(0.5),
                  RSynaptic(0.5, 0.5, all_to_all=False), IF()]:
        y = layer(x)
        assert y.shape == shape
        flat = x.reshape(shape[:2] + (-1,))
        if isinstance(layer, Leaky):  # per-unit beta broadcasts like (..., channels)
            beta = np.broadcast_to(per_channel, shape[2:]).reshape(-1)
            np.testing.assert_array_equal(
                keras.ops.convert_to_numpy(y).reshape(flat.shape), reference(flat, beta)[0])
    inp = keras.Input(shape[1:])
    (s, m), states = RSynaptic(0.5, 0.5, output="both", return_state=True,
                               return_sequences=False)(inp)
    assert s.shape == m.shape == (None,) + shape[2:]
    assert [t.shape for t in states] == [(None,) + shape[2:]] * 3


def test_follows_dense_and_conv_in_a_model():
    model = keras.Sequential([
        keras.Input((6, 8, 8, 1)),
        keras.layers.TimeDistributed(keras.layers.Conv2D(4, 3)),
        Leaky(0.5, surrogate="fast_sigmoid"),
        keras.layers.Reshape((6, -1)),
        keras.layers.Dense(3),
        Synaptic(0.5, 0.5, output="membrane"),
    ])
    y = model(RNG.uniform(0, 1, (2, 6, 8, 8, 1)).astype("float32"))
    assert y.shape == (2, 6, 3)


def _grads(layer, x, loss_fn=lambda s: ops.sum(s * np.linspace(-1, 1, 5))):
    """[d loss / d x] + [d loss / d w for w in layer.trainable_variables]."""
    if not layer.built:
        layer.build(x.shape)
    fixed = [v.value for v in layer.non_trainable_variables]

    def loss(x, trainable):
        y, _ = layer.stateless_call(trainable, fixed, x)
        return loss_fn(y)

    grad_x, grad_w = gradients(
        loss, ops.convert_to_tensor(x), [v.value for v in layer.trainable_variables])
    return [ops.convert_to_numpy(g) for g in [grad_x] + list(grad_w)]


def test_learnable_parameters_get_gradients():
    for layer in [
        Leaky(0.5, learn_beta=True, learn_threshold=True),
        Synaptic(0.5, 0.5, learn_alpha=True, learn_beta=True, learn_threshold=True),
        RLeaky(0.5, learn_beta=True),
        RLeaky(0.5, all_to_all=False, V=0.5),
        RSynaptic(0.5, 0.5, learn_alpha=True),
    ]:
        grads = _grads(layer, X)
        assert len(grads) == 1 + len(layer.trainable_weights) >= 2
        for weight, g in zip(layer.trainable_weights, grads[1:]):
            assert g is not None and np.all(np.isfinite(g)), weight.name
            assert np.any(np.abs(g) > 1e-6), weight.name
    frozen = RLeaky(0.5, learn_recurrent=False)
    frozen.build(X.shape)
    assert frozen.trainable_weights == [] and len(frozen.non_trainable_weights) == 1


def test_learned_beta_is_clipped_to_unit_interval():
    layer = Leaky(0.5, learn_beta=True, output="membrane")
    layer.build(X.shape)
    layer.beta_variable.assign(1.7)
    np.testing.assert_allclose(layer(X), reference(X, 1.0)[1], atol=1e-5)
    layer.beta_variable.assign(-0.3)
    np.testing.assert_allclose(layer(X), reference(X, 0.0)[1], atol=1e-5)


@pytest.mark.parametrize("detached", [True, False])
@pytest.mark.parametrize("delay", [True, False])
def test_reset_detached_gradient_closed_form(detached, delay):
    """d v[T-1] / d x[0]: beta^(T-1) through a detached reset; with the
    straight-through surrogate and reset subtract, each step multiplies by
    (beta - threshold) (delayed) or beta (1 - threshold) (immediate)."""
    x = np.full((1, 6, 5), 0.7, "float32")
    layer = Leaky(0.5, threshold=0.3, surrogate="straight_through",
                  reset_detached=detached, reset_delay=delay, output="membrane")
    (grad_x,) = _grads(layer, x, lambda v: ops.sum(v[:, -1]))
    if detached:
        expected = 0.5 ** 5
    elif delay:
        expected = (0.5 - 0.3) ** 5
    else:  # v[t] = beta v[t-1] + x - thr s(v); d/dv[t-1] = beta (1 - thr), d/dx[0] = (1 - thr)
        expected = (0.5 * (1 - 0.3)) ** 5 * (1 - 0.3)
    np.testing.assert_allclose(grad_x[0, 0], expected, rtol=1e-5)


def test_gradient_uses_surrogate_at_threshold():
    """d s[0] / d x[0] = surrogate'(x[0] - threshold) at the first step."""
    x = np.full((1, 1, 5), 1.0 + np.array([-0.2, -0.05, 0.0, 0.05, 0.2]), "float32")
    for surrogate in ["fast_sigmoid", "atan", "triangular", surrogates.Sigmoid(4)]:
        layer = Leaky(0.9, surrogate=surrogate)
        (grad_x,) = _grads(layer, x, ops.sum)
        expected = ops.convert_to_numpy(layer.surrogate.derivative(ops.convert_to_tensor(x - 1.0)))
        np.testing.assert_allclose(grad_x, expected, rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda: Leaky(0.7, stateful=True, output="both"),
    lambda: RSynaptic(0.4, 0.7, all_to_all=False, V=0.3, stateful=True, output="both"),
])
def test_stateful_continuation_equals_one_long_run(make):
    long = make()
    full = run(long)
    long.reset_state()
    np.testing.assert_array_equal(run(long)[0], full[0])  # reset_state forgets
    chunked = make()
    parts = [run(chunked, X[:, a:b]) for a, b in [(0, 7), (7, 8), (8, 20)]]
    for k in range(2):
        np.testing.assert_allclose(np.concatenate([p[k] for p in parts], 1), full[k], atol=1e-6)


def test_long_sequences_use_scan():
    x = RNG.uniform(0, 1, (2, 70, 4)).astype("float32")
    check(Leaky(0.6, output="both"), reference(x, 0.6), x)
    check(Synaptic(0.3, 0.6, output="both"), reference(x, 0.6, alpha=0.3), x)


@keras.saving.register_keras_serializable(package="test_leaky")
def box_derivative(x):
    return keras.ops.cast(keras.ops.abs(x) < 0.5, x.dtype)


@keras.saving.register_keras_serializable(package="test_leaky")
class Gaussian(surrogates.Surrogate):
    def __init__(self, sigma=0.5):
        self.sigma = sigma

    def derivative(self, x):
        return keras.ops.exp(-0.5 * keras.ops.square(x / self.sigma))

    def get_config(self):
        return {"sigma": self.sigma}


def test_keras_round_trip(tmp_path):
    keras.utils.set_random_seed(1)
    x = X[:, :6]
    inp = keras.Input((6, 5))
    h = keras.layers.Dense(5)(inp)
    h = Leaky(np.linspace(0.3, 0.9, 5), learn_beta=True, learn_threshold=True,
              surrogate=Gaussian(0.3))(h)
    h = RSynaptic(0.5, 0.6, reset="zero", surrogate=surrogates.Custom(box_derivative))(h)
    h = RLeaky(0.5, all_to_all=False, V=[0.1, 0.2, 0.3, 0.4, 0.5])(h)
    h = Synaptic(0.2, 0.5, surrogate="sigmoid", output="membrane")(h)
    out = IF(threshold=0.1, reset_detached=False, reset_delay=False)(keras.layers.Dense(4)(h))
    model = keras.Model(inp, out)
    for w in model.trainable_weights:  # move the weights off their initial values
        w.assign(w + RNG.uniform(-0.05, 0.05, w.shape).astype("float32"))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded(x), model(x))
    assert 0 < np.sum(model(x)) < np.size(model(x))
    leaky = loaded.layers[2]
    assert isinstance(leaky.surrogate, Gaussian) and leaky.surrogate.sigma == 0.3
    assert loaded.layers[3].surrogate._derivative is box_derivative
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(a, b)
    config = leaky.get_config()
    assert config["beta"] == pytest.approx(list(np.linspace(0.3, 0.9, 5)))
    assert Leaky.from_config(config).get_config() == config


def test_keras_round_trip_convolutional_recurrence(tmp_path):
    x = RNG.uniform(0, 1.5, (2, 4, 5, 5, 3)).astype("float32")
    model = keras.Sequential([
        keras.Input(x.shape[1:]),
        RSynaptic(0.5, 0.5, recurrent_kernel_size=3, recurrent_initializer="glorot_uniform"),
    ])
    model.save(tmp_path / "c.keras")
    loaded = keras.models.load_model(tmp_path / "c.keras")
    assert loaded.layers[0].recurrent_kernel.shape == (3, 3, 3, 3)
    np.testing.assert_array_equal(loaded(x), model(x))


@pytest.mark.parametrize("seed", [0])
def test_fit_reduces_loss(seed):
    keras.utils.set_random_seed(seed)
    x = RNG.uniform(0, 1, (32, 5, 6)).astype("float32")
    y = (x.mean(axis=(1, 2)) > 0.5).astype("int32")
    model = keras.Sequential([
        keras.Input((5, 6)), keras.layers.Dense(16), Leaky(0.5, surrogate="fast_sigmoid"),
        keras.layers.Dense(2), Leaky(0.5, output="membrane", return_sequences=False),
    ])
    model.compile(keras.optimizers.Adam(0.02),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]


def test_errors():
    with pytest.raises(ValueError, match=r"leaky\w*: beta must be >= 0 and <= 1, got 1.5"):
        Leaky(1.5)
    with pytest.raises(ValueError, match=r"beta must be >= 0 and <= 1, got \[-0.1\]"):
        Leaky([0.5, -0.1])
    with pytest.raises(ValueError, match=r"threshold must be > 0, got 0"):
        Leaky(0.5, threshold=0)
    with pytest.raises(ValueError, match=r"alpha must be >= 0 and <= 1, got 2"):
        Synaptic(2, 0.5)
    with pytest.raises(ValueError, match=r"reset must be one of \('subtract', 'zero', 'none'\), got 'hard'"):
        Leaky(0.5, reset="hard")
    with pytest.raises(ValueError, match=r"leaky\w*: surrogate: surrogate must be one of .*got 'fast'"):
        Leaky(0.5, surrogate="fast")
    with pytest.raises(ValueError, match=r"output must be one of \('spikes', 'membrane', 'both'\)"):
        Leaky(0.5, output="voltage")
    with pytest.raises(TypeError, match="learn_beta must be True or False, got 1"):
        Leaky(0.5, learn_beta=1)
    with pytest.raises(TypeError, match="reset_delay must be True or False, got 'no'"):
        Leaky(0.5, reset_delay="no")
    with pytest.raises(TypeError, match="beta must be a number or an array"):
        Leaky("0.5")
    with pytest.raises(ValueError, match=r"beta has shape \(3,\), which does not broadcast to the neurons' shape \(5,\)"):
        Leaky([0.1, 0.2, 0.3])(X)
    with pytest.raises(TypeError, match=r"Leaky got an unexpected argument alpha=0.3"):
        Leaky(0.5, alpha=0.3)
    with pytest.raises(TypeError, match=r"Synaptic got an unexpected argument V=0.3"):
        Synaptic(0.5, 0.5, V=0.3)
    with pytest.raises(ValueError, match=r"recurrent_kernel_size=3 needs all_to_all=True"):
        RLeaky(0.5, all_to_all=False, recurrent_kernel_size=3)
    with pytest.raises(ValueError, match=r"recurrent_kernel_size must be None, a positive int"):
        RLeaky(0.5, recurrent_kernel_size=(3, 0))
    with pytest.raises(ValueError, match=r"recurrent_kernel_size needs inputs shaped"):
        RLeaky(0.5, recurrent_kernel_size=3)(X)
    with pytest.raises(ValueError, match=r"expected inputs shaped \(batch, time, features...\)"):
        Leaky(0.5)(np.zeros((2, 3), "float32"))


def test_mixed_precision():
    """float16 compute: float16 spikes and voltages, float32 weights, same spikes."""
    x = RNG.uniform(-0.5, 1.5, (3, 10, 5)).astype("float32")
    keras.config.set_dtype_policy("mixed_float16")
    try:
        layer = Leaky(0.5, learn_beta=True, learn_threshold=True, output="both")
        spikes, mem = layer(x)
        assert spikes.dtype == mem.dtype == "float16"
        assert all(w.dtype == "float32" for w in layer.weights)
    finally:
        keras.config.set_dtype_policy("float32")
    ref_spikes, ref_mem = reference(x, 0.5)
    np.testing.assert_array_equal(spikes, ref_spikes)
    np.testing.assert_allclose(ops.convert_to_numpy(mem).astype("float32"), ref_mem, atol=5e-3)


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_low_precision_policy_keeps_a_float32_state(policy):
    """An IF neuron adding 0.01 per step for 300 steps: in a bfloat16 state each
    addition rounds (ulp 2**-8 near 1), so spikes come at other steps; the float32
    state gives exactly the float32 spikes of the same (rounded) input."""
    import ml_dtypes

    low = "bfloat16" if policy == "mixed_bfloat16" else "float16"
    x = np.full((2, 300, 3), 0.01, "float32").astype(getattr(ml_dtypes, low, low))
    x32 = x.astype("float32")
    ref = ops.convert_to_numpy(IF(threshold=1.0)(x32))
    keras.config.set_dtype_policy(policy)  # reset by conftest
    layer = IF(threshold=1.0)
    spikes = layer(ops.convert_to_tensor(x))
    assert keras.backend.standardize_dtype(spikes.dtype) == low
    assert ref.sum() > 0
    np.testing.assert_array_equal(ops.convert_to_numpy(spikes).astype("float32"), ref)

    class LowState(IF):  # what the default was: the state in the compute dtype
        state_dtype = None

    drifted = ops.convert_to_numpy(LowState(threshold=1.0)(ops.convert_to_tensor(x)))
    assert np.any(drifted.astype("float32") != ref)  # the test can tell the difference
