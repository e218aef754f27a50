"""Keras -> NIR: ``export_graph(model, dt, integration, approximate)``.

The walk over the Keras model (``walk``) hands each layer to the exporter
(``exporter.Exporter``), whose per-class rules (``export_layers.py``,
``export_neurons.py``) add NIR nodes; ``graph_ops.fold_scales`` then moves
uniform Scales into the weights after them.
"""

import keras
import numpy as np

from . import export_layers, export_neurons  # noqa: F401  (the rules: imported to register)
from . import tools
from .library import load_nir
from keras_spiking import layers as ks_layers
from keras_spiking.graph import calls, functional_graph, run
from keras_spiking.validation import check_number

from ..base import ConversionError
from .describe import describe
from .exporter import Exporter
from .graph_ops import fold_scales

nir = load_nir()

#: the step (seconds) when neither the caller nor a layer gives one
DEFAULT_DT = 0.001


def export_graph(model, dt, integration, approximate, for_tool="nir"):
    """The ``nir.NIRGraph`` of ``model`` (arguments checked by ``export_nir``;
    ``dt`` None: the layers' own), for the reading tool ``for_tool``
    (``tools.adapt``)."""
    dt = model_dt(model, dt)
    exporter = Exporter(dt, integration, approximate)
    outputs = walk(model, exporter.input, exporter.layer)
    for i, port in enumerate(outputs):
        exporter.output(port, "output" if len(outputs) == 1 else f"output_{i}")
    nodes, edges = fold_scales(exporter.nodes, exporter.edges)
    metadata = {"keras_spiking": {"dt": dt, "integration": integration,
                                  "source_model": model.name}}
    if exporter.static_inputs:  # the reader gives the static input at every step
        metadata["keras_spiking"]["static_input"] = True
    if for_tool != "nir":
        nodes, edges, tool_meta = tools.adapt(nodes, edges, exporter.origin, dt, for_tool)
        metadata["keras_spiking"].update(tool_meta)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)


def model_dt(model, dt):
    """The export's step: ``dt`` if given (checked), else the one step of the
    model's layers that have one (several raise), else ``DEFAULT_DT``."""
    found = {}
    for layer in _all_layers(model):
        description = describe(layer)
        if description is not None and description["dt"] is not None:
            found[layer.name] = float(description["dt"])
    values = sorted(set(found.values()))
    if dt is None:
        if len(values) > 1:
            raise ConversionError(
                f"export_nir: the layers use different steps {found}; NIR graphs have one "
                "dt. Give all layers the same dt."
            )
        return values[0] if values else DEFAULT_DT
    # numpy floats are numbers too; inf / NaN / <= 0 would write a graph import_nir refuses
    check_number("export_nir", "dt (seconds)", dt, low=0, low_open=True)
    if isinstance(dt, np.floating) and np.finfo(dt).bits < 64:
        return float(str(dt))  # the decimal written (float32(0.001) -> 0.001, not 0.0010000000475)
    return float(dt)


def walk(model, start, visit):
    """Run ``model``'s graph on exporter values (Ports) instead of tensors, with
    the package's one graph walk (``keras_spiking.graph``; nested models inlined).

    ``start(name, shape, static)`` makes the value of each model input
    (``name`` of its Input layer, ``shape`` without batch, ``static``: a
    ``RepeatTime`` repeats it over time later on); ``visit(layer, inputs,
    out_shape)`` the value of each layer call from its inputs' values, in
    topological order (``out_shape`` with batch). Returns the values of the
    model's outputs.
    """
    graph = functional_graph(model, "export_nir", ConversionError)
    every = calls(model, owner="export_nir", error=ConversionError)
    values = []
    for x in graph.inputs:
        name = getattr(x._keras_history.operation, "name", "input")
        values.append(start(name, tuple(x.shape[1:]), _repeated(x, every)))
    return run(model, values,
               lambda call, inputs: visit(call.layer, inputs, tuple(call.outputs[0].shape)),
               owner="export_nir", error=ConversionError)


def _repeated(x, every):
    """Whether the model input ``x`` is static: a ``RepeatTime`` repeats it (or what
    the layers after it compute from it) over time (``convert(static_input=True)``)."""
    reached = {id(x)}
    for call in every:  # topological order
        if any(id(t) in reached for t in call.inputs):
            if isinstance(call.layer, ks_layers.RepeatTime):
                return True
            reached.update(id(t) for t in call.outputs)
    return False


def _all_layers(model):
    """Every layer of ``model``, nested models' layers included."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer
