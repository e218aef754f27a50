"""check(model, profile): each built-in profile against a model that fits and
models that break each of its constraints; unjudged layers are reported."""

import dataclasses

import keras
import pytest

from keras_spiking import layers as L
from keras_spiking.hardware import Profile, check, get_profile, profiles, register_profile
from keras_spiking.neurons import Dynamics

K = keras.layers


class GradedIF(L.IF):
    """An IF with graded spikes (to break ``graded_spikes``)."""

    def dynamics(self, dtype=None):
        return super().dynamics(dtype).replace(graded=True, reset_delayed=False)


def dense(n_in, *units, neuron=L.IF, bias=False, steps=2):
    x = inp = keras.Input((steps, n_in))
    for n in units:
        x = neuron()(K.Dense(n, use_bias=bias)(x))
    return keras.Model(inp, x)


def conv(size=8, channels=1, *, layer=None, neuron=L.IF, head=True):
    inp = keras.Input((1, size, size, channels))
    x = neuron()(L.TimeFold(layer or K.Conv2D(2, 3, use_bias=False))(inp))
    if head:
        x = L.TimeFold(K.Flatten())(x)
        x = L.IF()(K.Dense(2, use_bias=False)(x))
    return keras.Model(inp, x)


def violator(profile, constraint):
    """A model that breaks ``constraint`` of ``profile`` (and the profile to use:
    limits that would need a model of > ~10 M weights are lowered)."""
    p, limit = profile, getattr(profile, constraint)
    if constraint == "connections":
        kind = next(k for k in ("conv", "depthwise") if k not in limit)
        layer = K.Conv2D(2, 3, use_bias=False) if kind == "conv" else \
            K.DepthwiseConv2D(3, use_bias=False)
        return p, conv(layer=layer)
    if constraint == "bias":
        return p, dense(4, 2, bias=True)
    if constraint == "leak":
        return p, dense(4, 2, neuron=lambda: L.Leaky(beta=0.9))
    if constraint == "synapse":
        return p, dense(4, 2, neuron=lambda: L.Synaptic(alpha=0.8, beta=1.0))
    if constraint == "recurrence":
        return p, dense(4, 2, neuron=lambda: L.RLeaky(beta=1.0))
    if constraint == "graded_spikes":
        return p, dense(4, 2, neuron=GradedIF)
    if constraint == "max_pooling":
        return p, conv(layer=K.MaxPooling2D(2))
    if constraint == "merges":
        inp = keras.Input((2, 4))
        a, b = K.Dense(3, use_bias=False)(inp), K.Dense(3, use_bias=False)(inp)
        return p, keras.Model(inp, L.IF()(K.Add()([a, b])))
    if constraint == "consecutive_weights":
        inp = keras.Input((2, 4))
        return p, keras.Model(inp, L.IF()(K.Dense(3, use_bias=False)(K.Dense(3, use_bias=False)(inp))))
    if constraint == "max_inputs":
        return p, dense(limit + 1, 2)
    if constraint == "max_input_size":
        return p, conv(size=limit + 1, layer=K.Conv2D(1, 2, strides=2, use_bias=False), head=False)
    if constraint == "max_outputs":
        return p, dense(2, limit + 1)
    if constraint == "max_neurons":
        return p, dense(1, limit + 1)
    if constraint == "max_hidden_neurons":
        return p, dense(1, limit + 1, 2)
    if constraint == "max_fan_in":
        return p, dense(limit + 1, 2)
    if constraint == "max_weights":
        if limit > 2_000_000:
            p = dataclasses.replace(p, max_weights=1000)
        return p, dense(1, p.max_weights + 1)
    if constraint == "max_features":
        return p, conv(size=2, layer=K.Conv2D(limit + 1, 1, use_bias=False), head=False)
    if constraint == "max_kernel_size":
        return p, conv(size=limit + 2, layer=K.Conv2D(1, limit + 1, use_bias=False), head=False)
    if constraint == "strides":
        bad = next(s for s in range(1, 10) if s not in limit)
        return p, conv(size=12, layer=K.Conv2D(1, 3, strides=bad, use_bias=False))
    if constraint == "pool_sizes":
        bad = next(s for s in range(1, 10) if s not in limit)
        return p, conv(size=12, layer=K.AveragePooling2D(bad))
    if constraint == "max_padding":
        size = 2 * limit + 2
        return p, conv(size=size, layer=K.Conv2D(1, size, padding="same", use_bias=False))
    if constraint == "cores":
        inp = x = keras.Input((1, 4, 4, 1))
        for _ in range(len(limit) + 1):
            x = L.IF()(L.TimeFold(K.Conv2D(1, 1, use_bias=False))(x))
        return p, keras.Model(inp, x)
    raise AssertionError(constraint)


#: fields of Profile that check judges, and the value meaning "no constraint"
CHECKED = {"connections": None, "bias": True, "leak": True, "synapse": True,
           "recurrence": True, "graded_spikes": True, "max_pooling": True, "merges": True,
           "consecutive_weights": True, "max_inputs": None, "max_input_size": None,
           "max_outputs": None, "max_neurons": None, "max_hidden_neurons": None,
           "max_fan_in": None, "max_weights": None, "max_features": None,
           "max_kernel_size": None, "strides": None, "pool_sizes": None,
           "max_padding": None, "cores": None}

CASES = [(name, field) for name in ("generic-int8", "loihi2", "speck", "xylo-audio2",
                                    "spinnaker2", "akida")
         for field, free in CHECKED.items() if getattr(get_profile(name), field) != free]


def test_every_builtin_profile_is_there_and_has_sources():
    for name in ("generic-int8", "loihi2", "speck", "xylo-audio2", "spinnaker2", "akida"):
        assert name in profiles() and get_profile(name).sources
    # each profile has at least one constraint to check, besides generic-int8
    assert {name for name, _ in CASES} >= {"loihi2", "speck", "xylo-audio2", "spinnaker2",
                                           "akida"}


@pytest.mark.parametrize("name", profiles()[:6])
def test_a_small_dense_network_fits_every_profile(name):
    assert check(dense(8, 16, 4), name) == []


@pytest.mark.parametrize("name,constraint", CASES)
def test_each_constraint_is_found(name, constraint):
    profile, model = violator(get_profile(name), constraint)
    found = check(model, profile)
    hits = [v for v in found if v.constraint == constraint]
    assert hits, (constraint, [str(v) for v in found])
    assert all(v.fix and v.layer for v in hits)


def test_violation_says_by_how_much_per_layer():
    model = dense(70, 1200, 10, neuron=lambda: L.Leaky(beta=0.9))
    violations = check(model, "xylo-audio2")
    names = [layer.name for layer in model.layers if isinstance(layer, K.Dense)]
    fan_in = [(v.layer, v.value, v.limit) for v in violations if v.constraint == "max_fan_in"]
    assert fan_in == [(names[0], 70, 63), (names[1], 1200, 63)]
    assert "by 7" in violations[0].fix
    found = {v.constraint: v for v in violations}
    assert found["max_hidden_neurons"].value == 1200 and "by 200" in found["max_hidden_neurons"].fix
    assert found["max_outputs"].value == 10


def test_speck_core_memory_of_one_layer():
    # 64 inputs, 1024 outputs, 3x3: 64 * 2**(4 + 10) kernel entries > 64 Ki
    model = conv(size=4, channels=64, layer=K.Conv2D(1024, 3, use_bias=False), head=False)
    found = [v for v in check(model, "speck") if v.constraint == "cores"]
    assert found and found[0].value == f"{64 * 2 ** 14} kernel entries"
    assert "16x too many (by 983040)" in found[0].fix  # 2**20 against 64 Ki


def test_a_running_mean_readout_at_the_outputs_is_the_hosts_not_a_violation():
    from keras_spiking.converters import convert

    ann = keras.Sequential([keras.Input((6,)), K.Dense(8, use_bias=False), K.ReLU(),
                            K.Dense(3, use_bias=False)])
    snn = convert(ann, timesteps=4, static_input=True, synapse=None)
    assert any(isinstance(layer, L.RunningMean) for layer in snn.layers)
    assert check(snn, "loihi2") == []
    # 3 outputs counted at the Dense before the readout
    found = check(snn, Profile("tiny-out", max_outputs=2))
    assert [(v.constraint, v.value) for v in found] == [("max_outputs", 3)]
    inp = keras.Input((2, 4))  # a readout feeding more layers is not the host's
    x = K.Dense(3, use_bias=False)(L.RunningMean()(L.IF()(K.Dense(4, use_bias=False)(inp))))
    found = check(keras.Model(inp, x), "generic-int8")
    assert [v.constraint for v in found] == ["judged"] and found[0].value == "RunningMean"


def test_unknown_layers_and_rate_models_are_reported_not_passed():
    class Mystery(K.Layer):
        def call(self, x):
            return x * 2

    inp = keras.Input((2, 4))
    model = keras.Model(inp, L.IF()(Mystery()(K.Dense(3, use_bias=False)(inp))))
    found = check(model, "generic-int8")
    assert [v.constraint for v in found] == ["judged"] and "Mystery" in found[0].value
    ann = keras.Sequential([keras.Input((4,)), K.Dense(3), K.ReLU(),
                            K.BatchNormalization()])
    kinds = {v.constraint for v in check(ann, "loihi2")}
    assert kinds == {"judged"} and len(check(ann, "loihi2")) == 2


def test_user_profiles_register_and_are_checked():
    profile = register_profile(Profile("test-tiny-chip", max_fan_in=3, weight_bits=4),
                               replace=True)
    assert "test-tiny-chip" in profiles()
    assert [v.constraint for v in check(dense(4, 2), "test-tiny-chip")] == ["max_fan_in"]
    with pytest.raises(ValueError, match="exists"):
        register_profile(profile)
    with pytest.raises(ValueError, match="known profiles are generic-int8, loihi2"):
        get_profile("loihi3")
    with pytest.raises(ValueError, match="decay_mode"):
        Profile("bad", decay_mode="log")
    with pytest.raises(TypeError, match="expected a Profile"):
        register_profile("x")


def test_dynamics_record_is_read_not_layer_attributes():
    # a neuron's leak is read from dynamics(): IF (decay 1) passes speck, Leaky fails
    assert Dynamics().decay == 1.0
    assert check(dense(4, 2, neuron=L.IF), "speck") == []
