"""Package-wide defaults, and how layers turn their ``dt`` argument into a step length.

``keras_spiking.default`` holds the defaults that layers read when an argument
is left as ``None``; today that is ``dt``, the simulated time of one step in
seconds (0.001 s unless you change it)::

    keras_spiking.default.dt = 0.01          # from now on
    with keras_spiking.default(dt=0.01):     # only inside the block
        layer = ...

A layer resolves ``dt`` once, when it is constructed (``resolve_dt``): changing
the default later does not change layers that already exist. To change ``dt``
while a model trains, pass the same non-trainable ``keras.Variable`` to the
layers and to ``keras_spiking.callbacks.DtScheduler``: a variable is kept as
is, so the layers read its current value at every call.
"""

import contextlib
import math
import numbers
import os
import sys

import keras
import numpy as np

from keras_spiking import validation
from keras_spiking.validation import check_bool, check_number

#: dt, in seconds, when nothing else is set.
DEFAULT_DT = 0.001


def _check_default_dt(value):
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        raise TypeError(
            "keras_spiking.default.dt must be a number of seconds (e.g. 0.001), "
            f"got {value!r}."
        )
    if not (math.isfinite(value) and value > 0):
        raise ValueError(
            "keras_spiking.default.dt must be a positive finite number of seconds "
            f"(e.g. 0.001), got {value!r}."
        )
    return float(value)


class DefaultManager:
    """The package defaults; use the instance ``keras_spiking.default``.

    Attributes:
        dt: simulated time of one step in seconds (> 0, finite), used by layers
            constructed with ``dt=None``. Setting it checks the value.
        check_numerics: True (default): data holding NaN or Inf raise
            ``validation.NonFiniteError`` in eager layer calls and at the public
            tools (``convert``'s calibration data, ``verify``,
            ``evaluate_timesteps``, ``ModelEnergy``); compiled steps (``fit``,
            ``predict``) are never checked. False skips these checks.
        xla_time_loops: compile inference time loops with XLA on TensorFlow.
        fused_kernels: run the neurons ``keras_spiking.kernels`` covers as one
            fused TensorFlow op on CPU (default True); False also turns off
            ``event_conv`` and JAX's mask-gradient max pooling (``kernels.window_max``).
        event_conv: compute a ``TimeFold(Conv2D)`` over sparse inputs with the
            event-driven convolution of ``keras_spiking.kernels`` on CPU
            (default True; the same numbers as Keras's to float32 rounding).

    Calling the manager, or its ``context`` method, with new values gives a
    context manager that sets them for the ``with`` block and then restores the
    previous values, also when the block raises::

        with keras_spiking.default(dt=0.005):
            lowpass = keras_spiking.layers.Lowpass(0.01)   # dt = 0.005
    """

    _settings = ("dt", "check_numerics", "xla_time_loops", "fused_kernels", "event_conv")

    def __init__(self, dt=DEFAULT_DT, check_numerics=True, xla_time_loops=False,
                 fused_kernels=True, event_conv=True):
        self.dt = dt
        self.check_numerics = check_numerics
        self.xla_time_loops = xla_time_loops
        self.fused_kernels = fused_kernels
        self.event_conv = event_conv

    @property
    def fused_kernels(self):
        """Run the time loops of neurons that ``keras_spiking.kernels`` covers as one
        fused TensorFlow op on CPU (default True; same spikes, faster). Takes
        precedence over ``xla_time_loops`` for those neurons. False also turns
        off ``event_conv``."""
        return self._fused_kernels

    @fused_kernels.setter
    def fused_kernels(self, value):
        self._fused_kernels = check_bool("keras_spiking.default", "fused_kernels", value)

    @property
    def event_conv(self):
        """Compute ``TimeFold(Conv2D)`` over sparse inputs (spikes) with the
        event-driven convolution (``keras_spiking.kernels.event_conv``; default
        True, needs ``fused_kernels``): the same numbers as Keras's ``Conv2D`` to
        float32 rounding, faster at low density."""
        return self._event_conv

    @event_conv.setter
    def event_conv(self, value):
        self._event_conv = check_bool("keras_spiking.default", "event_conv", value)

    @property
    def xla_time_loops(self):
        """Compile inference time loops with XLA on TensorFlow."""
        return self._xla_time_loops

    @xla_time_loops.setter
    def xla_time_loops(self, value):
        self._xla_time_loops = check_bool("keras_spiking.default", "xla_time_loops", value)

    @property
    def check_numerics(self):
        """Refuse NaN/Inf data in eager calls and at the public tools."""
        return validation.CHECK_NUMERICS[0]

    @check_numerics.setter
    def check_numerics(self, value):
        validation.CHECK_NUMERICS[0] = check_bool(
            "keras_spiking.default", "check_numerics", value)

    @property
    def dt(self):
        """Simulated time of one step, in seconds."""
        return self._dt

    @dt.setter
    def dt(self, value):
        self._dt = _check_default_dt(value)

    @contextlib.contextmanager
    def context(self, **settings):
        """Set ``settings`` (e.g. ``dt=0.01``) inside a ``with`` block only."""
        unknown = sorted(set(settings) - set(self._settings))
        if unknown:
            raise TypeError(
                f"keras_spiking.default: unknown setting(s) {unknown}; the settings "
                f"are {list(self._settings)}."
            )
        previous = {name: getattr(self, name) for name in settings}
        for name, value in settings.items():  # validated here, before the block runs
            setattr(self, name, value)
        try:
            yield self
        finally:
            for name, value in previous.items():
                setattr(self, name, value)

    def __call__(self, **settings):
        """Same as ``context``: ``with keras_spiking.default(dt=0.01): ...``."""
        return self.context(**settings)

    def reset(self):
        """Restore the package defaults (``dt = 0.001``, ``check_numerics = True``,
        ``xla_time_loops = False``, ``fused_kernels = True``, ``event_conv = True``)."""
        self.dt = DEFAULT_DT
        self.check_numerics = True
        self.xla_time_loops = False
        self.fused_kernels = True
        self.event_conv = True

    def __repr__(self):
        return (f"DefaultManager(dt={self.dt!r}, check_numerics={self.check_numerics!r}, "
                f"xla_time_loops={self.xla_time_loops!r}, "
                f"fused_kernels={self.fused_kernels!r}, event_conv={self.event_conv!r})")


#: The package defaults (``keras_spiking.default``).
default = DefaultManager()


def env_switch(name):
    """False if the environment variable ``name`` is 0 / false / no / off; True
    otherwise (also when it is unset): the package's on/off switches
    (``KERAS_SPIKING_FUSED``, ``KERAS_SPIKING_XLA_FLAGS``)."""
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


def is_variable(value):
    """True for a ``keras.Variable``, or a ``tf.Variable`` when TensorFlow is loaded."""
    if isinstance(value, keras.Variable):
        return True
    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(value, tf.Variable)


def variable_value(variable):
    """The current value of a scalar variable (or number) as a Python float."""
    return float(np.asarray(keras.ops.convert_to_numpy(variable)))


def resolve_dt(owner, dt):
    """The step length a layer should keep for its ``dt`` argument.

    Args:
        owner: the layer's name, for error messages.
        dt: ``None``: ``keras_spiking.default.dt`` as it is now (at construction
            time; later changes of the default do not affect this layer).
            A number: checked (> 0, finite) and returned as a float.
            A non-trainable scalar ``keras.Variable`` (or, on TensorFlow, a
            ``tf.Variable``): returned as is, so the layer reads its value at
            every call. Store it as a layer attribute (``self.dt = ...``) so that
            Keras tracks it as a non-trainable weight: the JAX backend passes only
            tracked variables into a compiled training step. This is how
            ``keras_spiking.callbacks.DtScheduler`` changes ``dt`` during ``fit``.
            A tracked variable is one of the layer's weights and is saved with
            them: a layer whose ``get_config`` stores ``dt_for_config(dt)`` (a
            float) must leave it out of ``save_own_variables`` /
            ``load_own_variables``, or reloading fails ("expected 0 variables").

    In ``call``, use ``ops.cast(self.dt, inputs.dtype)``: it works for both.
    """
    if dt is None:
        return default.dt
    if is_variable(dt):
        if tuple(dt.shape) != ():
            raise ValueError(
                f"{owner}: a dt variable must be a scalar, got one of shape "
                f"{tuple(dt.shape)}."
            )
        if isinstance(dt, keras.Variable) and dt.trainable:
            raise ValueError(
                f"{owner}: the dt variable {dt.path!r} is trainable, so the optimizer "
                "would change it; create it with keras.Variable(0.001, "
                "trainable=False)."
            )
        value = variable_value(dt)
        if not (math.isfinite(value) and value > 0):
            raise ValueError(
                f"{owner}: dt must be > 0 and finite, got a variable holding {value!r}."
            )
        return dt
    if isinstance(dt, bool) or not isinstance(dt, numbers.Number):
        raise TypeError(
            f"{owner}: dt must be a number of seconds, None (keras_spiking.default.dt, "
            f"now {default.dt!r}) or a non-trainable keras.Variable, got {dt!r}."
        )
    return float(check_number(owner, "dt", dt, low=0, low_open=True))


def dt_for_config(dt):
    """``dt`` as a float for a layer's ``get_config``.

    A variable is saved as its current value: the reloaded layer has a fixed
    ``dt`` (the one at save time) and no longer follows the variable.
    """
    return variable_value(dt) if is_variable(dt) else float(dt)
