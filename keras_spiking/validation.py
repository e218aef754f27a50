"""Argument checks shared by all layers: one clear message format.

Every message names the owner (a layer name or function), the argument, the
value it got, and what would be accepted.
"""

import numbers
import sys

import numpy as np


def _describe(value):
    return f"{value!r}" if np.ndim(value) == 0 else f"an array with min {np.min(value)!r}"


def check_number(owner, name, value, *, low=None, high=None, low_open=False,
                 high_open=False, allow_array=False):
    """Check that ``value`` (a number, or an array of them) lies in a range.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open``. Returns the
    value unchanged (arrays as float numpy arrays) so checks can be inlined.
    """
    if allow_array and not isinstance(value, numbers.Number):
        try:
            arr = np.asarray(value, dtype="float64")
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.size == 0:
            raise TypeError(
                f"{owner}: {name} must be a number or an array of numbers, got {value!r}."
            )
        values = arr
    else:
        if isinstance(value, bool) or not isinstance(value, numbers.Number):
            raise TypeError(f"{owner}: {name} must be a number, got {value!r}.")
        values = np.asarray(float(value))
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{owner}: {name} must be finite, got {_describe(value)}.")
    bad = np.zeros(values.shape, bool)
    if low is not None:
        bad |= values <= low if low_open else values < low
    if high is not None:
        bad |= values >= high if high_open else values > high
    if np.any(bad):
        lo = "" if low is None else ("> " if low_open else ">= ") + f"{low}"
        hi = "" if high is None else ("< " if high_open else "<= ") + f"{high}"
        need = " and ".join(part for part in (lo, hi) if part)
        shown = value if np.ndim(value) == 0 else values[bad].ravel()[:3].tolist()
        raise ValueError(f"{owner}: {name} must be {need}, got {shown!r}.")
    return value if np.ndim(value) == 0 else values


def check_choice(owner, name, value, choices):
    """Check that ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(
            f"{owner}: {name} must be one of {tuple(choices)}, got {value!r}."
        )
    return value


def check_seed(owner, seed):
    """Check that a random seed is None or an integer (not a bool or a float)."""
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{owner}: seed must be None or an integer, got {seed!r}.")
    return seed


def check_bool(owner, name, value):
    """Check that ``value`` is True or False (not merely truthy)."""
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}.")
    return value


def check_positive_integer(owner, name, value):
    """Check that ``value`` is an integer >= 1 (not a bool); returns it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an integer >= 1, got {value!r}.")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}.")
    return int(value)


def check_finite_weights(owner, layer, name, values):
    """Check that a weight array holds only finite numbers (a NaN or Inf would
    silently spoil every result computed from it)."""
    values = np.asarray(values)
    bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
    if bad:
        raise ValueError(
            f"{owner}: layer {layer!r} weight {name!r} has {bad} of {np.size(values)} "
            "entries non-finite (NaN or Inf). Fix the training (or set those entries) "
            "so that every weight is finite first."
        )
    return values


def check_numeric(owner, name, value):
    """Check that ``value`` is a number or a numeric array / tensor (not a
    string, bool or None, which would fail later with an unclear message)."""
    dtype = getattr(value, "dtype", None)
    if dtype is not None and not isinstance(value, (str, bytes)):
        import keras

        try:
            kind = np.dtype(keras.backend.standardize_dtype(dtype)).kind
        except (TypeError, ValueError):
            kind = "O"
        if kind in "iuf":
            return value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        return value
    raise TypeError(f"{owner}: {name} must be a number (or a numeric array), got "
                    f"{value!r}.")


# ---------------------------------------------------------------------------------------
# non-finite data (the package's policy; README "Non-finite data")
# ---------------------------------------------------------------------------------------

#: Read through ``keras_spiking.default.check_numerics`` (set it there).
CHECK_NUMERICS = [True]


class NonFiniteError(ValueError):
    """Data holding NaN or Inf reached a layer or tool that needs numbers."""


def is_concrete(x):
    """True if ``x`` holds values now (numpy, an eager tensor), False for a
    symbolic or traced tensor (inside ``fit``/``predict``'s compiled step)."""
    if isinstance(x, (np.ndarray, np.generic, numbers.Number)):
        return True
    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(x, tf.Tensor):
        return tf.executing_eagerly() and hasattr(x, "numpy")
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(x, jax.Array):
        return not isinstance(x, jax.core.Tracer)
    return False


class RefusesText:
    """Layer mixin: text inputs raise ``check_text``'s TypeError, naming the layer,
    before Keras converts them (on JAX that conversion fails with its own error)."""

    def __call__(self, *args, **kwargs):
        if args:
            check_text(self.name, "inputs", args[0])
        return super().__call__(*args, **kwargs)


def check_text(owner, name, x):
    """Refuse string / bytes / object data (checked on the static dtype: free in
    compiled graphs)."""
    dtype = getattr(x, "dtype", None)
    if isinstance(x, (str, bytes)):
        kind = "U"
    elif isinstance(dtype, np.dtype):
        kind = dtype.kind
    elif dtype is not None:
        kind = "U" if str(dtype).replace("tf.", "").replace("<dtype: '", "").startswith(
            "string") else None
    else:
        kind = None
    if kind in ("U", "S", "O"):
        raise TypeError(f"{owner}: {name} must be numbers, got data of dtype {dtype} "
                        "(text); convert it to a float array first.")
    return x


def check_finite_data(owner, name, x):
    """Raise ``NonFiniteError`` if concrete data ``x`` (an array or an eager
    tensor; a list of them) holds NaN or Inf; symbolic/traced tensors and
    ``keras_spiking.default.check_numerics = False`` skip the check."""
    if not CHECK_NUMERICS[0]:
        return x
    for part in x if isinstance(x, (list, tuple)) else (x,):
        if not is_concrete(part):
            continue
        values = np.asarray(part)
        if values.dtype.kind != "f" or np.all(np.isfinite(values)):
            continue
        nan = int(np.count_nonzero(np.isnan(values)))
        inf = int(np.count_nonzero(np.isinf(values)))
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(values))[0])
        raise NonFiniteError(
            f"{owner}: {name} holds {nan} NaN and {inf} Inf of {values.size} values "
            f"(first at index {first}); NaN/Inf have no meaning as currents, rates or "
            "spikes. Clean the data (e.g. np.nan_to_num) or, to skip this "
            "check, set keras_spiking.default.check_numerics = False.")
    return x


def check_model_data(owner, name, data, shapes, example="x_test[:100]"):
    """``data`` (an array, or one per model input) as float32 arrays shaped
    ``(samples, *shape)`` for each expected ``shape`` (None: any size); text,
    empty data and wrong shapes raise naming ``owner`` and ``name``, NaN/Inf
    raise ``NonFiniteError`` (see ``check_finite_data``)."""
    arrays = list(data) if isinstance(data, (list, tuple)) and len(shapes) > 1 else [data]
    if len(arrays) != len(shapes):
        raise ValueError(f"{owner}: {name} has {len(arrays)} arrays but the model has "
                         f"{len(shapes)} inputs; pass one array per input.")
    out = []
    for a, shape in zip(arrays, shapes):
        a = np.asarray(check_text(owner, name, np.asarray(a)))
        shape = tuple(shape)
        fits = a.ndim == len(shape) + 1 and all(
            d is None or d == n for d, n in zip(shape, a.shape[1:]))
        if not fits:
            raise ValueError(
                f"{owner}: {name} must be shaped (samples, *{shape}) like the model's "
                f"input, got {a.shape}. Pass e.g. {example}.")
        if a.shape[0] == 0:
            raise ValueError(f"{owner}: {name} holds no samples (shape {a.shape}); "
                             "pass at least one.")
        out.append(check_finite_data(owner, name, np.asarray(a, "float32")))
    return out
