"""The faster paths of the time loop give the plain loop's numbers: the gain and
amplitude taken out of the loop (``neurons.hoist``, always on) bit for bit;
``keras_spiking.default.xla_time_loops`` (inference loops compiled by XLA on
TensorFlow) the same spikes; training is never compiled."""

import keras
import numpy as np
import pytest

import keras_spiking
from keras_spiking import neurons
from keras_spiking.layers import (
    ContinuousLIF,
    Leaky,
    Lowpass,
    SpikingActivation,
    SpikingIF,
    SpikingLIF,
)
from keras_spiking import timeloop
from keras_spiking.timeloop import scan_time


def _dyadic(shape, seed=0):
    """Inputs on a grid of 1/16 in [-1, 2]: every sum and product below is exact in
    float32, so fused multiply-adds cannot move a voltage across a threshold."""
    return (np.random.default_rng(seed).integers(-16, 33, shape) / 16).astype("float32")


EXACT = {  # dyadic parameters: exact arithmetic, spikes must be equal
    "SpikingIF": lambda: SpikingIF(threshold=1.0, amplitude=1.0, dt=0.5),
    "Leaky": lambda: Leaky(beta=0.5, threshold=1.0),
    "SpikingActivation": lambda: SpikingActivation("relu", dt=0.25, seed=3),
}
CLOSE = {  # exp(-dt / tau) coefficients: equal to float rounding
    "SpikingLIF": lambda: SpikingLIF(amplitude=0.01),
    "Lowpass": lambda: Lowpass(0.01),
}


def _both(make, x, steps=None):
    """The layer's output with the default loop and with XLA loops, each in a
    compiled ``predict`` (the same layer, so the same weights)."""
    layer = make()
    inp = keras.Input((steps,) + x.shape[2:])
    model = keras.Model(inp, layer(inp))
    initial = None
    if isinstance(layer, SpikingActivation):  # fixed initial voltages, not a random draw
        initial = (keras.ops.convert_to_tensor(_dyadic(x[:, 0].shape, 1) % 1),)
        model = keras.Model(inp, layer(inp, initial_state=initial))
    plain = model.predict(x, verbose=0)
    # the fused kernels take precedence over XLA loops where they apply: off here
    with keras_spiking.default(xla_time_loops=True, fused_kernels=False):
        compiled = keras.Model(inp, layer(inp, initial_state=initial))
        xla = compiled.predict(x, verbose=0)
    return plain, xla


@pytest.fixture
def compiled_loops(monkeypatch):
    """Counts the XLA-compiled loops traced (TensorFlow only; JAX ignores the setting)."""
    calls = []
    original = timeloop._xla_scan
    monkeypatch.setattr(timeloop, "_xla_scan", lambda *a: calls.append(1) or original(*a))
    yield calls
    assert bool(calls) == (keras.backend.backend() == "tensorflow")


@pytest.mark.parametrize("steps", [None, 12])
@pytest.mark.parametrize("name", sorted(EXACT))
def test_xla_loops_give_the_same_spikes(name, steps, compiled_loops):
    x = _dyadic((4, 12, 6))
    plain, xla = _both(EXACT[name], x, steps)
    assert np.abs(plain).sum() > 0  # the test sees spikes
    np.testing.assert_array_equal(xla, plain)


@pytest.mark.parametrize("name", sorted(CLOSE))
def test_xla_loops_match_to_float_rounding(name, compiled_loops):
    x = np.random.default_rng(2).uniform(0, 3, (4, 40, 6)).astype("float32")
    plain, xla = _both(CLOSE[name], x, 40)
    assert np.abs(plain).sum() > 0
    if name == "Lowpass":
        np.testing.assert_allclose(xla, plain, rtol=1e-5, atol=1e-6)
    else:  # a spike may move by one step where a voltage sits on the threshold
        assert np.mean(xla != plain) < 0.01
        np.testing.assert_allclose(xla.sum(1), plain.sum(1), atol=2 * 0.01 / 0.001)


def test_training_is_not_compiled_and_gradients_are_unchanged():
    """With the setting on, a training call takes the default loop: the same
    surrogate gradient (XLA would not be asked to differentiate the loop)."""
    x = keras.ops.convert_to_tensor(_dyadic((3, 10, 5)))
    layer = Leaky(beta=0.5, learn_beta=True)
    layer.build(x.shape)

    def grads():
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = keras.ops.sum(layer(x, training=True) * keras.ops.arange(5.0))
            return [np.asarray(g) for g in tape.gradient(loss, [x, layer.beta_variable])]
        import jax

        def loss(x, beta):
            out, _ = layer.stateless_call([beta], [], x, training=True)
            return keras.ops.sum(out * keras.ops.arange(5.0))

        return [np.asarray(g) for g in jax.grad(loss, (0, 1))(x, layer.beta_variable.value)]

    with keras_spiking.default(fused_kernels=False):  # the loops, not the fused kernel
        plain = grads()
    with keras_spiking.default(xla_time_loops=True, fused_kernels=False):
        compiled = grads()
    assert np.abs(plain[0]).sum() > 0
    for a, b in zip(plain, compiled):
        np.testing.assert_array_equal(a, b)


def test_scan_time_xla_returns_outputs_and_final_state(compiled_loops):
    """The compiled loop returns the same structure: stacked outputs and the state."""
    x = keras.ops.convert_to_tensor(_dyadic((2, 7, 3)))

    def step(x_t, state):
        (v,) = state
        v = 0.5 * v + x_t
        return (v, 2 * v), (v,)

    zeros = (keras.ops.zeros((2, 3)),)
    (a, b), (v,) = scan_time(step, x, zeros, xla=True)
    (a0, b0), (v0,) = scan_time(step, x, zeros)
    for got, want in ((a, a0), (b, b0), (v, v0)):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    assert tuple(a.shape) == (2, 7, 3)


def test_setting_is_checked_and_restored():
    with pytest.raises(TypeError, match="xla_time_loops"):
        keras_spiking.default.xla_time_loops = "yes"
    with keras_spiking.default(xla_time_loops=True):
        assert keras_spiking.default.xla_time_loops is True
    assert keras_spiking.default.xla_time_loops is False


HOISTED = {  # layers whose gain and/or amplitude leave the loop
    "SpikingIF": lambda: SpikingIF(threshold=0.7, amplitude=0.3, dt=0.003),
    "SpikingIF graded": lambda: SpikingIF(amplitude=0.3, dt=0.01, graded=True, max_spikes=3),
    "SpikingActivation": lambda: SpikingActivation("relu", dt=0.01, seed=1),
    "ContinuousLIF": lambda: ContinuousLIF(tau=0.05, r=1.7, v_threshold=0.9, dt=0.01),
}


@pytest.mark.parametrize("steps", [9, 130])  # unrolled and scanned (> MAX_UNROLL)
@pytest.mark.parametrize("name", sorted(HOISTED))
def test_hoisted_gain_and_amplitude_give_the_same_numbers(name, steps):
    layer = HOISTED[name]()
    layer.return_state = True  # compare the final states too
    x = keras.ops.convert_to_tensor(
        np.random.default_rng(4).uniform(-50, 300, (3, steps, 7)).astype("float32"))
    layer.build(x.shape)
    if isinstance(layer, SpikingActivation):
        x = layer.activation(x)  # what its scan feeds the loop
    d = layer.call_dynamics("float32")
    d_loop, _, amplitude = neurons.hoist(d, x)
    assert d_loop.gain == 1.0 or amplitude is not None  # something left the loop
    states = layer.initial_state(x)
    step, x_loop, _ = layer.loop_parts(x)
    assert (x_loop is not x) == (keras.backend.backend() == "tensorflow")  # TF only
    new, new_state = super(type(layer), layer).scan(x, states) if isinstance(
        layer, SpikingActivation) else layer.scan(x, states)
    old, old_state = scan_time(layer.step_function(x), x, states)
    assert np.abs(np.asarray(old)).sum() > 0
    np.testing.assert_array_equal(np.asarray(new), np.asarray(old))
    for a, b in zip(new_state, old_state):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_hoist_keeps_the_gain_where_the_step_needs_the_raw_input():
    """Offset, synapse and refractory period read the unscaled input: no hoisting."""
    for d in (neurons.Dynamics(gain=0.5, offset=1.0), neurons.Dynamics(gain=0.5,
              synapse_decay=0.9), SpikingLIF().dynamics(), neurons.Dynamics(
              gain=0.5, amplitude=3.0, recurrent="one_to_one", recurrent_kernel=0.1)):
        d_loop, x, amplitude = neurons.hoist(d, 2.0)
        assert d_loop.gain == d.gain and x == 2.0
        if d.recurrent is not None:  # the fed-back spikes are the unscaled ones
            assert amplitude is None and d_loop.amplitude == 3.0


@pytest.mark.parametrize("chunk", [4, 7])  # 7 leaves a last partial chunk of 30 steps
def test_chunked_loop_gives_the_plain_loops_numbers(chunk, monkeypatch):
    """A long static time axis scanned in unrolled chunks (``timeloop.CHUNK``) gives
    the one-step-per-iteration loop's spikes, final states and input gradients."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("chunks are the TensorFlow loop's; JAX passes them to lax.scan")
    import tensorflow as tf
    monkeypatch.setattr(timeloop, "MAX_UNROLL", 16)
    x = tf.constant(np.random.default_rng(5).uniform(-1, 3, (3, 37, 4)).astype("float32"))
    results = {}
    for name, size in (("plain", None), ("chunked", chunk)):
        monkeypatch.setattr(timeloop, "CHUNK", size)
        layer = SpikingLIF(amplitude=0.01)
        layer.build(x.shape)
        lif = layer.step_function(x)

        def step(x_t, states):  # two outputs per step: spikes and voltage
            spikes, states = lif(x_t, states)
            return (spikes, states[0]), states

        with tf.GradientTape() as tape:
            tape.watch(x)
            (spikes, voltage), state = scan_time(step, x, layer.initial_state(x))
            loss = tf.reduce_sum(voltage * np.arange(37, dtype="float32")[:, None])
        results[name] = (spikes, voltage, *state, tape.gradient(loss, x))
    assert np.asarray(results["plain"][0]).sum() > 0
    assert results["chunked"][0].shape == (3, 37, 4)
    for a, b in zip(results["chunked"], results["plain"]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _if_model(x_shape, steps, **kwargs):
    inp = keras.Input(x_shape)
    layer = SpikingIF(**kwargs)
    return keras.Model(inp, layer(keras_spiking.layers.RepeatTime(steps)(inp))), layer


@pytest.mark.parametrize("initial_voltage", ["zeros", "half", "uniform"])
def test_constant_input_closed_form_equals_the_loop_on_exact_sums(initial_voltage,
                                                                  monkeypatch):
    """Dyadic inputs and threshold (every sum exact in float32): the closed form
    (``SpikingIF(constant_input=True)``) gives the loop's spikes bit for bit,
    including saturated (input > threshold / dt) and negative currents."""
    calls = []
    original = neurons.constant_input_spikes
    monkeypatch.setattr(neurons, "constant_input_spikes",
                        lambda *a: calls.append(1) or original(*a))
    x = _dyadic((5, 9))
    kwargs = dict(threshold=0.75, amplitude=0.5, dt=0.5, initial_voltage=initial_voltage,
                  seed=2)
    outs = {}
    for constant in (False, True):
        model, layer = _if_model((9,), 40, constant_input=constant, **kwargs)
        if initial_voltage == "uniform":  # dyadic draws, so that sums stay exact
            layer.voltage0.assign(np.round(np.asarray(layer.voltage0) * 16) / 16)
        outs[constant] = model.predict(x, verbose=0)
    assert calls  # the closed form ran
    assert outs[False].sum() > 0 and (outs[False][:, -1] == 0).any()  # spikes and silence
    np.testing.assert_array_equal(outs[True], outs[False])


@pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                    reason="XLA (JAX) drops a slice of a repeat by itself")
def test_constant_input_reads_the_static_tensor_so_the_repeat_is_never_computed():
    """In a TensorFlow graph the closed form takes the tensor ``RepeatTime`` repeated
    (not a slice of the ``batch x T`` copies): no op the output needs is a Tile,
    while the loop's graph needs one; the spikes are the eager call's."""
    import tensorflow as tf

    x = _dyadic((4, 6))
    for constant in (True, False):
        model, _ = _if_model((6,), 30, constant_input=constant, threshold=0.75, dt=0.5)
        run = tf.function(lambda x: model(x, training=False), autograph=False)
        graph = run.get_concrete_function(tf.TensorSpec((None, 6))).graph
        needed, todo = set(), [t.op for t in graph.outputs]
        while todo:  # the ops the outputs depend on
            op = todo.pop()
            if op.name not in needed:
                needed.add(op.name)
                todo += [t.op for t in op.inputs]
        types = {graph.get_operation_by_name(n).type for n in needed}
        assert ("Tile" in types) is not constant, types
        np.testing.assert_array_equal(run(tf.constant(x)), model(x, training=False))


def test_constant_input_closed_form_is_within_one_spike_of_the_loop():
    """Generic floats: spikes may move by one step where rounding differs, the
    count after every step stays within one spike of the loop's."""
    x = np.random.default_rng(3).uniform(-0.2, 0.9, (8, 50)).astype("float32")
    outs = [_if_model((50,), 60, constant_input=c, threshold=0.0006, amplitude=0.0006,
                       initial_voltage="half")[0].predict(x, verbose=0) for c in (False, True)]
    counts = [np.cumsum(o, axis=1) / (0.0006 / 0.001) for o in outs]
    assert counts[0][:, -1].sum() > 1000
    assert np.abs(counts[1] - counts[0]).max() <= 1 + 1e-3
    assert np.mean(outs[0] != outs[1]) < 1e-3


def test_constant_input_keeps_the_loop_where_the_closed_form_does_not_apply():
    """Graded spikes, reset to zero, return_state: the loop runs (same numbers)."""
    x = np.random.default_rng(4).uniform(0, 3, (3, 6)).astype("float32")
    for kwargs in (dict(graded=True, max_spikes=3), dict(reset="zero")):
        outs = [_if_model((6,), 12, constant_input=c, dt=0.5, **kwargs)[0].predict(
            x, verbose=0) for c in (False, True)]
        np.testing.assert_array_equal(outs[1], outs[0])
    layer = SpikingIF(constant_input=True, return_state=True, dt=0.5)
    spikes, (v,) = layer(keras.ops.convert_to_tensor(np.repeat(x[:, None], 12, axis=1)))
    assert spikes.shape == (3, 12, 6) and v.shape == (3, 6)
    config = SpikingIF(constant_input=True).get_config()
    assert SpikingIF.from_config(config).constant_input is True
    with pytest.raises(TypeError, match="constant_input must be True or False"):
        SpikingIF(constant_input="yes")


def test_constant_input_closed_form_keeps_non_finite_inputs_visible():
    """NaN gives NaN spikes (as the loop's heaviside), +inf fires every step, -inf never."""
    x = np.array([[np.nan, 1.0, np.inf, -np.inf]], "float32")
    outs = [_if_model((4,), 5, constant_input=c, dt=0.5)[0].predict(x, verbose=0)
            for c in (False, True)]
    np.testing.assert_array_equal(outs[1], outs[0])  # NaN == NaN for assert_array_equal
    assert np.isnan(outs[1][0, :, 0]).all() and (outs[1][0, :, 2] == 2.0).all()
