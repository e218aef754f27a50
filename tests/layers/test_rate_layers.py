"""SoftLIF / LIFRate layers and activation callables: validation, config, saving."""

import keras
import numpy as np
import pytest

import keras_spiking
from keras_spiking.layers import LIFRate, SoftLIF
from keras_spiking.layers.rate import with_exact_rates
from keras_spiking.neurons import lif_rate, soft_lif_rate


def test_layers_compute_their_rate_functions():
    x = np.linspace(-2, 6, 50).astype("float32")
    np.testing.assert_allclose(
        np.asarray(SoftLIF(tau_rc=0.03, tau_ref=0.001, amplitude=0.5, sigma=0.2)(x)),
        np.asarray(soft_lif_rate(x + 1.0, 0.03, 0.001, 1.0, 0.5, 0.2)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(LIFRate(threshold=0.5)(x)),
        np.asarray(lif_rate(x + 0.5, threshold=0.5, amplitude=1 / 63)),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        np.asarray(LIFRate(offset=0.0, threshold=0.5)(x)),
        np.asarray(lif_rate(x, threshold=0.5, amplitude=1 / 63)),
        rtol=1e-6,
    )


def test_default_offset_starts_firing_at_zero_like_relu():
    x = np.array([-1.0, -1e-3, 0.0, 1e-3, 1.0], "float32")
    y = np.asarray(LIFRate()(x))
    np.testing.assert_array_equal(y[:3], 0.0)
    assert np.all(y[3:] > 0)
    np.testing.assert_allclose(y[-1], 1 / (0.002 + 0.02 * np.log(2)) / 63, rtol=1e-6)


def test_activation_callables_match_default_layers():
    x = np.linspace(-2, 6, 50).astype("float32")
    np.testing.assert_allclose(
        np.asarray(keras_spiking.activations.soft_lif(x)), np.asarray(SoftLIF()(x))
    )
    np.testing.assert_allclose(
        np.asarray(keras_spiking.activations.lif(x)), np.asarray(LIFRate()(x))
    )


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (LIFRate, dict(tau_rc=0.0), "tau_rc must be > 0, got 0.0"),
        (LIFRate, dict(tau_rc=-1), "tau_rc must be > 0"),
        (LIFRate, dict(tau_ref=-0.001), "tau_ref must be >= 0, got -0.001"),
        (LIFRate, dict(amplitude=0), "amplitude must be > 0"),
        (LIFRate, dict(threshold=-1), "threshold must be > 0"),
        (SoftLIF, dict(sigma=-0.1), "sigma must be >= 0, got -0.1"),
        (LIFRate, dict(gradient_sigma=0), "gradient_sigma must be > 0, got 0"),
        (SoftLIF, dict(tau_rc=float("nan")), "tau_rc must be finite"),
        (SoftLIF, dict(offset=float("inf")), "offset must be finite"),
    ],
)
def test_bad_arguments_raise_clear_errors(cls, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        cls(name="my_neurons", **kwargs)
    assert "my_neurons" in str(info.value)


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="sigma must be a number, got 'wide'"):
        SoftLIF(sigma="wide")


def test_config_round_trip():
    layer = SoftLIF(tau_rc=0.03, tau_ref=0.001, threshold=0.7, amplitude=0.2, sigma=0.3)
    clone = SoftLIF.from_config(layer.get_config())
    for name in ("tau_rc", "tau_ref", "threshold", "amplitude", "sigma", "offset"):
        assert getattr(clone, name) == getattr(layer, name)


def test_saved_model_gives_identical_outputs(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, activation=keras_spiking.activations.soft_lif),
            SoftLIF(sigma=0.1, amplitude=0.03),
            keras.layers.Dense(8),
            LIFRate(tau_ref=0.001),
            keras.layers.Dense(3, activation=keras_spiking.activations.lif),
        ]
    )
    x = np.random.default_rng(0).normal(size=(5, 6)).astype("float32") * 3
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert isinstance(loaded.layers[1], SoftLIF) and loaded.layers[1].sigma == 0.1


def test_lif_rate_with_gradient_sigma_round_trips():
    layer = LIFRate(tau_rc=0.03, gradient_sigma=0.2)
    clone = LIFRate.from_config(layer.get_config())
    assert clone.gradient_sigma == 0.2 and clone.tau_rc == 0.03
    assert "gradient_sigma" not in SoftLIF().get_config()
    assert LIFRate().gradient_sigma is None


def test_with_exact_rates_swaps_soft_lif_in_nested_models():
    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(5), SoftLIF(sigma=0.2)])
    inp = keras.Input((4,))
    out = keras.layers.Dense(3)(SoftLIF(amplitude=0.1, name="outer")(inner(inp)))
    model = keras.Model(inp, out)
    exact = with_exact_rates(model)
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    # same function as setting every sigma to 0 by hand
    w = model.get_weights()
    h = np.asarray(lif_rate(x @ w[0] + w[1] + 1.0, amplitude=1 / 63))
    y = np.asarray(lif_rate(h + 1.0, amplitude=0.1)) @ w[2] + w[3]
    np.testing.assert_allclose(exact.predict(x, verbose=0), y, rtol=1e-5, atol=1e-6)
    swapped = [l for l in (exact.layers + exact.layers[1].layers) if isinstance(l, LIFRate)]
    assert sorted(l.gradient_sigma for l in swapped) == [0.05, 0.2]
    assert not any(isinstance(l, SoftLIF) for l in swapped)
    assert model.layers[2].sigma == 0.05  # the original is untouched


def test_with_exact_rates_bad_input():
    with pytest.raises(TypeError, match="expected a keras.Model, got SoftLIF"):
        with_exact_rates(SoftLIF())
    relu = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])
    with pytest.raises(ValueError, match="gradient_sigma must be > 0"):
        with_exact_rates(relu, gradient_sigma=-1)
    with pytest.warns(UserWarning, match="has no SoftLIF layer"):
        with_exact_rates(relu)


@pytest.mark.parametrize("layer", [SoftLIF(), LIFRate(gradient_sigma=0.05)])
def test_rate_network_trains(layer):
    """A small LIF-rate network fits a separable problem with plain fit."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int64")
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(32), layer, keras.layers.Dense(2)]
    )
    model.compile(
        keras.optimizers.Adam(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = model.fit(x, y, epochs=30, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.95
