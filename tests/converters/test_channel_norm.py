"""Channel-wise firing-rate normalisation (``convert(channel_norm=True)``):
the factors in closed form, their folding (rate mode equals the model), the
per-channel percentile firing once per step, spikes and a .keras round trip."""

import numpy as np
import pytest

import keras

from keras_spiking import layers as ks_layers
from keras_spiking.converters import convert, verify
from keras_spiking.converters.normalize import channel_factors

L = keras.layers
RNG = np.random.default_rng(3)
#: output-channel gains that make the channels' rates differ by 100x
GAINS = np.array([1.0, 10.0, 0.1, 1.0], "float32")


def test_channel_factors_closed_form():
    # channel c holds 1..100 times (c + 1); channel 3 never fires
    column = np.arange(1.0, 101.0)
    rates = np.stack([column, 2 * column, 4 * column, 0 * column], axis=1)
    got = channel_factors(rates, 50.0)
    r_p = np.percentile(rates[rates > 0], 50.0)
    expected = [r_p / np.percentile(column * g, 50.0) for g in (1, 2, 4)] + [1.0]
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert channel_factors(rates[:, :1], 50.0) is None  # one channel: nothing to balance
    assert channel_factors(np.zeros((5, 3)), 50.0) is None  # never fires


def unbalanced_conv(*after):
    """Conv2D(4, relu) whose channels' activations differ by ``GAINS``."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6, 6, 2)), L.Conv2D(4, 3, activation="relu"),
                              *after, L.Flatten(), L.Dense(3)])
    kernel, bias = model.layers[0].get_weights()
    model.layers[0].set_weights([np.abs(kernel) * GAINS, np.abs(bias) * GAINS])
    return model


def images(n=40):
    return RNG.uniform(0, 1, (n, 6, 6, 2)).astype("float32")


def test_each_channel_percentile_fires_once_per_step():
    model, x = unbalanced_conv(), images()
    snn = convert(model, calibration_data=x, percentile=99.0, timesteps=2)
    neuron = next(l for l in snn.layers if isinstance(l, ks_layers.SpikingIF))
    folded = next(l for l in snn.layers if isinstance(l, ks_layers.TimeFold)).layer
    current = keras.ops.convert_to_numpy(folded(x)).reshape(-1, 4)  # scaled inputs
    per_channel = [np.percentile(c[c > 0], 99.0) * 0.001 for c in current.T]
    np.testing.assert_allclose(per_channel, neuron.threshold, rtol=1e-4)
    off = convert(model, calibration_data=x, percentile=99.0, timesteps=2,
                  channel_norm=False)
    assert not any(isinstance(l, L.Rescaling) for l in off.layers)
    assert next(l for l in off.layers if isinstance(l, ks_layers.SpikingIF)).threshold \
        == pytest.approx(neuron.threshold, rel=1e-6)  # the layer's scale is the same


@pytest.mark.parametrize("after", [(), (L.DepthwiseConv2D(3, activation="relu"),),
                                   (L.Conv2D(4, 1), L.BatchNormalization(), L.ReLU())])
def test_channel_norm_is_exact_in_rate(after):
    model, x = unbalanced_conv(*after), images()
    if after and isinstance(after[-1], L.ReLU):  # random BatchNorm statistics
        bn = model.layers[2]
        bn.set_weights([RNG.uniform(0.5, 2, 4), RNG.uniform(-1, 1, 4),
                        RNG.uniform(-1, 1, 4), RNG.uniform(0.5, 2, 4)])
    # float32 rounding of outputs up to ~100 (GAINS): 1e-6 of the largest output
    atol = 1e-6 * float(np.abs(keras.ops.convert_to_numpy(model(x))).max())
    assert verify(model, x, calibration_data=x, atol=max(atol, 1e-5)) < max(atol, 1e-5)


def test_residual_site_scales_through_rescaling_and_round_trips(tmp_path):
    inp = keras.Input((6, 6, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = L.ReLU()(L.Add()([h, L.Conv2D(4, 3, padding="same")(h)]))  # no Conv to fold into
    model = keras.Model(inp, L.Dense(3)(L.Flatten()(y)))
    kernel, bias = model.layers[1].get_weights()
    model.layers[1].set_weights([np.abs(kernel) * GAINS, np.abs(bias) * GAINS])
    x = images()
    assert verify(model, x, calibration_data=x) < 1e-5
    snn = convert(model, calibration_data=x, timesteps=16, static_input=True)
    assert any(isinstance(l, L.Rescaling) and "channels" in l.name for l in snn.layers)
    path = tmp_path / "snn.keras"
    snn.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x[:4], verbose=0),
                               snn.predict(x[:4], verbose=0), rtol=1e-5, atol=1e-6)


def test_quiet_channels_are_closer_to_the_ann_with_channel_norm():
    model, x = unbalanced_conv(), images(60)
    hidden = keras.ops.convert_to_numpy(model.layers[0](x))
    quiet = hidden[..., 2]  # the channel 10x quieter than the others
    errors = {}
    for on in (True, False):
        snn = convert(keras.Model(model.inputs, model.layers[0].output), calibration_data=x,
                      timesteps=16, static_input=True, channel_norm=on)
        out = snn.predict(x, verbose=0)[:, -1, ..., 2]
        errors[on] = np.abs(out - quiet).mean() / quiet.mean()
    assert errors[True] < 0.5 * errors[False]


def test_dense_sites_stay_layer_wise_and_bad_option():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), L.Dense(6, activation="relu"),
                              L.Dense(2)])
    x = RNG.uniform(0, 1, (30, 5)).astype("float32")
    snn = convert(model, calibration_data=x, timesteps=2)
    assert not any(isinstance(l, L.Rescaling) for l in snn.layers)
    with pytest.raises(TypeError, match="channel_norm"):
        convert(model, calibration_data=x, channel_norm="yes")


def test_channel_factors_fold_into_the_next_nir_weights():
    nir = pytest.importorskip("nir")
    from keras_spiking.converters import export_nir, import_nir

    model, x = unbalanced_conv(L.Conv2D(3, 3, activation="relu")), images(8)
    snn = convert(model, calibration_data=x, timesteps=8, static_input=True, reset="zero")
    # the first site's factors go into the next Conv2D, the second's through Flatten
    assert not any(isinstance(l, L.Rescaling) for l in snn.layers)
    graph = export_nir(snn)
    assert not any(isinstance(n, nir.Scale) for n in graph.nodes.values())
    per_step = np.asarray(import_nir(graph)(np.repeat(x[:, None], 8, axis=1)))
    running_mean = np.cumsum(per_step, 1) / np.arange(1, 9)[None, :, None]
    np.testing.assert_allclose(running_mean, np.asarray(snn(x)), atol=1e-4)


#: networks whose channel-normalised sites feed a Dense/Conv directly or through
#: layers that act on each channel alone (the factors then fold into the kernel)
FOLDING = {
    "conv > flatten > dense": (),
    "depthwise": (L.DepthwiseConv2D(3, activation="relu"),),
    "separable": (L.SeparableConv2D(3, 3, activation="relu"),),
    "pool, padding, upsampling": (L.AveragePooling2D(2), L.ZeroPadding2D(1),
                                  L.UpSampling2D(2), L.Conv2D(3, 3, activation="relu")),
    "dropout > 1x1 conv": (L.Dropout(0.3), L.Conv2D(3, 1, activation="relu")),
}


@pytest.mark.parametrize("after", FOLDING.values(), ids=FOLDING.keys())
def test_channel_values_fold_into_the_next_kernel(after, monkeypatch):
    """The factors fold into the next kernel: no Rescaling is left, and the SNN's
    output equals that of the same conversion with a Rescaling per site."""
    from keras_spiking.converters import rules

    model, x = unbalanced_conv(*after), images(16)
    options = dict(calibration_data=x, timesteps=12, static_input=True)
    folded = convert(model, **options)
    assert not any(isinstance(l, L.Rescaling) for l in folded.layers)
    for rule in (rules.LinearRule, rules.StatelessRule, rules.IdentityRule):
        monkeypatch.setattr(rule, "takes_channel_scale", lambda self, layer, signal: False)
    scaled = convert(model, **options)
    assert any(isinstance(l, L.Rescaling) for l in scaled.layers)
    expected = scaled.predict(x, verbose=0)
    # float rounding of the folded product: equal up to ~1e-6 of the output
    np.testing.assert_allclose(folded.predict(x, verbose=0), expected,
                               atol=1e-5 * float(np.abs(expected).max()), rtol=1e-5)


def test_channel_values_go_through_one_rescaling_where_nothing_folds():
    """A site read by an Add and by a Conv: the Conv takes the factors into its
    kernel, the Add gets them from one Rescaling; a model output gets its own."""
    inp = keras.Input((6, 6, 2))
    h = L.Conv2D(4, 3, padding="same", activation="relu")(inp)
    y = L.Add()([h, L.Conv2D(4, 3, padding="same")(h)])
    model = keras.Model(inp, [L.Dense(3)(L.Flatten()(y)), h])
    kernel, bias = model.layers[1].get_weights()
    model.layers[1].set_weights([np.abs(kernel) * GAINS, np.abs(bias) * GAINS])
    x = images()
    assert verify(model, x, calibration_data=x) < 1e-5
    snn = convert(model, calibration_data=x, timesteps=4, static_input=True)
    names = [l.name for l in snn.layers if isinstance(l, L.Rescaling)]
    assert len(names) == 1 and names[0].endswith("_channels")
