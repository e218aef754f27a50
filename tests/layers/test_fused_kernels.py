"""The fused threshold-scan kernel (keras_spiking/kernels) against the keras.ops loop.

Every case builds the same layer twice, runs it with the kernel and with
``keras_spiking.default.fused_kernels = False`` (the loop of the dynamics core)
on the same inputs, and compares: spikes and voltages bit for bit, gradients
(inputs, initial state, learned beta and threshold) to float rounding. A graph
check makes sure the kernel, not the loop, ran.
"""

import os
import warnings

import keras
import numpy as np
import pytest
from kernel_helpers import library_or_skip, op_types

import keras_spiking
from keras_spiking import surrogates
from keras_spiking.kernels import build, threshold_scan
from keras_spiking.layers import IF, Alpha, Leaky, Lowpass, SpikingIF

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fused kernels are TensorFlow ops")

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf


@pytest.fixture(scope="module")
def kernel():
    return library_or_skip("threshold_scan")


def _weights(y):
    """Distinct weights for every element of ``y``, so that every gradient differs."""
    return tf.reshape(tf.sin(tf.range(tf.size(y), dtype=y.dtype) * 0.37) + 0.5, tf.shape(y))


def _run(layer, x, fused, initial_state=None, variables=()):
    """Outputs and the gradients of a weighted sum of every output, and the op types run."""
    with keras_spiking.default(fused_kernels=fused):
        @tf.function(autograph=False)
        def run(x, initial_state):
            with tf.GradientTape() as tape:
                tape.watch(x)
                if initial_state is not None:
                    tape.watch(initial_state)
                    result = layer(x, initial_state=(initial_state,))
                else:
                    result = layer(x)
                flat = tf.nest.flatten(result)
                loss = tf.add_n([tf.reduce_sum(y * _weights(y)) for y in flat])
            sources = [x] + ([initial_state] if initial_state is not None else []) + list(variables)
            return flat, tape.gradient(loss, sources)

        flat, grads = run(x, initial_state)
        types = op_types(run.get_concrete_function(x, initial_state).graph)
    return [np.asarray(y) for y in flat], [np.asarray(g) for g in grads], types


def _compare(make, x, initial_state=None, learned=()):
    fused_layer, loop_layer = make(), make()
    fused_layer.build(x.shape)
    loop_layer.build(x.shape)
    loop_layer.set_weights(fused_layer.get_weights())
    f_vars = [v for v in fused_layer.trainable_variables]
    l_vars = [v for v in loop_layer.trainable_variables]
    ys_f, gs_f, ops_f = _run(fused_layer, x, True, initial_state, f_vars)
    ys_l, gs_l, ops_l = _run(loop_layer, x, False, initial_state, l_vars)
    assert "KerasSpikingThresholdScan" in ops_f and "KerasSpikingThresholdScanGrad" in ops_f
    assert "KerasSpikingThresholdScan" not in ops_l
    for a, b in zip(ys_f, ys_l):
        np.testing.assert_array_equal(a, b)
    assert len(gs_f) == len(gs_l) == 1 + (initial_state is not None) + len(learned)
    for a, b in zip(gs_f, gs_l):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(b).max()))
    return ys_f, gs_f


def _currents(shape, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.normal(0.35, 0.8, shape).astype("float32"))


SURROGATES = [surrogates.ATan(), surrogates.FastSigmoid(25.0), surrogates.Sigmoid(5.0),
              surrogates.Triangular(0.7), surrogates.StraightThrough(),
              surrogates.SpikeRateEscape(2.0, 3.0)]


@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
def test_leaky_resets_match_the_loop(kernel, reset, reset_delay):
    x = _currents((3, 17, 5, 4))
    ys, gs = _compare(lambda: Leaky(0.8, threshold=0.9, reset=reset, reset_delay=reset_delay,
                                    output="both"), x)
    assert 0 < ys[0].mean() < 1  # some spikes, not all
    assert np.abs(gs[0]).max() > 0


@pytest.mark.parametrize("surrogate", SURROGATES, ids=lambda s: type(s).__name__)
def test_every_built_in_surrogate_matches_the_loop(kernel, surrogate):
    x = _currents((4, 12, 6), seed=1)
    _compare(lambda: Leaky(0.6, surrogate=surrogate), x)
    _compare(lambda: Leaky(0.6, surrogate=surrogate, reset_delay=False), x)


def test_learned_per_unit_beta_and_threshold_get_the_loops_gradients(kernel):
    x = _currents((3, 9, 2, 2, 3), seed=2)
    beta = np.array([0.5, 0.7, 0.9], "float32")
    for reset_delay in (True, False):
        for reset in ("subtract", "zero"):
            _compare(lambda: Leaky(beta, threshold=np.array([0.8, 1.0, 1.2], "float32"),
                                   learn_beta=True, learn_threshold=True, reset=reset,
                                   reset_delay=reset_delay), x, learned=("beta", "threshold"))


def test_scalar_learned_beta_and_threshold(kernel):
    x = _currents((2, 8, 7), seed=3)
    _compare(lambda: Leaky(0.7, learn_beta=True, learn_threshold=True, output="both"), x,
             learned=("beta", "threshold"))


def test_initial_state_and_its_gradient(kernel):
    x = _currents((2, 6, 5), seed=4)
    v0 = _currents((2, 5), seed=5)
    _compare(lambda: Leaky(0.9, return_state=True), x, initial_state=v0)
    _compare(lambda: Leaky(0.9, reset="zero", reset_delay=False, return_state=True), x,
             initial_state=v0)


def test_if_and_spiking_if_match_the_loop(kernel):
    x = _currents((3, 20, 8), seed=6)
    _compare(lambda: IF(threshold=1.5), x)
    # the converter's neuron: gain dt, amplitude 1 / dt, immediate reset by subtraction
    _compare(lambda: SpikingIF(threshold=0.01, dt=0.005, amplitude=0.3), x * 3.0)
    _compare(lambda: SpikingIF(reset="zero"), x * 500.0)


def _scan_ops(graph, op_type="KerasSpikingThresholdScan"):
    """The ops of ``op_type`` (default: the fused forward op) in a graph and in the
    functions it calls."""
    graphs = [graph] + [function.graph for function in graph._functions.values()]
    return [op for g in graphs for op in g.get_operations() if op.type == op_type]


def _graph_run(layer, x, fused, training, gradient):
    """Outputs, the input gradient (if ``gradient``) and the forward scan ops traced."""
    with keras_spiking.default(fused_kernels=fused):
        @tf.function(autograph=False)
        def run(x):
            if not gradient:
                return layer(x, training=training), tf.zeros([])
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = layer(x, training=training)
                loss = tf.reduce_sum(y * _weights(y))
            return y, tape.gradient(loss, x)

        y, g = run(x)
        graph = run.get_concrete_function(x).graph
    return np.asarray(y), np.asarray(g), _scan_ops(graph), op_types(graph)


@pytest.mark.parametrize("training", [True, False])
def test_spike_amplitude_is_written_by_the_kernel_and_the_voltage_only_when_needed(
        kernel, training):
    """SpikingIF's input gain dt and spike amplitude / dt are taken by the kernel (no
    multiply before or after it); at inference it writes no voltage, and a gradient
    asked for anyway recomputes it: the same spikes and gradients as the loop."""
    x = _currents((3, 11, 4, 5), seed=7) * 300.0
    make = lambda: SpikingIF(threshold=0.5, amplitude=0.25, dt=0.002)  # noqa: E731
    for gradient in (False, True):
        y_f, g_f, scans, types = _graph_run(make(), x, True, training, gradient)
        y_l, g_l, _, _ = _graph_run(make(), x, False, training, gradient)
        np.testing.assert_array_equal(y_f, y_l)
        assert set(np.unique(y_f)) == {0.0, 125.0}  # amplitude / dt
        np.testing.assert_allclose(g_f, g_l, rtol=1e-6, atol=1e-6)
        forward = scans[0]
        assert forward.get_attr("amplitude") == pytest.approx(125.0)
        assert forward.get_attr("gain") == pytest.approx(0.002)
        assert forward.get_attr("voltage") is training
        # the recomputation of the voltage for a gradient, only when it was not kept
        assert len(scans) == 1 + (gradient and not training)
        if not gradient:  # no arithmetic around the kernel
            assert "Mul" not in types and "Add" not in types and "AddV2" not in types


@pytest.mark.parametrize("gain, bias", [(0.2, 0.0), (0.2, 0.03), ("per unit", 0.0)])
def test_gains_and_biases_match_a_numpy_reference(kernel, gain, bias):
    """``scan`` on the dynamics core: the kernel's own gain (a number, no bias), the
    gain applied before it (with a bias: gain x + bias, as neurons.charge) and a
    per-unit gain, all equal to float32 numpy bit for bit (reset to zero, immediate)."""
    from keras_spiking import neurons

    x = np.asarray(_currents((3, 14, 5), seed=9)) * 3.0
    gain = np.linspace(0.1, 0.5, 5).astype("float32") if gain == "per unit" else gain
    d = neurons.Dynamics(decay=0.9, gain=gain, bias=bias, threshold=0.8, reset="zero",
                         amplitude=2.0)
    assert threshold_scan.applies(d, tf.constant(x))
    spikes, voltage, (v_last,) = threshold_scan.scan(d, tf.constant(x), (tf.zeros((3, 5)),))
    v = np.zeros((3, 5), "float32")
    want_s, want_v = [], []
    for t in range(x.shape[1]):
        drive = np.float32(gain) * x[:, t] if np.ndim(gain) == 0 else gain * x[:, t]
        drive = drive + np.float32(bias) if bias else drive
        v = np.float32(0.9) * v + drive
        s_t = (v > np.float32(0.8)).astype("float32")
        v = v * (np.float32(1) - s_t)
        want_s.append(2.0 * s_t)
        want_v.append(v)
    np.testing.assert_array_equal(np.asarray(spikes), np.stack(want_s, 1))
    np.testing.assert_array_equal(np.asarray(voltage), np.stack(want_v, 1))
    np.testing.assert_array_equal(np.asarray(v_last), v)
    assert 0 < np.mean(want_s) < 2.0


@pytest.mark.parametrize("make", [
    lambda: Leaky(0.7, threshold=0.6, surrogate=surrogates.FastSigmoid(25.0)),
    lambda: Leaky(0.7, threshold=0.6, reset_delay=False, output="both"),
    lambda: Lowpass(0.01, dt=0.001)], ids=["leaky", "leaky-immediate-both", "lowpass"])
def test_a_repeated_static_input_is_read_once_and_its_gradient_summed(kernel, make):
    """Behind ``RepeatTime`` (in a graph) the kernel reads the static tensor: no Tile
    feeds it, its gradient comes out summed over time; the spikes equal the loop's
    on the repeated input, the gradients to float rounding."""
    static = _currents((3, 4, 5), seed=11)
    results = {}
    for fused in (True, False):
        layer = make()
        with keras_spiking.default(fused_kernels=fused):
            @tf.function(autograph=False)
            def run(static):
                with tf.GradientTape() as tape:
                    tape.watch(static)
                    flat = tf.nest.flatten(
                        layer(keras_spiking.layers.RepeatTime(9)(static), training=True))
                    loss = tf.add_n([tf.reduce_sum(y * _weights(y)) for y in flat])
                return flat, tape.gradient(loss, static)

            flat, grad = run(static)
            graph = run.get_concrete_function(static).graph
        results[fused] = ([np.asarray(y) for y in flat], np.asarray(grad), graph)
    (ys_f, g_f, graph), (ys_l, g_l, _) = results[True], results[False]
    for a, b in zip(ys_f, ys_l):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(g_f, g_l, rtol=1e-5, atol=1e-5 * np.abs(g_l).max())
    assert np.abs(g_l).max() > 0
    (forward,) = _scan_ops(graph)
    assert forward.get_attr("steps") == 9
    assert forward.inputs[0].shape.rank == 2  # (batch, units): the static tensor
    grads = _scan_ops(graph, "KerasSpikingThresholdScanGrad")
    assert grads and all(op.get_attr("steps") == 9 for op in grads)


def test_a_layer_returning_its_voltage_gets_it_at_inference(kernel):
    x = _currents((2, 9, 6), seed=8)
    make = lambda: Leaky(0.7, threshold=0.8, output="both")  # noqa: E731
    with keras_spiking.default(fused_kernels=True):
        spikes_f, voltage_f = (np.asarray(y) for y in tf.function(
            lambda x: make()(x, training=False))(x))
    with keras_spiking.default(fused_kernels=False):
        spikes_l, voltage_l = (np.asarray(y) for y in make()(x, training=False))
    np.testing.assert_array_equal(spikes_f, spikes_l)
    np.testing.assert_array_equal(voltage_f, voltage_l)


def test_lowpass_filters_match_the_loop(kernel):
    x = _currents((3, 15, 4), seed=11)
    _compare(lambda: Lowpass(0.01, dt=0.002, learn_tau=False), x)
    _compare(lambda: Lowpass(0.005, initial_value="first_input", return_state=True,
                             learn_tau=False), x)
    _compare(lambda: Lowpass(0.02, learn_tau=True), x,
             learned=("tau",))


def test_alpha_keeps_the_loop(kernel):
    layer = Alpha(0.01)
    x = _currents((2, 6, 3), seed=12)
    layer(x)
    d, x_loop, _ = keras_spiking.neurons.hoist(layer.call_dynamics("float32"), x)
    assert d.synaptic and not threshold_scan.applies(d, x_loop)


def test_stateful_calls_continue_like_one_long_call(kernel):
    x = _currents((2, 10, 4), seed=7)
    whole = Leaky(0.8)(x)
    layer = Leaky(0.8, stateful=True)
    parts = [layer(x[:, :4]), layer(x[:, 4:])]
    np.testing.assert_array_equal(np.concatenate([np.asarray(p) for p in parts], 1), whole)


def test_nan_voltage_shows_as_nan_spikes_like_the_loop(kernel):
    x = np.ones((1, 4, 3), "float32")
    x[0, 1, 1] = np.nan
    with keras_spiking.default(check_numerics=False):
        fused = np.asarray(Leaky(0.5)(tf.constant(x)))
        with keras_spiking.default(fused_kernels=False):
            loop = np.asarray(Leaky(0.5)(tf.constant(x)))
    np.testing.assert_array_equal(np.isnan(fused), np.isnan(loop))
    assert np.isnan(fused[0, 1:, 1]).all() and not np.isnan(fused[0, :, 0]).any()


def test_xla_and_custom_surrogates_keep_the_loop(kernel):
    x = _currents((2, 5, 3), seed=8)
    layer = Leaky(0.8)
    eager = np.asarray(layer(x))
    compiled = tf.function(layer, jit_compile=True)
    np.testing.assert_array_equal(np.asarray(compiled(x)), eager)
    assert "KerasSpikingThresholdScan" not in {
        op.type for op in compiled.get_concrete_function(x).graph.get_operations()}
    custom = Leaky(0.8, surrogate=surrogates.Custom(lambda z: keras.ops.ones_like(z)))
    d = keras_spiking.neurons.hoist(custom.call_dynamics("float32"), x)[0]
    assert not threshold_scan.applies(d, x)
    np.testing.assert_array_equal(np.asarray(custom(x)), eager)


def test_units_of_unknown_shape_keep_the_loop(kernel):
    layer = Leaky(0.8)
    x = _currents((2, 6, 4, 4, 3), seed=10)
    eager = np.asarray(layer(x))  # built on the known shape, then traced without it
    run = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, None, 3))])
    np.testing.assert_array_equal(np.asarray(run(x)), eager)
    assert "KerasSpikingThresholdScan" not in op_types(run.get_concrete_function().graph)


def test_a_model_trains_the_same_with_and_without_the_kernel(kernel):
    rng = np.random.default_rng(9)
    x = rng.normal(0.3, 1.0, (16, 8, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    weights = []
    for fused in (True, False):
        with keras_spiking.default(fused_kernels=fused):
            keras.utils.set_random_seed(0)
            model = keras.Sequential([
                keras.Input((8, 6)), keras.layers.Dense(10), Leaky(0.7, learn_beta=True),
                keras.layers.Dense(3), Leaky(0.7, output="membrane"),
                keras.layers.Lambda(lambda v: keras.ops.mean(v, axis=1))])
            model.compile(keras.optimizers.SGD(0.1),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
            weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_a_missing_compiler_falls_back_with_one_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SPIKING_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", str(tmp_path / "no-such-compiler"))
    build.load.cache_clear()
    try:
        with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler.*keras.ops loop"):
            assert build.load("threshold_scan") is None
        assert list(tmp_path.iterdir()) == []  # nothing half-written left behind
    finally:
        build.load.cache_clear()


def test_the_cache_keeps_only_the_newest_libraries_of_a_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_SPIKING_CACHE", str(tmp_path))
    for i in range(7):  # libraries of older sources, oldest first
        old = tmp_path / f"threshold_scan-tf2.0-{i:012d}.so"
        old.write_bytes(b"")
        os.utime(old, (1000 + i, 1000 + i))
    other = tmp_path / "another_kernel-tf2.0-000000000000.so"
    other.write_bytes(b"")
    keep = tmp_path / "notes.txt"
    keep.write_text("not a library")
    build.prune("threshold_scan", keep=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [f"threshold_scan-tf2.0-{i:012d}.so" for i in (4, 5, 6)]
        + [other.name, keep.name])


def test_the_environment_switch_turns_the_kernels_off(monkeypatch):
    monkeypatch.setenv("KERAS_SPIKING_FUSED", "0")
    build.load.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert build.load("threshold_scan") is None
    finally:
        build.load.cache_clear()
    assert os.environ["KERAS_SPIKING_FUSED"] == "0"


def test_fused_kernels_setting_is_checked():
    with pytest.raises(TypeError, match="fused_kernels"):
        keras_spiking.default.fused_kernels = "yes"
