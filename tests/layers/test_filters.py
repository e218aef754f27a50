"""Synaptic filters against the continuous-time solution for held inputs."""

import numpy as np
import pytest
import keras

from keras_spiking.layers import Alpha, Lowpass

from gradients import value_and_grads

DT = 0.001


def lowpass_step_response(t, tau):
    return 1.0 - np.exp(-t / tau)


def alpha_step_response(t, tau):
    return 1.0 - (1.0 + t / tau) * np.exp(-t / tau)


STEP_RESPONSES = {Lowpass: lowpass_step_response, Alpha: alpha_step_response}


def held_input_response(x, cls, tau, dt):
    """Exact output at t = k dt for an input held over ((k-1) dt, k dt].

    A held input is a sum of delayed steps of heights x[k] - x[k-1], so the
    output is the same sum of delayed step responses (superposition).
    """
    x = np.asarray(x, "float64")
    jumps = np.diff(x, axis=1, prepend=0.0)
    steps = x.shape[1]
    t = dt * np.arange(1, steps + 1)
    response = STEP_RESPONSES[cls](t, tau)  # response[m] = S((m + 1) dt)
    y = np.zeros_like(x)
    for n in range(steps):
        y[:, n] = np.tensordot(response[n::-1], jumps[:, : n + 1], axes=([0], [1]))
    return y


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
@pytest.mark.parametrize("tau, dt", [(0.005, 0.001), (0.02, 0.001), (0.003, 0.01)])
def test_step_and_impulse_responses(cls, tau, dt):
    steps = 40
    t = dt * np.arange(1, steps + 1)
    y = np.asarray(cls(tau, dt=dt)(np.ones((1, steps, 1), "float32")))[0, :, 0]
    np.testing.assert_allclose(y, STEP_RESPONSES[cls](t, tau), atol=1e-6)
    impulse = np.zeros((1, steps, 1), "float32")
    impulse[0, 0] = 1.0 / dt  # unit area, held over the first step
    y = np.asarray(cls(tau, dt=dt)(impulse))[0, :, 0]
    expected = (STEP_RESPONSES[cls](t, tau) - STEP_RESPONSES[cls](t - dt, tau)) / dt
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6 / dt)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_random_input_and_dc_gain(cls):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 150, 3)).astype("float32")  # > MAX_UNROLL: the scanned loop
    y = np.asarray(cls(0.01)(x))
    np.testing.assert_allclose(y, held_input_response(x, cls, 0.01, DT), atol=1e-5)
    const = np.full((1, 400, 2), 3.5, "float32")
    np.testing.assert_allclose(np.asarray(cls(0.01)(const))[:, -1], 3.5, rtol=1e-5)
    np.testing.assert_allclose(
        np.asarray(cls(0.01, initial_value="first_input")(const)), 3.5, rtol=1e-6)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_zero_tau_is_identity(cls):
    x = np.random.default_rng(1).normal(size=(2, 9, 4)).astype("float32")
    np.testing.assert_allclose(cls(0.0)(x), x, rtol=1e-6)
    np.testing.assert_allclose(cls(1e-320)(x), x, rtol=1e-6)  # no 0 * inf


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_stateful_chunks_and_shapes(cls):
    x = np.random.default_rng(2).normal(size=(2, 60, 4, 4, 2)).astype("float32")
    whole = np.asarray(cls(0.01)(x))
    layer = cls(0.01, stateful=True)
    inputs = keras.Input((20, 4, 4, 2), batch_size=2)
    model = keras.Model(inputs, layer(inputs))
    chunks = [model(x[:, i:i + 20]) for i in range(0, 60, 20)]
    np.testing.assert_allclose(np.concatenate(chunks, 1), whole, atol=1e-6)
    last = cls(0.01, return_sequences=False)(x)
    np.testing.assert_allclose(last, whole[:, -1], atol=1e-6)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_float16_policy_keeps_float32_state(cls):
    """A float16 state stalls short of the steady state (0.7 % for Alpha at
    tau = 10 steps); the filters scan in float32 and cast the output back."""
    keras.config.set_dtype_policy("mixed_float16")  # reset by conftest
    layer = cls(0.01)
    x = np.full((1, 300, 3), [0.5, 2.0, 30.0], "float32")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    np.testing.assert_allclose(np.asarray(y, "float32")[0, -1], x[0, 0], rtol=1e-3)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_learned_tau_gradient_matches_finite_difference(cls):
    x = np.random.default_rng(5).normal(size=(2, 30, 3)).astype("float32")
    target = np.asarray(cls(0.02)(x))
    layer = cls(0.008, learn_tau=True)
    layer.build(x.shape)
    assert [w.name for w in layer.trainable_weights] == ["tau"]

    def loss(tau=None):
        if tau is None:
            return keras.ops.mean(keras.ops.square(layer(x) - target))
        y, _ = layer.stateless_call([tau], [], x)
        return keras.ops.mean(keras.ops.square(y - target))

    _, (grad,) = value_and_grads(loss, np.asarray(layer.tau_variable))
    assert grad.shape == (3,)  # one tau per unit; moving all of them together:
    grad = float(np.sum(grad))
    h = 1e-4
    layer.tau_variable.assign(np.full(3, 0.008 + h))
    upper = float(loss())
    layer.tau_variable.assign(np.full(3, 0.008 - h))
    lower = float(loss())
    assert grad < 0  # a longer tau gets closer to the target
    np.testing.assert_allclose(grad, (upper - lower) / (2 * h), rtol=1e-2)


def test_learned_tau_is_saved(tmp_path):
    x = np.random.default_rng(6).normal(size=(2, 10, 3)).astype("float32")
    inputs = keras.Input((10, 3))
    layer = Alpha(0.01, learn_tau=True)
    model = keras.Model(inputs, layer(inputs))
    layer.tau_variable.assign(np.full(3, 0.03))
    np.testing.assert_allclose(model(x), Alpha(0.03)(x), rtol=1e-5, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(loaded.layers[1].tau_variable), 0.03, rtol=1e-7)
    np.testing.assert_array_equal(loaded(x), model(x))


def test_keras_round_trip(tmp_path):
    x = np.random.default_rng(3).normal(size=(2, 30, 5)).astype("float32")
    inputs = keras.Input((None, 5))
    outputs = Alpha(0.004, dt=0.002)(Lowpass(0.01, initial_value="first_input")(inputs))
    model = keras.Model(inputs, outputs)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(model(x), loaded(x))
    assert loaded.layers[2].get_config() == model.layers[2].get_config()


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"tau": -0.01}, ValueError, "tau must be >= 0"),
        ({"tau": 0.01, "dt": 0}, ValueError, "dt must be > 0"),
        ({"tau": float("inf")}, ValueError, "tau must be finite"),
        ({"tau": "fast"}, TypeError, "tau must be a number"),
        ({"tau": 0.01, "initial_value": "ones"}, ValueError, "initial_value must be one of"),
        ({"tau": 0, "learn_tau": True}, ValueError, "learn_tau=True needs tau > 0"),
        ({"tau": 0.01, "learn_tau": 1}, TypeError, "learn_tau must be True or False"),
    ],
)
@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_bad_arguments(cls, kwargs, error, match):
    with pytest.raises(error, match=match):
        cls(**kwargs)


@pytest.mark.parametrize("cls", [Lowpass, Alpha])
def test_scanned_and_unrolled_loops_agree_with_gradients(cls):
    """Long runs use the scanned loop, short ones the unrolled one: same values
    and same input gradients (the scan returns outputs shaped unlike its state)."""
    from keras_spiking.timeloop import scan_time

    layer = cls(0.005)
    x = np.random.default_rng(4).normal(size=(2, 12, 3)).astype("float32")
    weights = np.arange(12, dtype="float32")[None, :, None]
    results = []
    for unroll in (True, False):
        def run(x_):
            return scan_time(layer.step_function(x_), x_, layer.initial_state(x_), unroll=unroll)

        _, (grad,) = value_and_grads(lambda x_: run(x_)[0] * weights, x)
        y, state = run(keras.ops.convert_to_tensor(x))
        results.append((np.asarray(y), np.asarray(state[-1]), grad))
    for unrolled, scanned in zip(*results):
        np.testing.assert_allclose(unrolled, scanned, rtol=1e-6, atol=1e-7)
    assert y.shape == x.shape
