"""keras_spiking.graph: the one walk over a Keras graph."""

import keras
import numpy as np
import pytest

from keras_spiking.graph import Call, GraphError, Names, calls, functional_graph, run

L = keras.layers


def names(found):
    return [call.layer.name for call in found]


def evaluate(model, *values):
    """``model`` on ``values`` by interpreting its graph layer by layer."""
    def fn(call, inputs):
        return call.layer(inputs if len(inputs) > 1 else inputs[0])

    return run(model, [np.asarray(v, "float32") for v in values], fn)


def test_sequential():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, name="a"), L.ReLU(name="b")])
    found = calls(model)
    assert names(found) == ["a", "b"]
    assert all(isinstance(c, Call) for c in found)
    assert found[1].input_ids == found[0].output_ids
    assert found[0].uses == (1,) and found[1].uses == (1,)  # the output counts once
    x = np.ones((2, 3), "float32")
    (y,) = evaluate(model, x)
    np.testing.assert_allclose(y, model(x), atol=1e-6)


def test_built_sequential_without_input():
    model = keras.Sequential([L.Dense(2, name="d")])
    model.build((None, 5))
    assert names(calls(model)) == ["d"]


def test_functional_branch_and_merge_in_topological_order():
    inp = keras.Input((4,))
    trunk = L.Dense(3, name="trunk")(inp)
    left = L.ReLU(name="left")(trunk)
    right = L.Dense(3, name="right")(trunk)
    out = L.Add(name="add")([left, right])
    model = keras.Model(inp, out)
    found = calls(model)
    order = names(found)
    assert order[0] == "trunk" and order[-1] == "add"
    assert sorted(order[1:3]) == ["left", "right"]
    by_name = {c.layer.name: c for c in found}
    assert by_name["trunk"].uses == (2,)  # used by both branches
    assert set(by_name["add"].input_ids) == {by_name["left"].output_ids[0],
                                             by_name["right"].output_ids[0]}
    x = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    np.testing.assert_allclose(evaluate(model, x)[0], model(x), atol=1e-6)


def nested_model():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, L.Dense(2, name="inner_dense")(inner_in), name="inner")
    inp = keras.Input((3,))
    a = inner(inp)
    b = inner(L.Dense(3, name="pre")(inp))  # the nested model is called twice
    return keras.Model(inp, L.Add(name="sum")([a, b])), inner


def test_nested_model_is_inlined_per_call():
    model, _ = nested_model()
    found = calls(model)
    assert sorted(names(found)) == ["inner_dense", "inner_dense", "pre", "sum"]
    dense = [c for c in found if c.layer.name == "inner_dense"]
    assert all(c.path == ("inner",) for c in dense)
    assert dense[0].output_ids != dense[1].output_ids  # two calls, two values
    pre = next(c for c in found if c.layer.name == "pre")
    assert pre.output_ids[0] in {c.input_ids[0] for c in dense}  # across the boundary
    total = next(c for c in found if c.layer.name == "sum")
    assert set(total.input_ids) == {c.output_ids[0] for c in dense}
    x = np.random.default_rng(1).normal(size=(2, 3)).astype("float32")
    np.testing.assert_allclose(evaluate(model, x)[0], model(x), atol=1e-6)


def test_nested_model_as_one_call():
    model, inner = nested_model()
    assert [c.layer for c in calls(model, inline=False)].count(inner) == 2
    kept = calls(model, inline=lambda nested: nested.name != "inner")
    assert [c.layer for c in kept].count(inner) == 2
    assert "inner_dense" not in names(kept)


def test_uses_count_consumers_across_nested_models():
    inner_in = keras.Input((3,))
    inner = keras.Model(inner_in, L.Dense(3, name="d")(inner_in))
    inp = keras.Input((3,))
    y = inner(inp)
    model = keras.Model(inp, [L.ReLU(name="r1")(y), L.ReLU(name="r2")(y)])
    (dense,) = [c for c in calls(model) if c.layer.name == "d"]
    assert dense.uses == (2,)  # one output of the inner model, used twice outside


def test_shared_layer_gives_two_calls():
    dense = L.Dense(3, name="shared")
    inp = keras.Input((3,))
    model = keras.Model(inp, dense(dense(inp)))
    found = calls(model)
    assert [c.layer for c in found] == [dense, dense]
    assert found[1].input_ids == found[0].output_ids
    x = np.ones((1, 3), "float32")
    np.testing.assert_allclose(evaluate(model, x)[0], model(x), atol=1e-6)


def test_two_inputs_two_outputs():
    a, b = keras.Input((2,), name="a"), keras.Input((2,), name="b")
    total = L.Add(name="add")([a, b])
    model = keras.Model([a, b], [L.Dense(1, name="d")(total), total])
    found = calls(model)
    assert names(found) == ["add", "d"]
    assert found[0].uses == (2,)  # the Dense and the model output
    x = np.ones((3, 2), "float32")
    got = evaluate(model, x, 2 * x)
    expected = model([x, 2 * x])
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, atol=1e-6)
    with pytest.raises(ValueError, match="2 inputs, got 1"):
        run(model, [x], lambda call, values: values)


def test_run_checks_the_number_of_output_values():
    model = keras.Sequential([keras.Input((2,)), L.Dense(1, name="d")])
    with pytest.raises(ValueError, match="'d' has 1 outputs but 2 values"):
        run(model, [0], lambda call, values: [1, 2], owner="test")


class Subclassed(keras.Model):
    def call(self, x):
        return x


def test_models_without_a_graph():
    with pytest.raises(GraphError, match=r"mine: model .*Sequential.*keras.Input"):
        functional_graph(keras.Sequential([L.Dense(2)]), "mine")
    with pytest.raises(GraphError, match="subclassed model"):
        calls(Subclassed())

    class Mine(ValueError):
        pass

    with pytest.raises(Mine):
        calls(keras.Sequential([L.Dense(2)]), error=Mine)
    with pytest.raises(TypeError, match="expected a keras.Model"):
        calls(L.Dense(2))


def test_names():
    unique = Names()
    assert [unique("dense"), unique("dense"), unique("dense"), unique("x")] == [
        "dense", "dense_2", "dense_3", "x"]
    assert "dense_2" in unique
    from_one = Names(taken={"in"}, first=1)
    assert [from_one("in"), from_one("in")] == ["in_1", "in_2"]
