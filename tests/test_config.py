"""keras_spiking.default (dt), its context manager, and resolve_dt for layers."""

import keras
import pytest

import keras_spiking
from keras_spiking import config
from keras_spiking.config import default, dt_for_config, resolve_dt


@pytest.fixture(autouse=True)
def _restore_default():
    yield
    default.reset()


def test_default_dt_and_top_level_names():
    assert keras_spiking.default is default is config.default
    assert default.dt == 0.001
    assert repr(default) == ("DefaultManager(dt=0.001, check_numerics=True, "
                             "xla_time_loops=False, fused_kernels=True, event_conv=True)")


def test_reset_restores_every_setting():
    default.fused_kernels, default.event_conv, default.xla_time_loops = False, False, True
    default.reset()
    assert (default.fused_kernels, default.event_conv, default.xla_time_loops) == (
        True, True, False)
    with pytest.raises(TypeError, match="event_conv"):
        default.event_conv = "yes"


def test_setting_default_dt():
    keras_spiking.default.dt = 0.01
    assert default.dt == 0.01 and isinstance(default.dt, float)
    keras_spiking.default.dt = 1  # ints are seconds too
    assert default.dt == 1.0 and isinstance(default.dt, float)
    default.reset()
    assert default.dt == 0.001


@pytest.mark.parametrize("bad, error", [
    (0, ValueError), (-0.001, ValueError), (float("inf"), ValueError),
    (float("nan"), ValueError), ("0.01", TypeError), (None, TypeError), (True, TypeError),
])
def test_bad_default_dt_is_refused_and_leaves_the_old_value(bad, error):
    with pytest.raises(error, match=r"keras_spiking\.default\.dt must be .*got "):
        keras_spiking.default.dt = bad
    assert default.dt == 0.001


@pytest.mark.parametrize("enter", [lambda **kw: default(**kw), lambda **kw: default.context(**kw)],
                         ids=["call", "context"])
def test_context_sets_and_restores(enter):
    default.dt = 0.002
    with enter(dt=0.01) as manager:
        assert manager is default and default.dt == 0.01
        with enter(dt=0.5):
            assert default.dt == 0.5
        assert default.dt == 0.01
    assert default.dt == 0.002
    with pytest.raises(RuntimeError, match="inside"):
        with enter(dt=0.1):
            raise RuntimeError("inside")
    assert default.dt == 0.002  # restored after an error too


def test_context_errors_happen_before_the_block():
    with pytest.raises(ValueError, match=r"keras_spiking\.default\.dt must be"):
        with default(dt=-1):
            pytest.fail("the block must not run")
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['tau'\]; the settings are \['dt', 'check_numerics', 'xla_time_loops', 'fused_kernels', 'event_conv'\]"):
        with default(tau=0.1):
            pass
    assert default.dt == 0.001


def test_resolve_dt_numbers_and_none():
    assert resolve_dt("my_layer", 0.005) == 0.005
    assert isinstance(resolve_dt("my_layer", 2), float)
    assert resolve_dt("my_layer", None) == 0.001
    with default(dt=0.02):
        assert resolve_dt("my_layer", None) == 0.02  # the default at construction time
    assert resolve_dt("my_layer", None) == 0.001


@pytest.mark.parametrize("bad, error, match", [
    (0, ValueError, r"my_layer: dt must be > 0, got 0"),
    (-1.0, ValueError, r"my_layer: dt must be > 0, got -1.0"),
    (float("inf"), ValueError, r"my_layer: dt must be finite"),
    ("1ms", TypeError, r"my_layer: dt must be a number of seconds, None \(keras_spiking.default.dt, "
                       r"now 0.001\) or a non-trainable keras.Variable, got '1ms'"),
    (False, TypeError, r"my_layer: dt must be a number of seconds"),
])
def test_resolve_dt_errors(bad, error, match):
    with pytest.raises(error, match=match):
        resolve_dt("my_layer", bad)


def test_resolve_dt_keeps_a_variable():
    dt = keras.Variable(0.01, trainable=False)
    assert resolve_dt("my_layer", dt) is dt
    assert config.is_variable(dt) and not config.is_variable(0.01)
    assert dt_for_config(dt) == pytest.approx(0.01)
    dt.assign(0.03)
    assert dt_for_config(dt) == pytest.approx(0.03)
    assert dt_for_config(0.002) == 0.002


def test_resolve_dt_variable_errors():
    trainable = r"my_layer: the dt variable .* is trainable.*trainable=False"
    with pytest.raises(ValueError, match=trainable):
        resolve_dt("my_layer", keras.Variable(0.01))
    vector = r"my_layer: a dt variable must be a scalar, got one of shape \(2,\)"
    with pytest.raises(ValueError, match=vector):
        resolve_dt("my_layer", keras.Variable([0.01, 0.02], trainable=False))
    negative = r"my_layer: dt must be > 0 and finite, got a variable holding -0.5"
    with pytest.raises(ValueError, match=negative):
        resolve_dt("my_layer", keras.Variable(-0.5, trainable=False))


def test_resolve_dt_accepts_a_tf_variable_on_tensorflow():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.Variable is a TensorFlow-backend object")
    import tensorflow as tf

    dt = tf.Variable(0.01)  # KerasSpiking programs pass these
    assert resolve_dt("my_layer", dt) is dt
    assert dt_for_config(dt) == pytest.approx(0.01)
