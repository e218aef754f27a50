"""Encoders: statistics, closed-form spike times, snnTorch's documented examples, round trips."""

import math

import keras
import numpy as np
import pytest

from keras_spiking import encoders


def test_rate_bernoulli_mean_and_independence():
    p = np.linspace(0.0, 1.0, 11, dtype="float32")
    x = np.tile(p, (64, 1))
    s = keras.ops.convert_to_numpy(encoders.rate(x, 200, seed=3))
    assert s.shape == (64, 200, 11)
    assert set(np.unique(s)) <= {0.0, 1.0}
    mean = s.mean(axis=(0, 1))
    n = 64 * 200
    # within 5 standard errors of the Bernoulli mean; 0 and 1 exactly
    assert np.all(np.abs(mean - p) <= 5 * np.sqrt(p * (1 - p) / n) + 1e-7)
    assert mean[0] == 0 and mean[-1] == 1
    # successive steps uncorrelated
    a, b = s[:, :-1, 5].ravel(), s[:, 1:, 5].ravel()
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.05


def test_rate_gain_offset_clip_and_seed():
    x = np.full((2, 3), 0.4, "float32")
    s = keras.ops.convert_to_numpy(encoders.rate(x, 50, gain=5.0, offset=-1.0, seed=0))
    assert np.all(s == 1)  # 5 * 0.4 - 1 = 1
    s = keras.ops.convert_to_numpy(encoders.rate(x, 50, gain=-1.0, seed=0))
    assert np.all(s == 0)
    one = keras.ops.convert_to_numpy(encoders.rate(np.full((4, 5), 0.5), 20, seed=7))
    two = keras.ops.convert_to_numpy(encoders.rate(np.full((4, 5), 0.5), 20, seed=7))
    np.testing.assert_array_equal(one, two)


def test_rate_encoder_layer_seeded_and_fresh_draws():
    x = np.full((8, 10), 0.5, "float32")
    a = encoders.RateEncoder(30, seed=11)
    b = encoders.RateEncoder(30, seed=11)
    first, again = keras.ops.convert_to_numpy(a(x)), keras.ops.convert_to_numpy(a(x))
    np.testing.assert_array_equal(first, keras.ops.convert_to_numpy(b(x)))
    assert not np.array_equal(first, again)  # a new draw per call
    assert a.compute_output_shape((None, 10)) == (None, 30, 10)


def test_latency_log_times_closed_form():
    x = np.array([[0.005, 0.02, 0.1, 0.5, 1.0]], "float32")
    tau, thr, eps = 5.0, 0.01, 1e-7
    t = keras.ops.convert_to_numpy(encoders.latency_times(x, 100, tau=tau, threshold=thr))
    xc = np.maximum(x.astype("float64"), thr + eps)
    np.testing.assert_allclose(t, tau * np.log(xc / (xc - thr)), rtol=1e-5)
    # normalised: below-threshold input lands exactly on the last step
    t = keras.ops.convert_to_numpy(
        encoders.latency_times(x, 25, tau=tau, threshold=thr, normalize=True)
    )
    scale = 24 / (tau * math.log((thr + eps) / eps))
    np.testing.assert_allclose(t, scale * tau * np.log(xc / (xc - thr)), rtol=1e-4)
    assert abs(t[0, 0] - 24) < 1e-3


def test_latency_linear_matches_snntorch_documented_example():
    # snnTorch docs: latency([0.02, 0.5, 1], num_steps=5, normalize=True, linear=True)
    # has spike times (3.92, 2, 0) and spikes at steps 4, 2, 0.
    x = np.array([[0.02, 0.5, 1.0]], "float32")
    t = keras.ops.convert_to_numpy(encoders.latency_times(x, 5, normalize=True, linear=True))
    np.testing.assert_allclose(t, [[3.92, 2.0, 0.0]], atol=1e-6)
    s = keras.ops.convert_to_numpy(encoders.latency(x, 5, normalize=True, linear=True))
    expected = np.zeros((1, 5, 3))
    expected[0, 4, 0] = expected[0, 2, 1] = expected[0, 0, 2] = 1
    np.testing.assert_array_equal(s, expected)


def test_latency_one_spike_clip_drop_and_offset():
    x = np.random.default_rng(0).uniform(0.02, 1, (16, 7)).astype("float32")
    x[:, 0] = 0.0
    s = keras.ops.convert_to_numpy(encoders.latency(x, 10, tau=4.0, linear=True))
    assert s.shape == (16, 10, 7)
    np.testing.assert_array_equal(s.sum(axis=1), 1)  # exactly one spike each
    np.testing.assert_array_equal(s.argmax(axis=1), np.round(4.0 * (1 - np.maximum(x, 0.01))))
    clipped = keras.ops.convert_to_numpy(encoders.latency(x, 10, tau=4.0, linear=True, clip=True))
    assert np.all(clipped[:, :, 0] == 0) and np.all(clipped[:, :, 1:] == s[:, :, 1:])
    # spike times past the window are dropped, not moved
    late = keras.ops.convert_to_numpy(encoders.latency(np.array([[0.0, 1.0]]), 3, tau=10.0, linear=True))
    np.testing.assert_array_equal(late[0, :, 0], 0)
    np.testing.assert_array_equal(late[0, :, 1], [1, 0, 0])
    shifted = keras.ops.convert_to_numpy(
        encoders.latency(np.array([[1.0, 0.0]]), 6, linear=True, normalize=True, first_spike_time=2)
    )
    assert shifted[0, :, 0].argmax() == 2 and shifted[0, :, 1].argmax() == 5


def test_delta_hand_computed():
    # changes 1, 1, 0.9, 0.1, 0.9 (from 0); snnTorch's docstring shows a spike at
    # 3 - 2.9 for this series, which its own formula does not give
    a = np.array([[1, 2, 2.9, 3, 3.9]], "float32")
    f = lambda x, **k: keras.ops.convert_to_numpy(encoders.delta(x, **k))[0].tolist()
    assert f(a, threshold=1) == [1, 1, 0, 0, 0]
    assert f(a, threshold=1, padding=True) == [0, 1, 0, 0, 0]
    assert f(a, threshold=0.85) == [1, 1, 1, 0, 1]
    b = np.array([[1, 2, 0, 2, 2.9]], "float32")
    assert f(b, threshold=1, off_spike=True) == [1, 1, -1, 1, 0]
    assert f(b, threshold=1, padding=True, off_spike=True) == [0, 1, -1, 1, 0]
    # trailing feature axes follow along
    c = np.stack([a, b], axis=-1)
    layer = encoders.DeltaEncoder(threshold=1.0, off_spike=True)
    out = keras.ops.convert_to_numpy(layer(c))
    assert out.shape == (1, 5, 2) and out[0, :, 1].tolist() == [1, 1, -1, 1, 0]


def test_direct_repeats():
    x = np.arange(6, dtype="float32").reshape(2, 3)
    d = keras.ops.convert_to_numpy(encoders.direct(x, 4))
    assert d.shape == (2, 4, 3)
    np.testing.assert_array_equal(d, np.repeat(x[:, None], 4, axis=1))


@pytest.mark.parametrize(
    "layer",
    [
        encoders.RateEncoder(12, gain=0.8, seed=5),
        encoders.LatencyEncoder(12, tau=3.0, linear=True, normalize=True, clip=True),
        encoders.LatencyEncoder(12, tau=2.0, first_spike_time=3),
    ],
)
def test_encoder_layers_keras_round_trip(layer, tmp_path):
    inp = keras.Input((4, 4, 1))
    model = keras.Model(inp, keras.layers.Flatten()(layer(inp)))
    x = np.random.default_rng(1).uniform(0, 1, (3, 4, 4, 1)).astype("float32")
    path = str(tmp_path / "m.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    if isinstance(layer, encoders.RateEncoder):
        # same seed and same state of the seed generator: same draws
        fresh = keras.Model(inp, keras.layers.Flatten()(encoders.RateEncoder(12, gain=0.8, seed=5)(inp)))
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(loaded(x)), keras.ops.convert_to_numpy(fresh(x))
        )
    else:
        np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.layers[1].get_config() == layer.get_config()


def test_delta_layer_round_trip(tmp_path):
    inp = keras.Input((5, 2))
    model = keras.Model(inp, encoders.DeltaEncoder(0.3, padding=True)(inp))
    path = str(tmp_path / "d.keras")
    model.save(path)
    x = np.random.default_rng(2).normal(size=(3, 5, 2)).astype("float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), keras.models.load_model(path).predict(x, verbose=0))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: encoders.RateEncoder(0), "timesteps must be a positive int"),
        (lambda: encoders.RateEncoder(5, seed="a"), "seed must be None or an int"),
        (lambda: encoders.LatencyEncoder(5, tau=0), "tau must be > 0"),
        (lambda: encoders.LatencyEncoder(5, threshold=1.0), "threshold must be > 0 and < 1"),
        (lambda: encoders.LatencyEncoder(5, first_spike_time=5), "first_spike_time must be an int in"),
        (lambda: encoders.DeltaEncoder(threshold=-1), "threshold must be > 0"),
        (lambda: encoders.delta(np.zeros(3), threshold=0.1), "expected inputs shaped"),
    ],
)
def test_encoder_errors(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


@pytest.mark.parametrize("name", ["gain", "offset"])
@pytest.mark.parametrize("bad", ["2", None, True])
def test_rate_gain_offset_must_be_numbers(name, bad):
    with pytest.raises(TypeError, match=f"rate: {name} must be a number"):
        encoders.rate(np.full((2, 3), 0.4, "float32"), 5, **{name: bad})
