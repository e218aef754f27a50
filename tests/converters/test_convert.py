"""Tests of keras_spiking.converters.convert and rules: graph walk, one test per
rule (checked in rate mode against the original model), BatchNorm folding,
normalisation, spiking behaviour, saving, chunked runs and error messages."""

import numpy as np
import pytest

import keras

import keras_spiking
from keras_spiking import layers as ks_layers
from keras_spiking.converters import (
    ConversionError,
    Rule,
    convert,
    register,
    tile_time,
    verify,
)
from keras_spiking.converters.evaluate import run_chunked

L = keras.layers
RNG = np.random.default_rng(0)


def model_of(input_shape, *layers):
    """A Sequential model with random (non-trivial) weights."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input(input_shape), *layers])
    for layer in model.layers:
        if isinstance(layer, L.BatchNormalization):
            c = layer.gamma.shape[0]
            layer.set_weights([RNG.uniform(0.5, 2, c), RNG.uniform(-1, 1, c),
                               RNG.uniform(-1, 1, c), RNG.uniform(0.5, 2, c)])
    return model


def data(shape, n=8):
    return RNG.uniform(0, 2, (n,) + shape).astype("float32")


# one entry per rule: (input shape, layers) -- each checked by verify to 1e-5
RULE_CASES = {
    "dense_relu": ((6,), [L.Dense(5, activation="relu"), L.Dense(3)]),
    "dense_no_bias": ((6,), [L.Dense(5, use_bias=False), L.ReLU(), L.Dense(3)]),
    "conv1d": ((10, 3), [L.Conv1D(4, 3, activation="relu"), L.Flatten(), L.Dense(2)]),
    "conv2d": ((8, 8, 2), [L.Conv2D(4, 3, padding="same"), L.Activation("relu"),
                           L.Flatten(), L.Dense(2)]),
    "depthwise": ((8, 8, 2), [L.DepthwiseConv2D(3, depth_multiplier=2),
                              L.BatchNormalization(), L.ReLU(), L.Flatten(), L.Dense(2)]),
    "separable": ((8, 8, 2), [L.SeparableConv2D(4, 3), L.BatchNormalization(),
                              L.ReLU(), L.Flatten(), L.Dense(2)]),
    "avg_pool": ((8, 8, 2), [L.Conv2D(3, 3), L.ReLU(), L.AveragePooling2D(2),
                             L.Flatten(), L.Dense(2)]),
    "avg_pool1d": ((8, 2), [L.Conv1D(3, 3), L.ReLU(), L.AveragePooling1D(2),
                            L.GlobalAveragePooling1D(), L.Dense(2)]),
    "global_avg": ((8, 8, 2), [L.Conv2D(3, 3), L.ReLU(), L.GlobalAveragePooling2D(),
                               L.Dense(2)]),
    "reshape_pad": ((12,), [L.Reshape((3, 4)), L.ZeroPadding1D(1), L.Conv1D(2, 2),
                            L.ReLU(), L.Reshape((-1,)), L.Dense(2)]),
    "zero_padding2d": ((5, 5, 1), [L.ZeroPadding2D(1), L.Conv2D(2, 3), L.ReLU(),
                                   L.Flatten(), L.Dense(2)]),
    "dropout_noise": ((8, 8, 2), [L.Conv2D(3, 3), L.SpatialDropout2D(0.5), L.ReLU(),
                                  L.Flatten(), L.Dropout(0.5), L.GaussianNoise(1.0),
                                  L.Dense(2)]),
    "batchnorm_fold": ((6,), [L.Dense(5), L.BatchNormalization(), L.ReLU(), L.Dense(3)]),
    "batchnorm_affine": ((6,), [L.Dense(5, activation="relu"), L.BatchNormalization(),
                                L.Dense(3)]),
    "rescaling": ((6,), [L.Rescaling(0.5, offset=0.1), L.Dense(5, activation="relu"),
                         L.Dense(3)]),
    "leaky_relu": ((6,), [L.Dense(5), L.LeakyReLU(0.2), L.Dense(3)]),
    "soft_lif": ((6,), [L.Dense(5), ks_layers.SoftLIF(), L.Dense(3)]),
    "lif_rate": ((6,), [L.Dense(5), ks_layers.LIFRate(amplitude=0.05), L.Dense(3)]),
    "lif_rate_soft_gradient": ((6,), [L.Dense(5), ks_layers.LIFRate(gradient_sigma=0.1),
                                      L.Dense(3)]),
    "soft_lif_fn": ((6,), [L.Dense(5, activation=keras_spiking.activations.soft_lif),
                           L.Dense(3)]),
    "softmax_out": ((6,), [L.Dense(5, activation="relu"),
                           L.Dense(3, activation="softmax")]),
    "max_pool_as_max": ((8, 8, 2), [L.Conv2D(3, 3), L.ReLU(), L.MaxPooling2D(2),
                                    L.Flatten(), L.Dense(2)]),
}


@pytest.mark.parametrize("case", sorted(RULE_CASES))
def test_rule_reproduces_model_in_rate_mode(case):
    shape, layers = RULE_CASES[case]
    model = model_of(shape, *layers)
    x = data(shape)
    # normalised scales change the neurons but not the rate-mode function
    error = verify(model, x, calibration_data=x, max_pool="max")
    assert error <= 1e-5


def test_normalization_layer_is_affine():
    norm = L.Normalization(mean=[1.0, -1.0], variance=[4.0, 0.25])
    model = model_of((2,), norm, L.Dense(3, activation="relu"), L.Dense(1))
    assert verify(model, data((2,))) <= 1e-5


def test_batchnorm_is_folded_into_the_layer_before():
    model = model_of((8, 8, 2), L.Conv2D(4, 3, use_bias=False), L.BatchNormalization(),
                     L.ReLU(), L.Flatten(), L.Dense(2))
    snn = convert(model, timesteps=4)
    assert not any(isinstance(getattr(l, "layer", l), L.BatchNormalization)
                   for l in snn.layers)
    assert verify(model, data((8, 8, 2))) <= 1e-5


def functional_merge_model():
    keras.utils.set_random_seed(2)
    inp = keras.Input((6,))
    a = L.Dense(4, activation="relu")(inp)
    b = L.Dense(4)(inp)
    b = L.ReLU()(b)
    added = L.Add()([a, b])
    avg = L.Average()([a, added])
    cat = L.Concatenate()([avg, b, inp])  # inp: static input joins a timed one
    return keras.Model(inp, L.Dense(3)(cat))


def test_add_average_concatenate_graph():
    model = functional_merge_model()
    assert verify(model, data((6,))) <= 1e-5
    snn = convert(model, timesteps=3, static_input=True)
    assert snn.output.shape == (None, 3, 3)


def test_nested_models_are_inlined():
    inner = keras.Sequential([keras.Input((5,)), L.Dense(4), L.ReLU()], name="inner")
    inp = keras.Input((5,))
    sub_in = keras.Input((4,))
    sub = keras.Model(sub_in, L.Dense(3, activation="relu")(sub_in), name="sub")
    out = L.Dense(2)(sub(inner(inp)))
    model = keras.Model(inp, out)
    assert verify(model, data((5,))) <= 1e-5
    snn = convert(model, timesteps=2)
    assert not any(isinstance(l, keras.Model) for l in snn.layers)


def test_shared_layer_is_converted_per_call():
    dense = L.Dense(6, activation="relu")
    inp = keras.Input((6,))
    model = keras.Model(inp, L.Dense(2)(dense(dense(inp))))
    assert verify(model, data((6,))) <= 1e-5


def test_static_input_equals_tiled_input():
    shape, layers = RULE_CASES["conv2d"]
    model = model_of(shape, *layers)
    x = data(shape)
    kw = dict(calibration_data=x, synapse=0.005, timesteps=12)
    hoisted = convert(model, static_input=True, **kw)
    timed = convert(model, **kw)
    np.testing.assert_allclose(hoisted(x), timed(tile_time(x, 12)), atol=1e-5)
    # the first conv runs once, before the input is repeated over time
    assert isinstance(hoisted.layers[1], L.Conv2D)


def test_closed_form_first_neurons_of_a_static_input():
    """static_input: the IF neurons of the repeated input compute in closed form
    (the default); closed_form=False and a timed input loop."""
    shape, layers = RULE_CASES["conv2d"]
    model = model_of(shape, *layers)
    x = data(shape)
    kw = dict(calibration_data=x, timesteps=12, static_input=True)
    closed, looped = convert(model, **kw), convert(model, closed_form=False, **kw)
    first = [layer for layer in closed.layers if isinstance(layer, ks_layers.SpikingIF)]
    assert [layer.constant_input for layer in first] == [True]
    assert not any(getattr(layer, "constant_input", False) for layer in looped.layers)
    assert not any(getattr(layer, "constant_input", False)
                   for layer in convert(model, calibration_data=x, timesteps=12).layers)
    # here no voltage sits within rounding of a threshold: the same numbers
    np.testing.assert_allclose(closed(x), looped(x), atol=1e-6)


def test_if_network_converges_to_ann():
    # normalised to the largest activation (no neuron saturates), a spiking IF
    # network's mean output approaches the ANN's as 1/T
    model = model_of((6,), L.Dense(16, activation="relu"), L.Dense(16),
                     L.ReLU(), L.Dense(3))
    x = np.random.default_rng(5).uniform(0, 2, (32, 6)).astype("float32")
    expected = keras.ops.convert_to_numpy(model(x))
    snn = convert(model, calibration_data=x, percentile=100, timesteps=400,
                  synapse=None, static_input=True, readout="last")
    out = keras.ops.convert_to_numpy(snn(x))
    scale = np.abs(expected).max()
    errors = [np.abs(out[:, :T].mean(1) - expected).max() / scale for T in (40, 400)]
    assert errors[1] < 0.005 and errors[1] < errors[0]


def test_normalisation_maps_percentile_to_one_spike_per_step():
    model = model_of((6,), L.Dense(20, activation="relu"), L.Dense(3))
    x = data((6,), 50)
    snn = convert(model, calibration_data=x, percentile=99.0, timesteps=2)
    neuron = [l for l in snn.layers if isinstance(l, ks_layers.SpikingIF)][0]
    hidden = keras.ops.convert_to_numpy(model.layers[0](x))
    p = np.percentile(hidden[hidden > 0], 99.0)
    np.testing.assert_allclose(neuron.threshold, p * 0.001, rtol=1e-5)
    assert neuron.amplitude == neuron.threshold  # mean output = relu(x)


def test_lif_scaling_is_exact_in_rate():
    model = model_of((6,), L.Dense(8), ks_layers.LIFRate(), L.Dense(2))
    x = data((6,), 20) * 3
    snn = convert(model, calibration_data=x, timesteps=2)
    neuron = [l for l in snn.layers if isinstance(l, ks_layers.SpikingLIF)][0]
    k = 0.02 / neuron.tau_rc
    assert k > 1  # normalisation speeds the default LIF up
    np.testing.assert_allclose(neuron.tau_ref * k, 0.002, rtol=1e-6)
    j = np.linspace(0, 4, 50, dtype="float32")
    np.testing.assert_allclose(neuron.rate(j), model.layers[1](j), rtol=1e-5, atol=1e-7)


def test_scale_firing_rates_nengo_semantics():
    model = model_of((6,), L.Dense(5, activation="relu", name="hid"), L.Dense(2))
    snn = convert(model, scale_firing_rates={"hid": 100.0}, normalize=False,
                  timesteps=2)
    neuron = snn.get_layer("hid_neuron")
    assert neuron.threshold == pytest.approx(0.01)
    assert neuron.amplitude == pytest.approx(0.01)


def test_keras_round_trip(tmp_path):
    model = model_of((8, 8, 1), L.Conv2D(3, 3), L.BatchNormalization(),
                     ks_layers.SoftLIF(), L.AveragePooling2D(2), L.Flatten(),
                     L.Dense(8, activation="relu"), L.Dense(2))
    x = data((8, 8, 1), 4)
    snn = convert(model, calibration_data=x, synapse=0.01, timesteps=10,
                  static_input=True, initial_voltage="uniform", seed=3)
    path = str(tmp_path / "snn.keras")
    snn.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(snn(x), loaded(x))


def test_chunked_run_equals_single_run():
    model = model_of((6,), L.Dense(12, activation="relu"), L.Dense(3))
    x = data((6,), 4)
    single = convert(model, calibration_data=x, synapse=0.005, timesteps=40,
                     static_input=True, readout="last")
    chunked = convert(model, calibration_data=x, synapse=0.005, timesteps=10,
                      static_input=True, stateful=True, batch_size=4)
    full = keras.ops.convert_to_numpy(single(x))
    last, mean = run_chunked(chunked, x, 40, mean_fraction=0.25)
    np.testing.assert_allclose(last, full[:, -1], atol=1e-5)
    np.testing.assert_allclose(mean, full[:, -10:].mean(1), atol=1e-5)
    # a second run starts again from the initial state
    last2, _ = run_chunked(chunked, x, 40, mean_fraction=0.25)
    np.testing.assert_array_equal(last, last2)


def test_any_length_time_axis():
    model = model_of((6,), L.Dense(5, activation="relu"), L.Dense(2))
    snn = convert(model, synapse=0.01)
    assert snn.input.shape == (None, None, 6)
    out = snn(tile_time(data((6,), 2), 130))  # > MAX_UNROLL: scanned, not unrolled
    assert out.shape == (2, 130, 2)


# -- errors ---------------------------------------------------------------------------
class Doubler(L.Layer):
    def call(self, x):
        return 2 * x


def test_unsupported_layer_error_names_layer_class_and_fix():
    model = model_of((6,), L.Dense(4), Doubler(name="twice"), L.Dense(2))
    with pytest.raises(ConversionError) as info:
        convert(model)
    message = str(info.value)
    assert "'twice'" in message and "Doubler" in message and "register" in message


def test_register_a_user_rule():
    class DoublerRule(Rule):
        def convert(self, layer, inputs, converter):
            return converter.apply(L.Rescaling(2.0, name=layer.name), inputs[0],
                                   copy=False, fold=False)

    register(Doubler, DoublerRule)
    model = model_of((6,), L.Dense(4, activation="relu"), Doubler(), L.Dense(2))
    assert verify(model, data((6,))) <= 1e-5


def test_max_pool_errors_by_default_and_avg_option():
    model = model_of((8, 8, 1), L.Conv2D(2, 3), L.ReLU(), L.MaxPooling2D(2),
                     L.Flatten(), L.Dense(2))
    with pytest.raises(ConversionError, match="max_pool='avg'"):
        convert(model)
    snn = convert(model, max_pool="avg", timesteps=2)
    assert any(isinstance(getattr(l, "layer", None), L.AveragePooling2D)
               for l in snn.layers)
    with pytest.raises(ConversionError, match="differs"):
        verify(model, data((8, 8, 1)), max_pool="avg")  # a different function


def test_unsupported_activation_and_arguments():
    model = model_of((6,), L.Dense(4, activation="sigmoid"), L.Dense(2))
    with pytest.raises(ConversionError, match="swap_activations"):
        convert(model)
    snn = convert(model, swap_activations={"sigmoid": "rate"}, timesteps=2)
    assert snn.output.shape == (None, 2, 2)
    capped = model_of((6,), L.Dense(4), L.ReLU(max_value=6.0), L.Dense(2))
    with pytest.raises(ConversionError, match="max_value"):
        convert(capped)


@pytest.mark.parametrize("kwargs, match", [
    (dict(dt=-0.001), "dt"),
    (dict(synapse=-0.01), "synapse"),
    (dict(timesteps=0), "timesteps"),
    (dict(static_input=True), "timesteps"),
    (dict(stateful=True, timesteps=3), "batch_size"),
    (dict(max_pool="median"), "max_pool"),
    (dict(percentile=0), "percentile"),
    (dict(swap_activations={"relu": "lif"}), "swap_activations"),
])
def test_bad_options(kwargs, match):
    model = model_of((6,), L.Dense(4, activation="relu"), L.Dense(2))
    with pytest.raises((ValueError, TypeError), match=match):
        convert(model, **kwargs)


def test_bad_calibration_data():
    model = model_of((6,), L.Dense(4, activation="relu"), L.Dense(2))
    with pytest.raises(ValueError, match=r"calibration_data must be shaped"):
        convert(model, calibration_data=data((5,)))
    with pytest.raises(ValueError, match="NaN"):
        convert(model, calibration_data=np.full((3, 6), np.nan))


def test_unbuilt_sequential():
    with pytest.raises(ConversionError, match="keras.Input"):
        convert(keras.Sequential([L.Dense(2)]))


def test_tile_time():
    x = data((3,), 2)
    y = keras.ops.convert_to_numpy(tile_time(x, 4))
    assert y.shape == (2, 4, 3) and np.all(y == x[:, None])
    with pytest.raises(ValueError, match="timesteps"):
        tile_time(x, 0)


def test_package_exports():
    import keras_spiking.converters as c

    assert c.convert is convert and c.ConversionError is ConversionError


def test_non_static_input_shape():
    inp = keras.Input((None, 3))
    model = keras.Model(inp, L.Dense(2)(L.Conv1D(2, 1, activation="relu")(inp)))
    with pytest.raises(ConversionError, match="non-static"):
        convert(model)


def test_adapted_normalization_keeps_its_statistics(tmp_path):
    """An adapted Normalization (mean/variance learned by adapt, not given in the
    config) converts with its statistics, not as an identity."""
    x = (RNG.normal(size=(64, 4)) * 3 + 5).astype("float32")
    norm = L.Normalization()
    norm.adapt(x)
    model = model_of((4,), norm, L.Dense(6, activation="relu"), L.Dense(2))
    rate = convert(model, mode="rate", timesteps=1, static_input=True)
    np.testing.assert_allclose(rate(x)[:, 0], model(x), rtol=1e-5, atol=1e-5)
    assert verify(model, x) <= 1e-5
    snn = convert(model, calibration_data=x, timesteps=3, static_input=True)
    path = str(tmp_path / "norm.keras")
    snn.save(path)
    np.testing.assert_array_equal(snn(x), keras.models.load_model(path)(x))


def test_scale_firing_rates_unknown_key_raises():
    model = model_of((6,), L.Dense(5, activation="relu", name="hid"), L.Dense(2))
    with pytest.raises(ValueError, match=r"scale_firing_rates names \['hdi'\], which are "
                       r"not neuron layers of '.*'; its neuron layers are \['hid'\]"):
        convert(model, scale_firing_rates={"hdi": 100.0}, timesteps=2)


def test_converted_model_is_named_after_the_source():
    model = model_of((6,), L.Dense(5, activation="relu"), L.Dense(2))
    model.name = "classifier"
    assert convert(model, timesteps=2).name == "classifier_spike"
    assert convert(model, mode="rate", timesteps=2).name == "classifier_rate"


def test_zero_reset_threshold_fit_closed_form():
    """Reset to zero fires 1 / (floor(f / u) + 1) per step for u thresholds per step:
    at u = 1, 1/2, 1/3 any f in (2/3, 1) is exact, and the fit picks the best f."""
    from keras_spiking.converters.normalize import zero_reset_threshold

    k, dt = 10.0, 0.001
    rates = np.array([1.0, 0.5, 1 / 3]) / (k * dt)  # u = 1, 1/2, 1/3
    f = zero_reset_threshold(rates, k, dt)
    assert 2 / 3 < f < 1
    np.testing.assert_allclose(1 / (np.floor(f / (rates * k * dt)) + 1), [1, 0.5, 1 / 3])
    u = np.random.default_rng(0).uniform(0.05, 1, 5000)
    f = zero_reset_threshold(u / (k * dt), k, dt)
    err = lambda f: np.mean((1 / (np.floor(f / u) + 1) - u) ** 2)  # noqa: E731
    assert all(err(f) <= err(g) + 1e-12 for g in np.linspace(0.5, 1, 101))
    assert zero_reset_threshold(np.array([]), k, dt) == 1.0


def test_convert_reset_zero_builds_calibrated_reset_to_zero_neurons():
    keras.utils.set_random_seed(0)
    ann = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="relu"),
                            keras.layers.Dense(2)])
    x = np.random.default_rng(0).uniform(0, 1, (200, 6)).astype("float32")
    converter = keras_spiking.converters.Converter(calibration_data=x, reset="zero", synapse=None)
    snn = converter.convert(ann)
    (neuron,) = [layer for layer in snn.layers if isinstance(layer, ks_layers.SpikingIF)]
    (f,) = converter.zero_reset_factors.values()
    assert neuron.reset == "zero" and neuron.initial_voltage == "zeros"
    np.testing.assert_allclose(neuron.threshold, f * neuron.amplitude)
    # the fit on this site's own rates, at its calibrated scale k = 1 / amplitude
    from keras_spiking.converters.normalize import zero_reset_threshold

    probe, sources = converter.probe(ann)
    rates = np.maximum(np.asarray(probe(x)), 0)
    assert f == zero_reset_threshold(rates[rates > 0], 1 / neuron.amplitude, converter.dt)
    with pytest.raises(ValueError, match="graded"):
        keras_spiking.converters.Converter(reset="zero", spikes="graded")
    with pytest.raises(ValueError, match="reset"):
        keras_spiking.converters.Converter(reset="half")
