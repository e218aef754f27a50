"""callbacks.DtScheduler: a dt variable read by layers, changed during fit."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_spiking.callbacks import DtScheduler
from keras_spiking.config import resolve_dt, variable_value


class _ScaleByDt(keras.layers.Layer):
    """y = x * dt + offset: with x = 1, offset = 0 and an MAE loss to 0, loss = dt."""

    def __init__(self, dt=None, **kwargs):
        super().__init__(**kwargs)
        self.dt = resolve_dt(self.name, dt)

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(), initializer="zeros", name="offset")

    def call(self, x):
        return x * ops.cast(self.dt, x.dtype) + self.offset


def _model(dt, layers=1):
    inp = x = keras.Input((1,))
    for _ in range(layers):
        x = _ScaleByDt(dt)(x)
    model = keras.Model(inp, x)
    model.compile(keras.optimizers.SGD(0.0), "mae")  # nothing trains: the loss is what the layers saw
    return model


class _Recorder(keras.callbacks.Callback):
    def __init__(self, dt):
        super().__init__()
        self.dt, self.values = dt, []

    def on_epoch_end(self, epoch, logs=None):
        self.values.append(variable_value(self.dt))


X, Y = np.ones((4, 1), "float32"), np.zeros((4, 1), "float32")


def test_epoch_schedule():
    dt = keras.Variable(0.008, trainable=False)
    model = _model(dt)
    seen_by_schedule = []

    def halve(epoch, current):
        seen_by_schedule.append((epoch, current))
        return current / 2

    recorder = _Recorder(dt)
    history = model.fit(X, Y, epochs=3, batch_size=2, verbose=0,
                        callbacks=[DtScheduler(dt, halve), recorder]).history
    expected = [0.004, 0.002, 0.001]
    np.testing.assert_allclose(recorder.values, expected, rtol=1e-6)  # the variable per epoch
    np.testing.assert_allclose(history["dt"], expected, rtol=1e-6)    # logged like a learning rate
    np.testing.assert_allclose(history["loss"], expected, rtol=1e-5)  # what the layer computed with
    assert [e for e, _ in seen_by_schedule] == [0, 1, 2]
    np.testing.assert_allclose([d for _, d in seen_by_schedule], [0.008, 0.004, 0.002], rtol=1e-6)
    # the variable keeps its last value afterwards
    assert float(model.predict(X[:1], verbose=0)[0, 0]) == pytest.approx(0.001, rel=1e-5)


def test_learning_rate_schedule_is_applied_per_step():
    """A Keras LearningRateSchedule gets the training step (one per batch)."""
    dt = keras.Variable(1.0, trainable=False)
    model = _model(dt)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.008, decay_steps=1, decay_rate=0.5)
    recorder = _Recorder(dt)
    history = model.fit(X, Y, epochs=3, batch_size=2, verbose=0,  # 2 steps per epoch
                        callbacks=[DtScheduler(dt, schedule), recorder]).history
    per_step = 0.008 * 0.5 ** np.arange(6)
    np.testing.assert_allclose(history["loss"], per_step.reshape(3, 2).mean(axis=1), rtol=1e-5)
    np.testing.assert_allclose(recorder.values, per_step[1::2], rtol=1e-5)
    np.testing.assert_allclose(history["dt"], per_step[1::2], rtol=1e-5)


def test_one_argument_function_is_a_step_schedule_and_layers_share_the_variable():
    dt = keras.Variable(0.5, trainable=False)
    model = _model(dt, layers=2)  # y = x * dt * dt
    callback = DtScheduler(dt, lambda step: 0.1 * (step + 1))
    assert callback.kind == "step"
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0, callbacks=[callback]).history
    np.testing.assert_allclose(history["loss"], [0.1 ** 2, 0.2 ** 2], rtol=1e-5)
    np.testing.assert_allclose(history["dt"], [0.1, 0.2], rtol=1e-5)


def test_kerasspiking_style_tf_variable_on_tensorflow():
    """A KerasSpiking program: dt = tf.Variable(...), a tf.optimizers schedule."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.Variable is a TensorFlow-backend object")
    import tensorflow as tf

    dt = tf.Variable(1.0)
    model = _model(dt)
    schedule = tf.optimizers.schedules.ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5)
    history = model.fit(X, Y, epochs=2, batch_size=2, verbose=0,
                        callbacks=[DtScheduler(dt, schedule)]).history
    per_step = 0.5 ** (np.arange(4) / 2)
    np.testing.assert_allclose(history["loss"], per_step.reshape(2, 2).mean(axis=1), rtol=1e-5)
    assert float(dt.numpy()) == pytest.approx(per_step[-1], rel=1e-5)


def test_constant_schedule_leaves_the_variable_alone(capsys):
    dt = keras.Variable(0.25, trainable=False)
    model = _model(dt)
    history = model.fit(X, Y, epochs=2, batch_size=4, verbose=0,
                        callbacks=[DtScheduler(dt, lambda epoch, d: d, verbose=True)]).history
    np.testing.assert_allclose(history["dt"], [0.25, 0.25])
    assert "DtScheduler" not in capsys.readouterr().out  # nothing changed, nothing printed


def test_verbose_reports_changes(capsys):
    dt = keras.Variable(0.01, trainable=False)
    model = _model(dt)
    model.fit(X, Y, epochs=2, batch_size=4, verbose=0,
              callbacks=[DtScheduler(dt, lambda epoch, d: 0.01 * (epoch + 2), verbose=True)])
    out = capsys.readouterr().out
    assert "DtScheduler: epoch 1: dt set to 0.02 s." in out
    assert "DtScheduler: epoch 2: dt set to 0.03 s." in out


def test_bad_arguments():
    dt = keras.Variable(0.01, trainable=False)
    with pytest.raises(TypeError, match=r"DtScheduler: dt must be the keras.Variable .* got 0.01"):
        DtScheduler(0.01, lambda epoch, d: d)
    with pytest.raises(ValueError, match=r"DtScheduler: dt must be a scalar variable, got shape \(2,\)"):
        DtScheduler(keras.Variable([0.1, 0.2], trainable=False), lambda epoch, d: d)
    with pytest.raises(TypeError, match=r"DtScheduler: scheduler must be callable.* got 0.5"):
        DtScheduler(dt, 0.5)
    with pytest.raises(TypeError, match=r"DtScheduler: scheduler must take \(epoch, dt\) or \(step\)"):
        DtScheduler(dt, lambda: 0.1)


@pytest.mark.parametrize("schedule, match", [
    (lambda epoch, d: -0.5, r"DtScheduler: the scheduler returned dt=-0.5 at epoch 0; dt must be "
                          r"positive and finite"),
    (lambda epoch, d: 0.0, r"returned dt=0.0 at epoch 0"),
    (lambda step: float("inf"), r"returned dt=inf at step 0"),
])
def test_bad_scheduler_values(schedule, match):
    dt = keras.Variable(0.01, trainable=False)
    with pytest.raises(ValueError, match=match):
        _model(dt).fit(X, Y, epochs=1, verbose=0, callbacks=[DtScheduler(dt, schedule)])


def test_non_numeric_scheduler_value():
    dt = keras.Variable(0.01, trainable=False)
    match = r"the scheduler returned 'fast' at epoch 0; it must return a number"
    with pytest.raises(TypeError, match=match):
        _model(dt).fit(X, Y, epochs=1, verbose=0,
                       callbacks=[DtScheduler(dt, lambda epoch, d: "fast")])


def test_spiking_activation_and_lowpass_follow_the_schedule_during_fit():
    """The package's own layers read the scheduled dt at every training step.

    Dyadic steps (1/8, 1/16, 1/32 s) keep the arithmetic exact: with input 2
    and zero initial voltage, ``SpikingActivation`` emits ``n = floor(2 dt T)``
    spikes in ``T`` steps, each worth ``1 / dt``, so the mean squared output is
    ``n / (dt^2 T)``; ``Lowpass`` of the same step input ends at ``2 (1 - exp(-T dt / tau))``.
    """
    import keras_spiking

    steps, tau = 40, 0.5
    dt = keras.Variable(0.125, trainable=False)
    x = keras.Input((steps, 3))
    v0 = keras.Input((3,))
    spikes = keras_spiking.SpikingActivation("relu", dt=dt, name="spikes")(
        x, initial_state=(v0,))
    smooth = keras_spiking.Lowpass(tau, dt=dt, return_sequences=False, name="smooth")(x)
    model = keras.Model([x, v0], {"spikes": spikes, "smooth": smooth})
    model.compile(keras.optimizers.SGD(0.0), loss={"spikes": "mse", "smooth": "mae"})
    inputs = [np.full((4, steps, 3), 2.0, "float32"), np.zeros((4, 3), "float32")]
    targets = {"spikes": np.zeros((4, steps, 3), "float32"), "smooth": np.zeros((4, 3), "float32")}
    history = model.fit(inputs, targets, epochs=3, batch_size=2, verbose=0,
                        callbacks=[DtScheduler(dt, lambda epoch, d: 0.125 / 2 ** epoch)]).history
    dts = np.array([0.125, 0.0625, 0.03125])
    np.testing.assert_allclose(history["dt"], dts)
    np.testing.assert_allclose(history["spikes_loss"],
                               np.floor(2 * dts * steps) / (dts ** 2 * steps), rtol=1e-6)
    np.testing.assert_allclose(history["smooth_loss"], 2 * (1 - np.exp(-steps * dts / tau)),
                               rtol=1e-5)
    # afterwards the layers keep the last value
    out = model.predict(inputs, verbose=0)
    np.testing.assert_allclose(np.max(out["spikes"]), 1 / dts[-1])
