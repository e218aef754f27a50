"""Training callbacks: ``DtScheduler`` changes the step length ``dt`` during ``fit``."""

import inspect
import math

import keras

from keras_spiking.config import is_variable, variable_value


def _schedule_kind(scheduler):
    """"step" for a schedule of the training step, "epoch" for ``f(epoch, dt)``."""
    if isinstance(scheduler, keras.optimizers.schedules.LearningRateSchedule):
        return "step"
    try:
        params = inspect.signature(scheduler).parameters.values()
    except (TypeError, ValueError):  # no signature (some builtins): assume f(epoch, dt)
        return "epoch"
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind == p.VAR_POSITIONAL for p in params) or len(positional) >= 2:
        return "epoch"
    if len(positional) == 1:
        return "step"
    raise TypeError(
        f"DtScheduler: scheduler must take (epoch, dt) or (step), got {scheduler!r} "
        "which takes no positional argument."
    )


class DtScheduler(keras.callbacks.Callback):
    """Sets a ``dt`` variable from a schedule while a model trains.

    The layers whose step length should follow the schedule are given the same
    variable as ``dt``::

        dt = keras.Variable(0.01, trainable=False)
        lowpass = keras_spiking.layers.Lowpass(0.05, dt=dt)
        ...
        model.fit(x, y, epochs=10, callbacks=[
            keras_spiking.callbacks.DtScheduler(dt, lambda epoch, dt: dt * 0.5)])

    Two kinds of schedule are accepted:

    * ``scheduler(epoch, dt) -> new dt`` (like ``keras.callbacks.
      LearningRateScheduler``; ``epoch`` counts from 0, ``dt`` is the current
      value): applied at the start of every epoch.
    * a ``keras.optimizers.schedules.LearningRateSchedule`` (e.g.
      ``ExponentialDecay(0.01, decay_steps=100, decay_rate=0.5)``), or any
      callable of one argument: called with the training step ``step = epoch *
      steps_per_epoch + batch`` (one step per batch) and applied at the start of
      every batch, as KerasSpiking does. (On JAX, a change within an epoch
      makes ``fit`` write its state back to the variables first: a schedule
      that changes ``dt`` at every step costs a little time per step there.)

    At the end of every epoch ``logs["dt"]`` holds the value in use, so it
    appears in the ``History``. The variable keeps its last value after ``fit``
    (``predict`` then uses it).

    Args:
        dt: the scalar ``keras.Variable`` (non-trainable) the layers read; on
            TensorFlow a ``tf.Variable`` is accepted too.
        scheduler: the schedule, as above; its values must be positive and finite.
        verbose: print the new value when an epoch schedule changes it, or the
            value at the end of each epoch for a step schedule.
    """

    def __init__(self, dt, scheduler, verbose=False):
        super().__init__()
        if not is_variable(dt):
            raise TypeError(
                "DtScheduler: dt must be the keras.Variable that the layers were given "
                "as their dt, e.g. dt = keras.Variable(0.001, trainable=False); got "
                f"{dt!r}."
            )
        if tuple(dt.shape) != ():
            raise ValueError(
                f"DtScheduler: dt must be a scalar variable, got shape {tuple(dt.shape)}."
            )
        if not callable(scheduler):
            raise TypeError(
                "DtScheduler: scheduler must be callable, as scheduler(epoch, dt) -> dt "
                f"or a keras.optimizers.schedules.LearningRateSchedule; got {scheduler!r}."
            )
        if not isinstance(verbose, (bool, int)):
            raise TypeError(f"DtScheduler: verbose must be True or False, got {verbose!r}.")
        self.dt = dt
        self.scheduler = scheduler
        self.verbose = bool(verbose)
        self.kind = _schedule_kind(scheduler)
        self._value = None  # what we last assigned (JAX clears variables during an epoch)
        self._epoch = 0
        self._steps_seen = 0

    def _new_value(self, raw, where):
        try:
            value = variable_value(raw)
        except (TypeError, ValueError):
            raise TypeError(
                f"DtScheduler: the scheduler returned {raw!r} at {where}; it must return "
                "a number (the new dt in seconds)."
            ) from None
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"DtScheduler: the scheduler returned dt={value!r} at {where}; dt must "
                "be positive and finite."
            )
        return value

    def _assign(self, value):
        if value == self._value:
            return
        # On JAX, fit keeps the model's variables outside them during an epoch;
        # write that state back first, so that the next step reads it all again
        # together with the new dt.
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()
        self.dt.assign(value)
        self._value = value

    def on_train_begin(self, logs=None):
        self._value = variable_value(self.dt)
        self._steps_seen = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        if self.kind != "epoch":
            return
        value = self._new_value(self.scheduler(epoch, self._value), f"epoch {epoch}")
        changed = value != self._value
        self._assign(value)
        if self.verbose and changed:
            print(f"\nDtScheduler: epoch {epoch + 1}: dt set to {value:.6g} s.")

    def on_train_batch_begin(self, batch, logs=None):
        if self.kind != "step":
            return
        steps = (self.params or {}).get("steps")
        step = self._epoch * steps + batch if steps else self._steps_seen
        self._steps_seen += 1
        self._assign(self._new_value(self.scheduler(step), f"step {step}"))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["dt"] = self._value
        if self.verbose and self.kind == "step":
            print(f"\nDtScheduler: epoch {epoch + 1}: dt = {self._value:.6g} s at its end.")
