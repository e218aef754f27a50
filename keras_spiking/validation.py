"""Argument checks shared by all layers: one clear message format.

Every message names the owner (a layer name or function), the argument, the
value it got, and what would be accepted.
"""

import numbers

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
