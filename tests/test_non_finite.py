"""The non-finite data policy (README "Non-finite data"): eager layer calls and
the public tools refuse NaN/Inf data (``keras_spiking.default.check_numerics``);
in compiled steps, or with the check off, NaN reaches the output."""

import numpy as np
import pytest

import keras

import keras_spiking
from keras_spiking import layers as L
from keras_spiking.converters import convert, evaluate_timesteps, verify
from keras_spiking.neurons import heaviside
from keras_spiking.validation import NonFiniteError

NEURONS = [
    (L.Leaky, dict(beta=0.9)),
    (L.Synaptic, dict(alpha=0.5, beta=0.9)),
    (L.RLeaky, dict(beta=0.9)),
    (L.RSynaptic, dict(alpha=0.5, beta=0.9)),
    (L.IF, {}),
    (L.SpikingIF, {}),
    (L.SpikingLIF, {}),
    (L.SpikingActivation, dict(activation="relu")),
    (L.ContinuousLIF, dict(tau=0.02)),
    (L.Lowpass, dict(tau=0.01)),
    (L.Alpha, dict(tau=0.01)),
]


def nan_step(value=np.nan):
    x = np.full((2, 6, 3), 2.0, "float32")
    x[0, 1, 0] = value
    return x


@pytest.mark.parametrize("cls, kwargs", NEURONS, ids=lambda v: getattr(v, "__name__", ""))
def test_eager_call_refuses_nan(cls, kwargs):
    layer = cls(**kwargs)
    with pytest.raises(NonFiniteError, match=rf"{layer.name}: inputs holds 1 NaN and 0 Inf"):
        layer(nan_step())
    with pytest.raises(NonFiniteError, match=r"(?s)0 NaN and 1 Inf .*check_numerics = False"):
        layer(nan_step(np.inf))


@pytest.mark.parametrize("cls, kwargs", NEURONS, ids=lambda v: getattr(v, "__name__", ""))
def test_nan_reaches_the_output_in_compiled_steps(cls, kwargs):
    """One NaN step no longer silences a neuron: its output is NaN from then on."""
    model = keras.Sequential([keras.Input((6, 3)), cls(**kwargs)])
    y = model.predict(nan_step(), verbose=0)
    assert np.all(np.isnan(y[0, 1:, 0])), y[0, :, 0]
    assert np.all(np.isfinite(y[1])) and np.all(np.isfinite(y[0, 0]))  # other sample
    if cls not in (L.RLeaky, L.RSynaptic):  # (a dense recurrence spreads it over units)
        assert np.all(np.isfinite(y[0, :, 1:]))
    with keras_spiking.default(check_numerics=False):  # eager, check off
        assert np.all(np.isnan(np.asarray(cls(**kwargs)(nan_step()))[0, 1:, 0]))


def test_spiking_lif_inf_step_reaches_the_output():
    model = keras.Sequential([keras.Input((6, 3)), L.SpikingLIF()])
    y = model.predict(nan_step(np.inf), verbose=0)
    assert not np.all(np.isfinite(y[0, 1:, 0]))


def test_heaviside_finite_values_unchanged():
    x = np.array([-np.inf, -3.0, -1e-30, -0.0, 0.0, 1e-30, 0.5, 3.0, np.inf], "float32")
    np.testing.assert_array_equal(np.asarray(heaviside(keras.ops.convert_to_tensor(x))),
                                  (x > 0).astype("float32"))
    assert np.isnan(np.asarray(heaviside(keras.ops.convert_to_tensor([np.nan]))))[0]


def test_rate_layers_refuse_nan_eagerly():
    with pytest.raises(NonFiniteError, match="rates: inputs"):
        L.SoftLIF(name="rates")(np.array([[1.0, np.nan]], "float32"))
    with keras_spiking.default(check_numerics=False):
        assert np.isnan(np.asarray(L.LIFRate()(np.array([[np.nan]], "float32"))))[0, 0]


def test_switch_is_validated_and_restored():
    assert keras_spiking.default.check_numerics is True
    with keras_spiking.default(check_numerics=False):
        assert keras_spiking.default.check_numerics is False
    assert keras_spiking.default.check_numerics is True
    with pytest.raises(TypeError, match="check_numerics must be True or False"):
        keras_spiking.default.check_numerics = "no"
    keras_spiking.default.check_numerics = False
    keras_spiking.default.reset()
    assert keras_spiking.default.check_numerics is True


def test_fit_is_not_checked():
    """fit's compiled step has no guard: NaN data give a NaN loss, as in Keras."""
    model = keras.Sequential([keras.Input((4, 2)), keras.layers.Dense(3),
                              L.Leaky(beta=0.9, output="membrane")])
    model.compile("sgd", "mse")
    x = np.ones((4, 4, 2), "float32")
    x[0, 0, 0] = np.nan
    history = model.fit(x, np.zeros((4, 4, 3)), epochs=1, verbose=0)
    assert np.isnan(history.history["loss"][0])


@pytest.fixture(scope="module")
def ann():
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3)], name="tiny")
    return model


def bad_images(n=4):
    x = np.random.default_rng(0).uniform(0, 1, (n, 5)).astype("float32")
    x[1, 2] = np.nan
    return x


def test_tools_refuse_nan_data(ann):
    good = np.random.default_rng(1).uniform(0, 1, (20, 5)).astype("float32")
    with pytest.raises(NonFiniteError, match="convert: calibration_data holds 1 NaN"):
        convert(ann, calibration_data=bad_images())
    with pytest.raises(NonFiniteError, match="verify: data holds 1 NaN"):
        verify(ann, bad_images())
    snn = convert(ann, calibration_data=good, timesteps=4, static_input=True)
    with pytest.raises(NonFiniteError, match="evaluate_timesteps: the inputs x of data"):
        evaluate_timesteps(snn, (bad_images(), np.zeros(4, int)), [4], verbose=0)
    with pytest.raises(NonFiniteError, match="ModelEnergy: example_data holds 1 NaN"):
        keras_spiking.ModelEnergy(snn, example_data=bad_images())


def test_verify_blames_the_data_not_the_converter_with_the_check_off(ann):
    with keras_spiking.default(check_numerics=False):
        with pytest.raises(ValueError, match="'tiny' itself gives NaN or Inf"):
            verify(ann, bad_images())


def test_converted_snn_output_is_nan_for_a_nan_image(ann):
    good = np.random.default_rng(1).uniform(0, 1, (20, 5)).astype("float32")
    snn = convert(ann, calibration_data=good, timesteps=4, static_input=True)
    y = snn.predict(bad_images(), verbose=0)
    assert np.all(np.isnan(y[1, -1])) and np.all(np.isfinite(y[[0, 2, 3]]))


@pytest.mark.parametrize("cls, kwargs", NEURONS, ids=lambda v: getattr(v, "__name__", ""))
def test_zero_timesteps_and_text(cls, kwargs):
    layer = cls(**kwargs)
    with pytest.raises(ValueError, match=rf"{layer.name}: got inputs of shape \(2, 0, 3\): "
                       "zero timesteps"):
        layer(np.zeros((2, 0, 3), "float32"))
    with pytest.raises(TypeError, match=rf"{layer.name}: inputs must be numbers"):
        layer(np.array([[["a"]]]))  # refused before Keras converts it (JAX cannot)


def test_inside_a_model_eager_calls_are_not_checked():
    """Only a layer called by itself is checked: inside a model (eager or
    compiled) the check costs nothing and NaN reaches the output."""
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.Dense(3), L.SpikingLIF()])
    y = np.asarray(model(nan_step()))
    assert np.all(np.isnan(y[0, 1:])) and np.all(np.isfinite(y[1]))
