"""The one walk over a Keras graph: layer calls in topological order.

Everything in the package that reads a model layer by layer (the converter,
the NIR exporter, ``ModelEnergy``) walks it here:

* ``functional_graph(model, owner)``: the Functional graph of a Functional
  model or of a built Sequential one (a clear error, naming ``owner``, for an
  unbuilt Sequential or a subclassed model);
* ``calls(model)``: one ``Call`` per layer call, in an order where every call
  comes after the calls that feed it. A shared layer (one layer called twice)
  gives two calls; several inputs and outputs are fine; nested models are
  inlined (their inner calls take their place) or, with ``inline=False`` or a
  predicate, kept as one call of the nested model;
* ``run(model, inputs, fn)``: an interpreter that maps each call's input
  values to its output values through ``fn(call, values)``, e.g. signals of a
  graph being rebuilt or ports of a graph being exported;
* ``Names``: unique names for the layers or nodes of a graph being built.

Each call carries ``uses``, the number of consumers of each of its outputs in
the inlined graph (the model's outputs count as consumers): "is this tensor
used only once" is what decides whether a BatchNormalization may be folded
into the layer before it.
"""

import collections
import dataclasses
import itertools

import keras


class GraphError(ValueError):
    """A model whose layer graph cannot be walked."""


def functional_graph(model, owner="graph", error=GraphError):
    """The Functional graph of ``model`` (a Functional or a built Sequential).

    Raises ``error`` (a ``ValueError`` subclass; the converter passes its
    ``ConversionError``) naming ``owner`` for a Sequential model that was never
    built on an input shape and for a subclassed model, which has no static
    graph.
    """
    if not isinstance(model, keras.Model):
        raise TypeError(f"{owner}: expected a keras.Model, got {type(model).__name__}.")
    if isinstance(model, keras.Sequential):
        functional = getattr(model, "_functional", None)
        if functional is None:
            raise error(
                f"{owner}: model '{model.name}' (Sequential) has no graph yet: it was "
                "never built on a known input shape. Start it with keras.Input(shape) "
                "or call model.build((None, *input_shape)) first.")
        return functional
    if hasattr(model, "_nodes_by_depth") and hasattr(model, "inputs"):
        return model
    raise error(
        f"{owner}: model '{model.name}' ({type(model).__name__}) is a subclassed model "
        "without a static graph, which cannot be walked. Rebuild it with the "
        "Functional API or keras.Sequential.")


@dataclasses.dataclass(frozen=True)
class Call:
    """One call of a layer in a Keras graph.

    ``inputs``/``outputs`` are the call's KerasTensors, those of the graph it
    sits in (a nested model's own tensors when it was inlined). ``input_ids``
    and ``output_ids`` number the values of the whole inlined graph: an input
    of a call has the number of the output that feeds it, across nested model
    boundaries, so equal numbers are the same value. ``uses`` counts, per
    output, its consumers in the inlined graph (a model output counts as one).
    ``path`` holds the names of the nested models the call sits in, outermost
    first (empty at the top level).
    """

    layer: object
    inputs: tuple
    outputs: tuple
    input_ids: tuple
    output_ids: tuple
    uses: tuple
    path: tuple = ()


class _Walk:
    """The inlined graph of a model: its calls and the numbers of its inputs
    and outputs (see ``Call``)."""

    def __init__(self, model, inline, owner, error):
        self.owner, self.error, self.inline = owner, error, inline
        graph = functional_graph(model, owner, error)
        self.inputs = list(graph.inputs)
        self._numbers = {}  # (scope, id(tensor)) -> value number
        self._count = itertools.count()
        self._scopes = 0
        self.input_ids = [self._new((0, id(x))) for x in self.inputs]
        found = []  # (layer, inputs, outputs, input numbers, output numbers, path)
        self.output_ids = self._add(graph, 0, (), found)
        uses = collections.Counter(self.output_ids)
        for entry in found:
            uses.update(entry[3])
        self.calls = [Call(layer, tuple(xs), tuple(ys), tuple(xi), tuple(yi),
                           tuple(uses[i] for i in yi), path)
                      for layer, xs, ys, xi, yi, path in found]

    def _new(self, key):
        self._numbers[key] = next(self._count)
        return self._numbers[key]

    def _inlines(self, layer):
        if not isinstance(layer, keras.Model):
            return False
        return self.inline(layer) if callable(self.inline) else bool(self.inline)

    def _add(self, graph, scope, path, found):
        """Add the calls of ``graph`` (its tensors keyed by ``scope``); returns
        the numbers of its outputs."""
        available = {id(x) for x in graph.inputs}
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if node.operation is None or node.is_input:
                    continue
                xs, ys = list(node.input_tensors), list(node.outputs)
                if any(id(x) not in available for x in xs):
                    continue  # not computable from the inputs (as Keras skips it)
                available.update(id(y) for y in ys)
                numbers = [self._numbers[(scope, id(x))] for x in xs]
                layer = node.operation
                if self._inlines(layer):
                    inner = functional_graph(layer, self.owner, self.error)
                    self._scopes += 1
                    sub = self._scopes
                    for x, n in zip(inner.inputs, numbers):
                        self._numbers[(sub, id(x))] = n
                    outs = self._add(inner, sub, path + (layer.name,), found)
                    for y, n in zip(ys, outs):
                        self._numbers[(scope, id(y))] = n
                    continue
                outs = [self._new((scope, id(y))) for y in ys]
                found.append((layer, xs, ys, numbers, outs, path))
        return [self._numbers[(scope, id(x))] for x in graph.outputs]


def calls(model, inline=True, *, owner="graph", error=GraphError):
    """The layer calls of ``model`` in topological order, a list of ``Call``.

    ``inline``: True (nested models are replaced by their inner calls), False
    (a nested model is one call) or a predicate ``inline(nested_model) ->
    bool``. ``owner``/``error``: who asks, and the exception raised for a model
    without a graph (see ``functional_graph``).
    """
    return _Walk(model, inline, owner, error).calls


def run(model, inputs, fn, inline=True, *, owner="graph", error=GraphError):
    """Interpret ``model``'s graph on ``inputs`` (one value per model input).

    For every ``Call`` in order, ``fn(call, values)`` receives the values of
    the call's inputs and returns the values of its outputs: a list or tuple,
    one per output, or a single value for a single output. Returns the list of
    the values of the model's outputs. ``inline`` as in ``calls``.
    """
    walk = _Walk(model, inline, owner, error)
    inputs = list(inputs)
    if len(inputs) != len(walk.input_ids):
        raise ValueError(f"{owner}: the model has {len(walk.input_ids)} inputs, "
                         f"got {len(inputs)} values.")
    values = dict(zip(walk.input_ids, inputs))
    for call in walk.calls:
        result = fn(call, [values[i] for i in call.input_ids])
        result = list(result) if isinstance(result, (list, tuple)) else [result]
        if len(result) != len(call.output_ids):
            raise ValueError(
                f"{owner}: layer '{call.layer.name}' has {len(call.output_ids)} outputs "
                f"but {len(result)} values were returned for it.")
        values.update(zip(call.output_ids, result))
    return [values[i] for i in walk.output_ids]


class Names:
    """Unique names for the layers (or nodes) of a graph being built.

    ``names(base)`` returns ``base`` the first time, then ``base_<first>``,
    ``base_<first + 1>``, ... (``first=2`` by default: dense, dense_2, ...).
    """

    def __init__(self, taken=(), first=2):
        self.taken = set(taken)
        self.first = first

    def __call__(self, base):
        base = str(base)
        name, i = base, self.first
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def __contains__(self, name):
        return name in self.taken
