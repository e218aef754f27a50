"""Targeted L1/L2, ranged and percentile regularisers against numpy references.

(``FiringRate`` is tested in tests/test_losses.py.)
"""

import keras
import numpy as np
import pytest

from keras_spiking import regularizers
from keras_spiking.regularizers import L1, L1L2, L2, Percentile, RangedRegularizer, percentile

from gradients import value_and_grads

X = np.random.default_rng(0).normal(size=(7, 4, 3)).astype("float32")


def _np(t):
    return keras.ops.convert_to_numpy(t)


def _l1l2(e, l1, l2):
    e = np.asarray(e, "float64")
    return l1 * np.abs(e).sum() + l2 * np.square(e).sum()


@pytest.mark.parametrize("q", [0, 10, 37.5, 50, 90, 99.9, 100])
@pytest.mark.parametrize("axis", [0, 1, -1, (0, 1), (0, 2), (2, 0)])
def test_percentile_matches_numpy(q, axis):
    np.testing.assert_allclose(_np(percentile(X, q, axis)), np.percentile(X, q, axis=axis),
                               rtol=1e-6, atol=1e-6)


def test_percentile_by_hand():
    # 4 values along the axis: p = q/100 * 3
    v = np.array([[3.0, 1.0, 4.0, 2.0]], "float32")   # sorted 1, 2, 3, 4
    assert _np(percentile(v, 50, axis=1)) == pytest.approx([2.5])    # p = 1.5
    assert _np(percentile(v, 25, axis=1)) == pytest.approx([1.75])   # p = 0.75
    assert _np(percentile(v, 100, axis=1)) == pytest.approx([4.0])
    assert _np(percentile(v, 0, axis=1)) == pytest.approx([1.0])
    # integers are averaged as floats
    assert _np(percentile(np.array([1, 2]), 50, axis=0)) == pytest.approx(1.5)


def test_percentile_in_a_compiled_model_with_unknown_batch():
    inp = keras.Input((4, 3))
    out = keras.layers.Lambda(lambda t: percentile(t, 30, axis=1))(inp)  # keeps the batch axis
    model = keras.Model(inp, out)
    np.testing.assert_allclose(model.predict(X, verbose=0), np.percentile(X, 30, axis=1),
                               rtol=1e-5, atol=1e-6)


def test_percentile_gradient_reaches_the_interpolated_values():
    v = np.array([[3.0, 1.0, 4.0, 2.0]], "float32")
    value, (grad,) = value_and_grads(lambda t: percentile(t, 25, axis=1), v)
    # p = 0.75: 0.25 * (smallest = 1, at index 1) + 0.75 * (second = 2, at index 3)
    assert value == pytest.approx([1.75])
    np.testing.assert_allclose(grad, [[0.0, 0.25, 0.0, 0.75]], atol=1e-6)


def test_percentile_axis_errors():
    with pytest.raises(ValueError, match=r"percentile: axis 3 is out of range for an input of rank 3"):
        percentile(X, 50, 3)
    with pytest.raises(ValueError, match="names the same axis twice"):
        percentile(X, 50, (0, -3))
    with pytest.raises(TypeError, match="axis must be an int or a tuple of ints"):
        percentile(X, 50, "0")


def test_l1l2_family_from_a_target():
    e = X.astype("float64") - 0.3
    np.testing.assert_allclose(_np(L1L2(l1=0.1, l2=0.2, target=0.3)(X)), _l1l2(e, 0.1, 0.2),
                               rtol=1e-5)
    np.testing.assert_allclose(_np(L1(target=0.3)(X)), _l1l2(e, 0.01, 0), rtol=1e-5)
    np.testing.assert_allclose(_np(L2(target=0.3)(X)), _l1l2(e, 0, 0.01), rtol=1e-5)
    np.testing.assert_allclose(_np(L2(0.5)(X)), _l1l2(X, 0, 0.5), rtol=1e-5)  # target 0: Keras' L2
    np.testing.assert_allclose(_np(L2(0.5)(X)), _np(keras.regularizers.L2(0.5)(X)), rtol=1e-6)
    assert _np(L1L2()(X)) == 0  # both weights 0


def test_band_is_free_inside_and_measured_to_the_nearest_edge_outside():
    x = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 3.0], "float32")
    # band (-0.5, 1): distances 1.5, 0, 0, 0, 0, 2
    assert _np(L1(1.0, target=(-0.5, 1))(x)) == pytest.approx(3.5)
    assert _np(L2(1.0, target=(-0.5, 1))(x)) == pytest.approx(1.5 ** 2 + 2 ** 2)
    np.testing.assert_allclose(_np(RangedRegularizer((-0.5, 1)).distance(x)),
                               [1.5, 0, 0, 0, 0, 2])
    # a point target keeps the sign (for asymmetric regularisers)
    np.testing.assert_allclose(_np(RangedRegularizer(1.0).distance(x)), x - 1.0)


def test_ranged_regularizer_wraps_any_regularizer():
    x = np.array([0.0, 2.0, 5.0], "float32")
    # default: keras L1L2(l2=0.01) of the distance outside (1, 4): 1 and 1
    assert _np(RangedRegularizer(target=(1, 4))(x)) == pytest.approx(0.01 * 2)
    reg = RangedRegularizer(target=2.0, regularizer=keras.regularizers.L1(0.5))
    assert _np(reg(x)) == pytest.approx(0.5 * (2 + 0 + 3))
    reg = RangedRegularizer(target=2.0, regularizer="l1")  # Keras' L1 default weight 0.01
    assert _np(reg(x)) == pytest.approx(0.01 * 5)
    reg = RangedRegularizer(target=2.0, regularizer=lambda e: keras.ops.sum(keras.ops.relu(e)))
    assert _np(reg(x)) == pytest.approx(3.0)  # only values above the target


@pytest.mark.parametrize("q", [100, 50, 90])
@pytest.mark.parametrize("axis", [0, (0, 1)])
def test_percentile_regularizer(q, axis):
    reg = Percentile(percentile=q, axis=axis, target=(0.2, 0.6), l1=0.3, l2=0.7)
    p = np.percentile(X.astype("float64"), q, axis=axis)
    e = np.maximum(0.2 - p, 0) + np.maximum(p - 0.6, 0)
    np.testing.assert_allclose(_np(reg(X)), _l1l2(e, 0.3, 0.7), rtol=1e-5)


def test_percentile_defaults_are_the_batch_maximum():
    reg = Percentile(l2=1.0)
    np.testing.assert_allclose(_np(reg(X)), np.square(X.max(axis=0).astype("float64")).sum(),
                               rtol=1e-5)


ALL = [
    L1L2(l1=0.1, l2=0.2, target=0.5),
    L1L2(l2=0.2, target=(0.1, 0.4)),
    L1(0.3, target=-1),
    L2(0.4, target=[0, 2]),
    RangedRegularizer(target=(0, 1), regularizer=L1(0.2, target=0.1)),
    RangedRegularizer(),
    Percentile(percentile=95, axis=(0, 1), target=(5, 10), l1=0.1, l2=0.01),
    Percentile(),
]


@pytest.mark.parametrize("reg", ALL, ids=lambda r: type(r).__name__)
def test_config_round_trip(reg):
    config = reg.get_config()
    again = type(reg).from_config(config)
    assert again.get_config() == config
    np.testing.assert_allclose(_np(again(X)), _np(reg(X)), rtol=1e-6)
    revived = keras.regularizers.deserialize(keras.regularizers.serialize(reg))
    assert type(revived) is type(reg) and revived.get_config() == config
    np.testing.assert_allclose(_np(revived(X)), _np(reg(X)), rtol=1e-6)


def test_saved_model_keeps_activity_regularizers(tmp_path):
    inp = keras.Input((4, 3))
    x = keras.layers.Dense(3, activity_regularizer=Percentile(90, target=(0, 0.5), l2=0.1))(inp)
    x = keras.layers.Dense(3, activity_regularizer=L1(0.01, target=(0.1, 0.2)))(x)
    out = keras.layers.Dense(2, activity_regularizer=RangedRegularizer(1.0, L2(0.1, target=0.5)),
                             kernel_regularizer=L2(0.01, target=0.05))(x)
    model = keras.Model(inp, out)
    model(X)
    expected = [float(_np(v)) for v in model.losses]
    assert len(expected) == 4 and all(v > 0 for v in expected)
    path = str(tmp_path / "regularized.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    for a, b in zip(model.layers[1:], loaded.layers[1:]):
        assert type(b.activity_regularizer) is type(a.activity_regularizer)
        assert b.activity_regularizer.get_config() == a.activity_regularizer.get_config()
    loaded(X)
    np.testing.assert_allclose([float(_np(v)) for v in loaded.losses], expected, rtol=1e-6)


def test_trains_with_fit():
    keras.utils.set_random_seed(1)
    inp = keras.Input((3,))
    out = keras.layers.Dense(4, activity_regularizer=Percentile(target=(0, 0.1), l2=1.0))(inp)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.SGD(1.0), loss=lambda y, p: 0.0 * keras.ops.sum(p))
    x = np.random.default_rng(2).normal(size=(32, 3)).astype("float32")
    history = model.fit(x, np.zeros((32, 4)), epochs=10, batch_size=32, verbose=0).history
    assert history["loss"][-1] < 0.1 * history["loss"][0]  # the regulariser alone


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: L1L2(l1=-0.1), ValueError, r"L1L2: l1 must be >= 0, got -0.1"),
        (lambda: L2(l2=-1), ValueError, r"L2: l2 must be >= 0, got -1"),
        (lambda: L1(l1="big"), TypeError, r"L1: l1 must be a number, got 'big'"),
        (lambda: L1L2(l1=0.1, lx=2), TypeError, r"L1L2: unexpected argument\(s\) \['lx'\]"),
        (lambda: Percentile(percentile=101), ValueError,
         r"Percentile: percentile must be >= 0 and <= 100, got 101"),
        (lambda: Percentile(percentile=-5), ValueError, r"Percentile: percentile must be >= 0"),
        (lambda: Percentile(l2=-0.5), ValueError, r"Percentile: l2 must be >= 0, got -0.5"),
        (lambda: Percentile(axis=1.5), TypeError, r"Percentile: axis must be an int"),
        (lambda: L1(target=(3, 1)), ValueError,
         r"L1: target \(low, high\) needs low <= high, got \(3, 1\)"),
        (lambda: RangedRegularizer(target=(1, 2, 3)), ValueError,
         r"RangedRegularizer: target must be a number or a \(low, high\) pair"),
        (lambda: RangedRegularizer(target="high"), TypeError,
         r"RangedRegularizer: target must be a number, got 'high'"),
        (lambda: Percentile(target=(0, "x")), TypeError,
         r"Percentile: target\[1\] \(high\) must be a number, got 'x'"),
        (lambda: L2(target=float("nan")), ValueError, r"L2: target must be finite"),
        (lambda: RangedRegularizer(regularizer=3), TypeError,
         r"RangedRegularizer: regularizer must be a Keras regularizer"),
    ],
)
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_registered_names():
    for cls in (L1L2, L1, L2, RangedRegularizer, Percentile, regularizers.FiringRate):
        assert keras.saving.get_registered_object(f"keras_spiking>{cls.__name__}") is cls
