"""converters/nir/describe.py: each family's description is the update the layer computes.

The descriptions are what the exporter turns into NIR nodes; here each is
stepped in numpy and compared with the layer's own output.
"""

import keras
import numpy as np
import pytest

import keras_spiking as ks
from keras_spiking.converters.nir.describe import describe, described_classes


def _run(d, x):
    """Step the description ``d`` (no recurrence) on ``x`` (batch, time, n)."""
    v = np.zeros(x.shape[::2])
    i = np.zeros_like(v)
    out = []
    synapse = d["synapse"]
    for t in range(x.shape[1]):
        x_t = x[:, t].astype("float64")
        if synapse is None:
            v = d["decay"] * v + d["gain"] * x_t + d["bias"]
        elif "previous_gain" in synapse:  # exact hold: v reads the old current
            v = d["decay"] * v + d["gain"] * x_t + synapse["previous_gain"] * i + d["bias"]
            i = synapse["decay"] * i + synapse["gain"] * x_t
        else:  # Euler order: v reads the new current
            i = synapse["decay"] * i + synapse["gain"] * x_t
            v = d["decay"] * v + d["gain"] * i + d["bias"]
        if d["threshold"] is None:
            out.append(v)
            continue
        s = v > d["threshold"]
        if d["reset"] == "zero":
            v = np.where(s, d["reset_value"], v)
        elif d["reset"] == "subtract":
            v = np.where(s, v - d["threshold"], v)
        if d["voltage_floor"] is not None:
            v = np.maximum(v, d["voltage_floor"])
        out.append(s * d["spike_height"])
    return np.stack(out, 1)


LAYERS = {
    "Leaky": lambda: ks.layers.Leaky(np.array([0.6, 0.8, 0.95]), threshold=0.7, reset="zero"),
    "Leaky, no delay": lambda: ks.layers.Leaky(0.8, reset="zero", reset_delay=False),
    "IF": lambda: ks.layers.IF(threshold=1.5, reset="zero"),
    "Synaptic": lambda: ks.layers.Synaptic(alpha=0.7, beta=0.85, reset="zero"),
    "SpikingIF": lambda: ks.layers.SpikingIF(threshold=0.002, amplitude=0.5),
    "SpikingLIF": lambda: ks.layers.SpikingLIF(tau_rc=0.02, tau_ref=0.0, amplitude=0.01),
    "Lowpass": lambda: ks.layers.Lowpass(tau=0.01),
    "Alpha": lambda: ks.layers.Alpha(tau=0.004),
    "ContinuousLIF": lambda: ks.layers.ContinuousLIF(tau=0.01, r=2.0, v_leak=0.1, v_reset=-0.2),
    "ContinuousLIF, exact": lambda: ks.layers.ContinuousLIF(
        tau=0.01, r=2.0, v_leak=0.1, v_threshold=None, integration="exact"),
    "CubaLIF, Euler": lambda: ks.layers.ContinuousLIF(tau=0.02, tau_syn=0.005, w_in=3.0),
    "CubaLIF, exact": lambda: ks.layers.ContinuousLIF(tau=0.02, tau_syn=0.005, w_in=3.0,
                                                      integration="exact"),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_description_steps_like_the_layer(kind):
    layer = LAYERS[kind]()
    x = np.random.default_rng(0).uniform(0, 1.2, (2, 40, 3)).astype("float32")
    expected = np.asarray(layer(x))  # builds the layer
    d = describe(layer)
    assert type(layer) in described_classes()
    np.testing.assert_allclose(_run(d, x), expected, rtol=1e-4, atol=1e-5)
    if d["threshold"] is not None:
        assert expected.sum() > 5  # the neurons do spike


def test_unknown_layers_and_subclasses_have_no_description():
    class MyLeaky(ks.layers.Leaky):
        pass

    assert describe(keras.layers.Dense(3)) is None
    assert describe(MyLeaky(0.9)) is None
    assert describe(ks.layers.Lowpass(0.0))["identity"]
