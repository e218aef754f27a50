"""keras_spiking.layer_facts: the one registry that classifies layers."""

import keras
import pytest

from keras_spiking import layer_facts
from keras_spiking import layers as ks
from keras_spiking.converters.base import registered_classes
from keras_spiking.layer_facts import UNKNOWN, classes, facts_of, register

L = keras.layers


@pytest.mark.parametrize("layer, role, face", [
    (ks.SpikingIF(), "neuron", "spiking"),
    (ks.SpikingLIF(), "neuron", "spiking"),
    (ks.Leaky(0.9), "neuron", "surrogate"),
    (ks.RLeaky(0.9), "neuron", "surrogate"),
    (ks.ContinuousLIF(), "neuron", "continuous"),
    (ks.LIFRate(), "neuron", "rate"),
    (ks.SoftLIF(), "neuron", "rate"),
    (ks.Lowpass(0.01), "filter", None),
    (ks.Alpha(0.01), "filter", None),
])
def test_package_neurons_and_filters(layer, role, face):
    facts = facts_of(layer)
    assert (facts.role, facts.face) == (role, face)
    rate = face == "rate"
    assert facts.time_axis == (None if rate else "scans")


def test_time_layers():
    assert facts_of(ks.TimeFold(L.Dense(2))).time_axis == "wraps"
    assert facts_of(L.TimeDistributed(L.Dense(2))).time_axis == "wraps"
    assert facts_of(ks.RepeatTime(3)).time_axis == "adds"
    smp = facts_of(ks.SpikeMaxPool(L.MaxPooling2D(2)))  # a TimeFold, not a wrapper
    assert (smp.role, smp.pool, smp.time_axis) == ("pooling", "spike", "scans")


def test_keras_layers():
    assert facts_of(L.Dense(2)).connections == "dense" and facts_of(L.Dense).leading_axes
    assert facts_of(L.Conv2D(2, 3)).connections == "conv"
    assert facts_of(L.DepthwiseConv1D(3)).connections == "depthwise"
    assert facts_of(L.SeparableConv2D(2, 3)).role == "linear"
    assert facts_of(L.MaxPooling2D()).average is L.AveragePooling2D
    assert facts_of(L.GlobalMaxPooling1D()).average is L.GlobalAveragePooling1D
    assert facts_of(L.GlobalAveragePooling3D()).connections == "global_pool"
    assert facts_of(L.ReLU()).activation == "relu"
    assert facts_of(L.SpatialDropout2D(0.1)).role == "dropout"
    assert facts_of(L.Rescaling(2.0)).leading_axes and not facts_of(L.Flatten()).leading_axes
    assert facts_of(L.Concatenate()).role == "merge"
    assert facts_of(L.BatchNormalization()).role == "normalization"


def test_every_max_pooling_has_an_average_twin():
    maxes = classes(pool="max")
    assert len(maxes) == 6
    for cls in maxes:
        twin = facts_of(cls).average
        assert facts_of(twin).pool == "average"
        assert ("Global" in cls.__name__) == ("Global" in twin.__name__)


def test_converter_rules_come_from_the_facts():
    ruled = registered_classes()
    for facts in (dict(role="linear"), dict(role="dropout"), dict(role="stateless"),
                  dict(role="merge"), dict(role="pooling", pool="average"),
                  dict(role="pooling", pool="max"), dict(role="neuron", face="rate")):
        for cls in classes(**facts):
            assert cls in ruled, cls


def test_exact_class_unless_inherited():
    class MyDense(L.Dense):
        pass

    class MyNeuron(ks.SpikingIF):
        pass

    class MyReLU(L.ReLU):
        pass

    assert facts_of(MyDense(2)) is UNKNOWN  # may compute something else
    assert facts_of(MyReLU) is UNKNOWN
    assert facts_of(MyNeuron()).face == "spiking"  # the package's bases are inherited
    assert facts_of(L.Layer()) is UNKNOWN and UNKNOWN.role == "unknown"


def test_register_and_replace():
    class Doubler(L.Layer):
        def call(self, x):
            return 2 * x

    try:
        facts = register(Doubler, role="stateless", leading_axes=True)
        assert facts_of(Doubler()) is facts and Doubler in classes(role="stateless")
        register(Doubler, role="activation")
        assert facts_of(Doubler).role == "activation"
    finally:
        layer_facts._FACTS.pop(Doubler, None)
    assert Doubler not in classes()


def test_bad_registrations_and_queries():
    with pytest.raises(TypeError, match="must be a Keras layer class"):
        register(int, role="neuron")
    with pytest.raises(ValueError, match="role of Dense must be one of"):
        register(L.Dense, role="synapse")
    with pytest.raises(ValueError, match="time_axis of Dense"):
        register(L.Dense, time_axis="folds")
    with pytest.raises(TypeError, match="'colour' is not a fact"):
        classes(colour="red")
    assert facts_of(L.Dense).role == "linear"  # a refused registration changes nothing
