"""Property-style battery: every public layer and function, each kind of bad input.

``ENTRIES`` is the one list: a new layer or function is checked by adding it
there. Each entry is fed each kind in ``KINDS`` (NaN, Inf, NaN inside a
compiled ``predict``, T = 0, T = 1, wrong rank, text, integers, an empty
batch), and the outcome is one of

* ``clear``: our error class, or a ValueError/TypeError whose own message (not
  Keras' "Exception encountered when calling ..." wrapper) names the entry;
* ``correct``: a result that passes the kind's oracle (T = 1 equals the first
  step of a longer run; integers give the float result; an empty batch gives
  an empty result of the right shape; NaN where NaN is the documented answer);
* ``unclear``: any other exception; ``silent NaN``: NaN/Inf out where an error
  or a number was due; ``silent wrong``: a finite result that fails the oracle.

``pytest -s tests/test_bad_input_battery.py`` prints the counts.
"""

import collections
import dataclasses
import re

import numpy as np
import pytest

import keras

import keras_spiking
from keras_spiking import encoders, layers as L, losses, metrics, regularizers
from keras_spiking.converters import (
    ConversionError,
    convert,
    evaluate_timesteps,
    quantize_weights,
    verify,
)
from keras_spiking.datasets import DataIntegrityError, DataNotFoundError
from keras_spiking.validation import NonFiniteError

OURS = (NonFiniteError, ConversionError, DataIntegrityError, DataNotFoundError)
KINDS = ("nan", "inf", "nan_compiled", "T=0", "T=1", "wrong_rank", "text", "int",
         "empty_batch")
OUTCOMES = ("clear", "correct", "unclear", "silent NaN", "silent wrong")
COUNTS = collections.Counter()
RESULTS = {}


@dataclasses.dataclass
class Entry:
    """One public layer or function.

    ``make(T)`` returns ``(owner, f)``: the name its errors must give and a
    callable of one array. ``shape`` is a good input's shape with the time axis
    (if ``timed``) holding T; ``T`` is also the ``timesteps`` of encoders and
    tools. ``nan``: "error" (the policy) or "propagate" (NaN out is correct);
    ``inf``: "error", "propagate" or "finite" (a finite answer is correct:
    ``lif_rate(inf)``, a spike time of inf). ``elementwise``: any rank is a
    valid input (values compared elementwise); ``any_rank``: a rank-1 input
    (a batch of scalars) is valid. ``layer``: ``f`` is a Keras layer (run
    ``nan_compiled``). T = 0 and T = 1 run for ``timed`` or ``uses_T`` entries;
    ``causal``: T = 1 must equal the first step of a longer run (default:
    timed layers). ``fresh``: each call draws anew (random initial state), so
    references come from a new instance with the same seed.
    """

    name: str
    make: object
    shape: tuple
    timed: bool = True
    nan: str = "error"
    inf: str = "error"
    elementwise: bool = False
    layer: bool = True
    kinds: tuple = KINDS
    uses_T: bool = False
    causal: object = None
    any_rank: bool = False
    fresh: bool = False
    low: float = 0.5
    high: float = 2.0


def data(shape, low, high, seed=0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype("float32")


def own_message(error):
    """The message of ``error`` without Keras' layer-call wrapper."""
    text = str(error)
    inner = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, re.S)
    return inner.group(1) if inner else text


def snake(name):
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()


def classify_error(owners, error):
    if isinstance(error, OURS):
        return "clear"
    text = own_message(error).lower()
    if isinstance(error, (ValueError, TypeError, FileNotFoundError)) and any(
            o.lower() in text for o in owners):
        return "clear"
    return "unclear"


def numbers(y):
    y = y if isinstance(y, (list, tuple)) else [y]
    return [np.asarray(keras.ops.convert_to_numpy(v), "float64") for v in y]


def finite(y):
    return all(np.all(np.isfinite(v)) for v in numbers(y))


def close(a, b):
    a, b = numbers(a), numbers(b)
    return len(a) == len(b) and all(
        u.shape == v.shape and np.allclose(u, v, rtol=1e-5, atol=1e-6, equal_nan=True)
        for u, v in zip(a, b))


def run(entry, kind):
    """The outcome of one entry on one kind (see the module docstring)."""
    T = 0 if kind == "T=0" else 1 if kind == "T=1" else 4
    shape = list(entry.shape)
    if entry.timed:
        shape[1] = T
    good = data(tuple(shape), entry.low, entry.high)
    reference = None
    owners = [entry.name, snake(entry.name)]
    try:
        owner, f = entry.make(T)
        owners.append(owner)
        if isinstance(f, keras.Model):  # an error may name one of its layers
            owners += [f"{lay.name}:" for lay in f.layers]
        if kind in ("nan", "inf", "nan_compiled"):
            x = good.copy()
            x.flat[1] = np.nan if kind != "inf" else np.inf
            if kind == "nan_compiled":
                model = keras.Sequential([keras.Input(x.shape[1:]), f])
                y = model.predict(x, verbose=0)
            else:
                y = f(x)
        elif kind == "T=0":
            y = f(good)
        elif kind == "T=1":
            y = f(good)
            if entry.causal:  # the first step of a longer run
                f_long = f if entry.timed and not entry.fresh else entry.make(4)[1]
                longer = np.concatenate([good, data(good.shape, entry.low, entry.high, 1)
                                         .repeat(3, axis=1)], axis=1)
                reference = [v[:, :1] for v in numbers(f_long(longer))]
        elif kind == "wrong_rank":
            x = good.reshape((-1,) + good.shape[2:]) if entry.timed else good[0]
            y = f(x)
            if entry.elementwise:
                reference = numbers(f(x.reshape((1,) + x.shape)))
                reference = [v.reshape(np.shape(numbers(y)[0])) for v in reference]
        elif kind == "text":  # numbers as text (a CSV read as strings)
            y = f(good.astype(str))
            reference = (entry.make(T)[1] if entry.fresh else f)(good.astype(str).astype("float32"))
        elif kind == "int":
            x = np.round(good * 2).astype("int32")
            y = f(x)
            reference = (entry.make(T)[1] if entry.fresh else f)(x.astype("float32"))
        elif kind == "empty_batch":
            y = f(good[:0])
            reference = (entry.make(T)[1] if entry.fresh else f)(good)
    except Exception as error:  # noqa: BLE001 (the battery classifies every error)
        return classify_error(owners, error)
    if kind in ("nan", "inf", "nan_compiled"):
        expected = entry.nan if kind != "inf" else entry.inf
        if kind == "nan_compiled":
            expected = "propagate"  # compiled steps are not checked: NaN must show
        if finite(y):
            return "correct" if expected == "finite" else "silent wrong"
        return "correct" if expected in ("propagate", "finite") else "silent NaN"
    if not finite(y) and kind != "text":
        return "silent NaN"
    if kind == "T=0":
        ys = numbers(y)
        return "correct" if all(0 in v.shape for v in ys) else "silent wrong"
    if kind == "T=1":
        ys = numbers(y)
        if not entry.causal:  # a reduction (loss, metric) or a static input
            return "correct"
        if reference is None:
            return "correct" if all(v.ndim >= 2 and v.shape[1] == 1 for v in ys) \
                else "silent wrong"
        return "correct" if close(ys, reference) else "silent wrong"
    if kind == "wrong_rank":
        if entry.any_rank:
            return "correct" if numbers(y)[0].shape[0] == len(x) else "silent wrong"
        return "correct" if reference is not None and close(y, reference) else "silent wrong"
    if kind == "text":  # Keras parses numeric text into floats: correct if it did
        return "correct" if close(y, reference) else "silent wrong"
    if kind == "int":
        return "correct" if close(y, reference) else "silent wrong"
    if kind == "empty_batch":
        ys, refs = numbers(y), numbers(reference)
        ok = all(v.shape[1:] == r.shape[1:] and v.shape[0] == 0 for v, r in zip(ys, refs))
        return "correct" if ok or all(v.size == 0 for v in ys) else "silent wrong"
    raise AssertionError(kind)


# -- the list -----------------------------------------------------------------------------

def layer(cls, **kwargs):
    def make(T):
        f = cls(**kwargs)
        return f.name, f
    return make


def fn(name, f):
    def make(T):
        return name, lambda x: f(x, T)
    return make


def _ann():
    keras.utils.set_random_seed(3)
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(6, activation="relu"),
                             keras.layers.Dense(3)], name="battery_ann")


ANN = _ann()
SNN = convert(ANN, calibration_data=data((16, 5), 0, 1), timesteps=4, static_input=True)
SNN_ANY = convert(ANN, calibration_data=data((16, 5), 0, 1))  # (batch, time, 5)


def _labels(x):
    return np.arange(len(x)) % 3


NIR_MODEL = []


def _nir_model():
    if not NIR_MODEL:
        pytest.importorskip("nir")
        from keras_spiking.converters import export_nir, import_nir

        keras.utils.set_random_seed(4)
        model = keras.Sequential([keras.Input((None, 3)), keras.layers.Dense(4),
                                  L.Leaky(beta=0.9, reset="zero")], name="nir_source")
        NIR_MODEL.append(import_nir(export_nir(model, dt=0.001)))
    return NIR_MODEL[0]


def _quantize(x, T):
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(5)], name="q_model")
    model.layers[0].kernel.assign(x)
    quantized, _ = quantize_weights(model, bits=8)
    return quantized.layers[0].kernel


def _convert(x, T):
    snn = convert(ANN, calibration_data=x, timesteps=T, static_input=True)
    return snn(np.ones((1, 5), "float32"))


def _sequence_loss(cls):
    def make(T):
        loss = cls()
        return loss.name, lambda y: loss(_labels(y), y)
    return make


TIMED = (3, 4, 5)
STATIC = (3, 5)
ENTRIES = [
    Entry("Leaky", layer(L.Leaky, beta=0.9), TIMED),
    Entry("Synaptic", layer(L.Synaptic, alpha=0.5, beta=0.9), TIMED),
    Entry("RLeaky", layer(L.RLeaky, beta=0.9), TIMED),
    Entry("RSynaptic", layer(L.RSynaptic, alpha=0.5, beta=0.9), TIMED),
    Entry("IF", layer(L.IF), TIMED),
    Entry("SpikingIF", layer(L.SpikingIF), TIMED),
    Entry("SpikingLIF", layer(L.SpikingLIF), TIMED),
    Entry("SpikingActivation", layer(L.SpikingActivation, activation="relu", seed=2), TIMED,
          fresh=True),
    Entry("ContinuousLIF", layer(L.ContinuousLIF, tau=0.02), TIMED),
    Entry("Lowpass", layer(L.Lowpass, tau=0.01), TIMED),
    Entry("Alpha", layer(L.Alpha, tau=0.01), TIMED),
    Entry("LIFRate", layer(L.LIFRate), STATIC, timed=False, elementwise=True),
    Entry("SoftLIF", layer(L.SoftLIF), STATIC, timed=False, elementwise=True),
    Entry("TimeFold", layer(L.TimeFold, layer=keras.layers.Dense(2)), TIMED,
          nan="propagate", inf="propagate"),
    Entry("RepeatTime", lambda T: (lambda f: (f.name, f))(L.RepeatTime(T)),
          STATIC, timed=False, uses_T=True, any_rank=True, nan="propagate", inf="propagate"),
    Entry("SpikeMaxPool", lambda T: (lambda f: (f.name, f))(L.SpikeMaxPool(
        keras.layers.MaxPooling1D(2))), (3, 4, 4, 2)),
    Entry("SpikeTimeDense", layer(L.SpikeTimeDense, units=2), STATIC, timed=False,
          inf="finite", low=0.1, high=1.0),
    Entry("RateEncoder", lambda T: (lambda f: (f.name, f))(encoders.RateEncoder(T, seed=1)),
          STATIC, timed=False, uses_T=True, any_rank=True, low=0.0, high=1.0),
    Entry("LatencyEncoder", lambda T: (lambda f: (f.name, f))(encoders.LatencyEncoder(T)),
          STATIC, timed=False, uses_T=True, any_rank=True, low=0.0, high=1.0),
    Entry("DeltaEncoder", layer(encoders.DeltaEncoder), TIMED, any_rank=True),
    Entry("direct", fn("direct", encoders.direct), STATIC, timed=False, uses_T=True,
          any_rank=True, layer=False, nan="propagate", inf="propagate"),
    Entry("rate", fn("rate", lambda x, T: encoders.rate(x, T, seed=1)), STATIC,
          timed=False, uses_T=True, any_rank=True, layer=False, low=0.0, high=1.0),
    Entry("latency", fn("latency", encoders.latency), STATIC, timed=False, uses_T=True,
          any_rank=True, layer=False, low=0.0, high=1.0),
    Entry("delta", fn("delta", lambda x, T: encoders.delta(x)), TIMED, layer=False,
          causal=True, any_rank=True),
    Entry("lif_rate", fn("lif_rate", lambda x, T: keras_spiking.lif_rate(x)), STATIC,
          timed=False, layer=False, nan="propagate", inf="finite", elementwise=True),
    Entry("soft_lif_rate", fn("soft_lif_rate", lambda x, T: keras_spiking.soft_lif_rate(x)),
          STATIC, timed=False, layer=False, nan="propagate", inf="finite", elementwise=True),
    *[Entry(cls.__name__, _sequence_loss(cls), (3, 4, 3), layer=False)
      for cls in (losses.CECount, losses.CERate, losses.MSECount, losses.CEMaxMembrane,
                  losses.MSEMembrane)],
    Entry("RateAccuracy", lambda T: ("rate_accuracy", lambda y: metrics.rate_accuracy(
        _labels(y), y)), (3, 4, 3), layer=False),
    Entry("FiringRate", lambda T: ("FiringRate", regularizers.FiringRate(l1=0.01)), TIMED,
          layer=False),
    Entry("convert", fn("convert", _convert), STATIC, timed=False, uses_T=True,
          layer=False, low=0.0, high=1.0),
    Entry("verify", fn("verify", lambda x, T: verify(ANN, x)), STATIC, timed=False,
          layer=False, low=0.0, high=1.0),
    Entry("evaluate_timesteps", fn("evaluate_timesteps", lambda x, T: evaluate_timesteps(
        SNN, (x, _labels(x)), [T], verbose=0).mean[T]), STATIC, timed=False, uses_T=True,
        layer=False, low=0.0, high=1.0),
    Entry("ModelEnergy", fn("ModelEnergy", lambda x, T: keras_spiking.ModelEnergy(
        SNN, x).total_energy("loihi", T)), STATIC, timed=False, uses_T=True, layer=False,
        low=0.0, high=1.0),
    Entry("quantize_weights", fn("quantize_weights", _quantize), (5, 5), timed=False,
          layer=False, kinds=("nan", "inf")),
    # a model call is not checked (README "Non-finite data"): NaN must reach the
    # output, Inf saturates the neurons (as lif_rate(inf) does)
    Entry("converted SNN", lambda T: (SNN_ANY.name, SNN_ANY), (3, 4, 5), nan="propagate",
          inf="finite"),
    Entry("imported NIR model", lambda T: (lambda m: (m.name, m))(_nir_model()),
          (3, 4, 3), nan="propagate", inf="finite"),
]

for _e in ENTRIES:
    if _e.causal is None:
        _e.causal = _e.timed and _e.layer
CASES = [(e, k) for e in ENTRIES for k in KINDS
         if k in e.kinds and (k != "nan_compiled" or e.layer)
         and (k not in ("T=0", "T=1") or e.timed or e.uses_T)]


@pytest.fixture(autouse=True)
def _same_weights_in_any_order():
    """Each case draws its layers' weights from one seed, whatever ran before
    (SpikeTimeDense's output is inf, no spike, for some weights)."""
    keras.utils.set_random_seed(0)


@pytest.mark.parametrize("entry, kind", CASES, ids=[f"{e.name}-{k}" for e, k in CASES])
def test_bad_input(entry, kind):
    outcome = run(entry, kind)
    COUNTS[outcome] += 1
    RESULTS[entry.name, kind] = outcome
    assert outcome not in ("silent NaN", "silent wrong"), f"{entry.name}, {kind}: {outcome}"


def test_zz_counts():
    """Print the battery's counts (run with -s); at most 10 unclear errors."""
    if not RESULTS:
        pytest.skip("run the whole module to count")
    print("\nbad-input battery:", ", ".join(f"{o} {COUNTS[o]}" for o in OUTCOMES),
          f"(of {sum(COUNTS.values())} cases)")
    for (name, kind), outcome in sorted(RESULTS.items()):
        if outcome not in ("clear", "correct"):
            print(f"  {outcome}: {name}, {kind}")
    assert COUNTS["unclear"] <= 10
