"""Every public layer of ``keras_spiking.layers`` compiles under XLA (GPU readiness).

The layers are enumerated from the package (``keras_spiking.layers.__all__``),
so a new layer is covered, or this test fails until it says how to build the
layer (``ARGS``). For each layer: a model ``Input > Dense > layer`` compiled
with ``jit_compile=True`` predicts what the same model predicts without XLA, and
one training step compiles and updates the weights as an eager step does. Time layers are tried with
an unknown time axis (a symbolic loop, so no host round trip may sit inside
the time loop) and a few also with a static one (the loop unrolled). On JAX every step is
jitted anyway; run the module with ``KERAS_BACKEND=jax`` too.
"""

import inspect

import keras
import numpy as np
import pytest

import keras_spiking
from keras_spiking import layers as L

T, F = 5, 4  # timesteps, features: tiny on purpose

#: Abstract bases exported for ``isinstance`` checks (a subclass defines the dynamics).
BASES = {L.TimeStateLayer, L.DynamicsCell}

#: Constructor arguments of the layers that need some; everything else is built
#: with its defaults. Values are functions, so each case gets fresh sub-layers.
ARGS = {
    "Leaky": lambda: dict(beta=0.9),
    "RLeaky": lambda: dict(beta=0.9),
    "Synaptic": lambda: dict(alpha=0.5, beta=0.9),
    "RSynaptic": lambda: dict(alpha=0.5, beta=0.9),
    "Lowpass": lambda: dict(tau=0.01),
    "Alpha": lambda: dict(tau=0.01),
    "SpikingActivation": lambda: dict(activation="relu", seed=0),
    "TimeFold": lambda: dict(layer=keras.layers.Dense(3)),
    "SpikeMaxPool": lambda: dict(layer=keras.layers.MaxPooling1D(2)),
    "RepeatTime": lambda: dict(timesteps=T),
    "SpikeTimeDense": lambda: dict(units=3),
    "SpikingActivationCell": lambda: dict(size=F, activation="relu", seed=0),
    "LowpassCell": lambda: dict(size=F, tau_initializer=0.01),
    "AlphaCell": lambda: dict(size=F, tau_initializer=0.01),
}

#: Input shapes (after the batch axis) that are not (T, F).
SHAPES = {
    "RepeatTime": (F,),  # a static input, repeated over time
    "SpikeTimeDense": (F,),  # spike times, no time axis
    "SpikeMaxPool": (T, 6, F),  # spikes over (time, length, channels)
}


def public_layers():
    """The distinct layer classes ``keras_spiking.layers`` exports, minus bases."""
    found = {}
    for name in L.__all__:
        obj = getattr(L, name)
        if inspect.isclass(obj) and issubclass(obj, keras.layers.Layer) and obj not in BASES:
            found.setdefault(obj, obj.__name__)
    return sorted(found.values())


#: Time layers also tried with a static time axis, which unrolls the loop
#: (the per-step ops are the loop body's; a few suffice).
UNROLLED = ("Leaky", "SpikingLIF", "Lowpass")


def cases():
    """Time layers with an unknown time axis (a symbolic loop: the strict case
    for XLA), the others, and ``UNROLLED``, with a static one."""
    out = []
    for name in public_layers():
        cls = getattr(L, name)
        if issubclass(cls, (L.TimeStateLayer, L.DynamicsCell)):
            out.append((name, "loop"))
        if name in UNROLLED or not issubclass(cls, (L.TimeStateLayer, L.DynamicsCell)):
            out.append((name, "static"))
    return out


def build(name, time):
    """``Input > Dense > layer`` (cells inside ``keras.layers.RNN``)."""
    cls = getattr(L, name)
    kwargs = ARGS.get(name, dict)()
    shape = SHAPES.get(name, (T, F))
    if time == "loop":
        shape = (None,) + shape[1:]
    keras.utils.set_random_seed(0)
    inp = keras.Input(shape)
    if name == "SpikeTimeDense":  # its inputs are spike times: keep them positive
        x = keras.layers.Dense(F, activation="softplus")(inp)
    else:
        x = keras.layers.Dense(shape[-1], bias_initializer="ones")(inp)
    layer = cls(**kwargs)
    assert layer.supports_jit, f"{name}: Keras' jit_compile='auto' would not compile it"
    y = keras.layers.RNN(layer, return_sequences=True)(x) if issubclass(
        cls, L.DynamicsCell) else layer(x)
    return keras.Model(inp, y)


def data(name):
    shape = SHAPES.get(name, (T, F))
    return np.random.default_rng(1).uniform(0.0, 2.0, (3,) + shape).astype("float32")


def test_every_public_layer_is_covered():
    """A new layer that needs arguments is named here until ARGS has them."""
    missing = []
    for name in public_layers():
        try:
            getattr(L, name)(**ARGS.get(name, dict)())
        except TypeError as error:
            missing.append(f"{name}: {error}")
    assert not missing, "add constructor arguments to ARGS: " + "; ".join(missing)
    assert {"Leaky", "SpikingLIF", "SoftLIF", "SpikeTimeDense", "LowpassCell"} <= set(
        public_layers())
    assert set(ARGS) <= set(public_layers()), "ARGS names a layer the package no longer has"


def train_step(model, x, target, **compile_args):
    """One SGD step from the model's current weights; the weights after it."""
    model.compile(keras.optimizers.SGD(0.1), "mse", **compile_args)
    loss = model.fit(x, target, batch_size=len(x), epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)
    return [np.asarray(w) for w in model.trainable_weights]


@pytest.mark.parametrize("name, time", cases(), ids=[f"{n}-{t}" for n, t in cases()])
def test_layer_compiles_under_xla(name, time):
    """XLA's forward pass and training step equal the eager ones."""
    x = data(name)
    model = build(name, time)
    eager = keras.ops.convert_to_numpy(model(x))
    initial = model.get_weights()
    start = [np.asarray(w) for w in model.trainable_weights]
    target = np.ones_like(eager)
    stepped = train_step(model, x, target, run_eagerly=True)
    model.set_weights(initial)

    model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=True)
    jitted = np.asarray(model.predict(x, verbose=0))
    np.testing.assert_allclose(jitted, eager, rtol=1e-4, atol=1e-5)
    assert np.all(np.isfinite(jitted))
    for w0, want, got in zip(start, stepped, train_step(model, x, target, jit_compile=True)):
        # the updates agree to float rounding of the gradient (steep near a threshold)
        scale = np.max(np.abs(want - w0), initial=0.0)
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-3 * scale + 1e-6)
    if keras.backend.backend() == "tensorflow":  # XLA did compile the step
        assert model.jit_compile is True and model.train_function is not None
