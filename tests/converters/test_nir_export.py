"""Keras -> NIR: what export_nir refuses, and the approximations it accepts by name."""

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import ConversionError, export_nir  # noqa: E402
from nir_reference import (  # noqa: E402
    T,
    seeded_model,
)


# -- errors ------------------------------------------------------------------------------
def _export_error(layers, match, **options):
    model = keras.Sequential([keras.Input((T, 4))] + layers())
    with pytest.raises(ConversionError, match=match) as info:
        export_nir(model, **options)
    return str(info.value)


def test_export_errors_name_layer_reason_and_fix():
    message = _export_error(lambda: [ks.layers.Leaky(0.9, name="leaky")], "subtracting")
    assert "'leaky' (Leaky)" in message and "approximate=('subtract_reset',)" in message
    message = _export_error(lambda: [ks.layers.SpikingLIF(tau_ref=0.002)], "refractory")
    assert "use tau_ref=0" in message and "approximate=('refractory', 'voltage_floor')" in message
    _export_error(lambda: [ks.layers.SpikingLIF(tau_ref=0.0)], "clips its voltage")
    message = _export_error(lambda: [ks.layers.SpikingLIF(initial_voltage="half")], "refractory")
    assert "approximate=('refractory', 'voltage_floor', 'initial_voltage')" in message
    _export_error(lambda: [ks.layers.SpikingIF(reset="zero", initial_voltage="half")], "initial_voltage")
    _export_error(lambda: [ks.layers.Alpha(0.01)], "integration='exact'")
    _export_error(lambda: [ks.layers.Synaptic(0.5, 0.5, reset="zero")], "integration='euler'",
                  integration="exact")
    _export_error(lambda: [ks.layers.Leaky(0.9, reset="none")], "always reset")
    _export_error(lambda: [ks.layers.Leaky(0.9, reset="zero", output="membrane")], "output='spikes'")
    _export_error(lambda: [keras.layers.Dense(3, activation="relu")], "activation")
    _export_error(lambda: [ks.layers.LIFRate()], "no rule")
    _export_error(lambda: [ks.layers.SpikingIF(reset="zero", dt=0.002)], "dt", dt=0.001)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.TimeFold(keras.layers.Conv2D(2, 2, padding="same"))])
    with pytest.raises(ConversionError, match="unevenly"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)), keras.layers.Reshape((T, 16))])
    with pytest.raises(ConversionError, match="TimeFold"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.TimeFold(keras.layers.MaxPooling2D(2, name="pool"))])
    with pytest.raises(ConversionError, match="'pool' .*no rule"):
        export_nir(model)
    model = keras.Sequential([keras.Input((T, 4, 4, 1)),
                              ks.layers.SpikeMaxPool(keras.layers.MaxPooling2D(2), name="smp")])
    with pytest.raises(ConversionError, match="'smp' \\(SpikeMaxPool\\).*no rule"):
        export_nir(model)  # a TimeFold subclass: not taken for a plain TimeFold
    with pytest.raises(ValueError, match="approximate"):
        export_nir(model, approximate=("everything",))


def test_approximations_export_when_accepted():
    model = seeded_model(lambda: [keras.Input((T, 4)), ks.layers.Leaky(0.9),
                           ks.layers.SpikingLIF(tau_ref=0.002)])
    graph = export_nir(model, approximate=("subtract_reset", "refractory", "voltage_floor"))
    assert isinstance(graph.nodes["leaky"], nir.LIF)


def test_rules_match_classes_exactly_and_a_new_layer_is_one_rule():
    from keras_spiking.converters.nir.exporter import exports
    from keras_spiking.converters.nir.layout import Port

    class Doubling(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    class MyDense(keras.layers.Dense):
        pass

    model = keras.Sequential([keras.Input((T, 4)), MyDense(3, name="mine")])
    with pytest.raises(ConversionError, match="'mine' \\(MyDense\\).*no rule"):
        export_nir(model)  # a subclass may compute something else
    model = keras.Sequential([keras.Input((T, 4)), Doubling(name="double")])
    with pytest.raises(ConversionError, match="'double' \\(Doubling\\).*no rule"):
        export_nir(model)

    @exports(Doubling)
    def _doubling(exporter, layer, inputs, out_shape):
        (port,) = inputs
        node = nir.Scale(scale=np.full(port.order.shape, 2.0, "float32"))
        return Port([exporter.add(layer.name, node, inputs)], out_shape, port.order)

    graph = export_nir(model)
    assert isinstance(graph.nodes["double"], nir.Scale)
    assert ("double", "output") in graph.edges


def test_export_dt_accepts_numpy_floats_and_refuses_non_finite_or_non_positive():
    model = keras.Sequential([keras.Input((T, 4)), keras.layers.Dense(3),
                              ks.layers.SpikingIF(reset="zero")])
    graph = export_nir(model, dt=np.float32(0.001))
    assert graph.metadata["keras_spiking"]["dt"] == pytest.approx(0.001)
    assert isinstance(graph.metadata["keras_spiking"]["dt"], float)
    for bad in (np.inf, float("nan"), 0.0, -0.001, np.float64(-1.0)):
        with pytest.raises(ValueError, match=r"export_nir: dt \(seconds\) must be (finite|> 0)"):
            export_nir(model, dt=bad)
    for bad in ("0.001", True):
        with pytest.raises(TypeError, match=r"export_nir: dt \(seconds\) must be a number"):
            export_nir(model, dt=bad)
