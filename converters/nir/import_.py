"""NIR -> Keras: ``build(graph, dt, integration, timesteps, name)``.

Each NIR node class has one small rule, registered with
``@imports(nir.Affine, ...)`` and matched by the node's exact class:
``rule(importer, key, node, x) -> y`` builds the Keras layers of node ``key``
on the Keras tensor ``x`` (its summed inputs, ``(batch, time, *channels-last
shape)``). Neurons become ``ContinuousLIF`` layers; a neuron's own cycle
(``graph_ops.split_loops``) becomes its recurrent weight; nested graphs are
inlined first (``graph_ops.inline_subgraphs``).
"""

import keras
import numpy as np

from keras_spiking import layers as ks_layers
from keras_spiking.layers.continuous import ContinuousLIF

from .library import load_nir
from ..base import ConversionError
from keras_spiking.graph import Names

from .errors import import_error
from .graph_ops import inline_subgraphs, split_loops, topological_order
from .layout import array_to_last, conv_weight_to_keras, keras_to_nir_permutation, to_first, to_last

nir = load_nir()

#: for each NIR neuron class: ContinuousLIF's argument -> the node's field
#: (None: the argument is None, i.e. no leak or no threshold)
NEURON_FIELDS = {
    nir.LIF: {"r": "r", "tau": "tau", "v_leak": "v_leak", "v_threshold": "v_threshold",
              "v_reset": "v_reset"},
    nir.IF: {"r": "r", "tau": None, "v_threshold": "v_threshold", "v_reset": "v_reset"},
    nir.LI: {"r": "r", "tau": "tau", "v_leak": "v_leak", "v_threshold": None},
    nir.I: {"r": "r", "tau": None, "v_threshold": None},
    nir.CubaLIF: {"r": "r", "tau": "tau_mem", "tau_syn": "tau_syn", "v_leak": "v_leak",
                  "w_in": "w_in", "v_threshold": "v_threshold", "v_reset": "v_reset"},
    nir.CubaLI: {"r": "r", "tau": "tau_mem", "tau_syn": "tau_syn", "v_leak": "v_leak",
                 "w_in": "w_in", "v_threshold": None},
}

_RULES = {}


def imports(*classes):
    """Register the decorated ``fn(importer, key, node, x) -> y`` as the Keras
    form of exactly the NIR node ``classes``."""

    def register(fn):
        """Add ``fn`` for each class; return it unchanged."""
        for cls in classes:
            _RULES[cls] = fn
        return fn

    return register


def build(graph, dt, integration, timesteps, name):
    """The Keras model of the NIR ``graph`` (see ``keras_spiking.converters.import_nir``)."""
    return _Importer(graph, dt, integration, timesteps).build(name)


class _Importer:
    """One import: the inlined graph, its neurons' loops, the settings (``dt``
    seconds, ``integration``, ``timesteps``) and the layer names taken."""

    def __init__(self, graph, dt, integration, timesteps):
        self.dt, self.integration, self.timesteps = dt, integration, timesteps
        nodes, edges = inline_subgraphs(graph)
        self.loops, self.nodes, self.edges = split_loops(nodes, edges, tuple(NEURON_FIELDS))
        self.names = Names(first=1)

    def build(self, name):
        """The Keras model: Inputs, one rule per node in topological order, an
        Add where several edges meet, Outputs."""
        order, parents = topological_order(self.nodes, self.edges)
        tensors, inputs, outputs = {}, [], []
        for key in order:
            node = self.nodes[key]
            if isinstance(node, nir.Input):
                shape = to_last(tuple(int(d) for d in np.asarray(node.input_type["input"])))
                x = keras.Input((self.timesteps,) + shape, name=self.unique(key))
                inputs.append(x)
                tensors[key] = x
                continue
            sources = [tensors[p] for p in parents[key]]
            if not sources:
                raise import_error(key, node, "it has no input", "connect it")
            x = sources[0] if len(sources) == 1 else keras.layers.Add(
                name=self.unique(f"{key}_sum"))(sources)
            if isinstance(node, nir.Output):
                outputs.append(x)
                tensors[key] = x
                continue
            tensors[key] = self.node(key, node, x)
        if not inputs or not outputs:
            raise ConversionError("import_nir: the graph needs Input and Output nodes.")
        return keras.Model(
            inputs[0] if len(inputs) == 1 else inputs,
            outputs[0] if len(outputs) == 1 else outputs,
            name=name or "nir_model",
        )

    def node(self, key, node, x):
        """The Keras form of one node on ``x``, by the rule of its exact class."""
        rule = _RULES.get(type(node))
        if rule is None:
            supported = ", ".join(["Input", "Output"] + [cls.__name__ for cls in _RULES])
            raise import_error(key, node, f"import_nir has no Keras form for it (supported: "
                               f"{supported})", "remove or replace it")
        return rule(self, key, node, x)

    def unique(self, name):
        """A layer name not taken yet: ``name``, else ``name_1``, ``name_2``, ..."""
        return self.names(name)

    def fold(self, layer, x):
        """``layer`` applied per timestep to ``x`` (through a TimeFold)."""
        return ks_layers.TimeFold(layer, name=self.unique(f"{layer.name}_timefold"))(x)


@imports(nir.Affine, nir.Linear)
def _affine(importer, key, node, x):
    """Affine/Linear -> Dense with ``kernel = weight.T``."""
    weight = np.asarray(node.weight)
    if weight.ndim != 2:
        raise import_error(key, node, f"weight of shape {weight.shape}", "use a 2-D weight")
    if len(x.shape[2:]) != 1:
        raise import_error(key, node, f"its input {tuple(x.shape[2:])} is not a vector",
                           "flatten first")
    bias = np.asarray(node.bias) if type(node) is nir.Affine else None
    layer = keras.layers.Dense(weight.shape[0], use_bias=bias is not None,
                               name=importer.unique(key))
    layer.build((None, None, weight.shape[1]))
    layer.set_weights([weight.T] + ([bias] if bias is not None else []))
    return layer(x)


@imports(nir.Scale)
def _scale(importer, key, node, x):
    """Scale -> Rescaling (one number if all scales are equal)."""
    scale = array_to_last(np.asarray(node.scale, "float32"))
    if scale.size == 1 or np.all(scale == scale.reshape(-1)[0]):
        scale = float(scale.reshape(-1)[0])
    return keras.layers.Rescaling(scale, name=importer.unique(key))(x)


@imports(nir.Conv1d, nir.Conv2d)
def _conv(importer, key, node, x):
    """Conv1d/Conv2d -> Conv1D/Conv2D per step: padding as Keras' "same" when it
    is that, else a ZeroPadding before a "valid" Conv."""
    name = importer.unique(key)
    weight = np.asarray(node.weight, "float32")
    rank = weight.ndim - 2
    per_step = tuple(x.shape[2:])
    if len(per_step) != rank + 1:
        raise import_error(key, node, f"its input {per_step} does not have {rank} spatial "
                           "axes and channels", "feed it a channels-first tensor")

    def pair(v):
        """``v`` (a number or one per axis) as a tuple of ``rank`` ints."""
        return tuple(int(k) for k in np.broadcast_to(np.asarray(v), (rank,)))

    padding, kernel_size = node.padding, weight.shape[2:]
    stride, dilation = pair(node.stride), pair(node.dilation)
    if isinstance(padding, str):
        keras_padding = padding
    elif stride == (1,) * rank and all(  # Keras' "same": (k - 1) d / 2 on each side
            2 * p == (k - 1) * d for p, k, d in zip(pair(padding), kernel_size, dilation)):
        keras_padding = "same"
    else:
        pads = pair(padding)
        if any(pads):
            pad_layer = keras.layers.ZeroPadding1D if rank == 1 else keras.layers.ZeroPadding2D
            x = importer.fold(pad_layer(pads[0] if rank == 1 else pads,
                                        name=importer.unique(f"{key}_padding")), x)
        keras_padding = "valid"
    cls = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
    bias = np.asarray(node.bias, "float32")
    layer = cls(weight.shape[0], kernel_size, strides=stride, padding=keras_padding,
                dilation_rate=dilation, groups=int(node.groups), name=name)
    y = importer.fold(layer, x)
    layer.set_weights([conv_weight_to_keras(weight), np.broadcast_to(bias, (weight.shape[0],))])
    return y


@imports(nir.AvgPool2d, nir.SumPool2d)
def _pool(importer, key, node, x):
    """AvgPool2d -> AveragePooling2D per step; SumPool2d also scales by the window size."""
    name = importer.unique(key)
    if np.any(np.asarray(node.padding) != 0):
        raise import_error(key, node, "non-zero padding counts zeros into the mean "
                           "differently in Keras", "pad with a Conv or use padding 0")
    size = tuple(int(k) for k in np.broadcast_to(node.kernel_size, (2,)))
    stride = tuple(int(k) for k in np.broadcast_to(node.stride, (2,)))
    y = importer.fold(keras.layers.AveragePooling2D(size, stride, name=name), x)
    if type(node) is nir.SumPool2d:
        y = keras.layers.Rescaling(float(np.prod(size)), name=importer.unique(f"{key}_sum"))(y)
    return y


@imports(nir.Flatten)
def _flatten(importer, key, node, x):
    """Flatten (of every axis) -> Permute to NIR's channels-first order, then Flatten."""
    name = importer.unique(key)
    per_step = tuple(x.shape[2:])
    shape = to_first(per_step)
    start, end = int(node.start_dim) % len(shape), int(node.end_dim) % len(shape)
    calc = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
    if len(calc) != 1:
        raise import_error(key, node, f"it flattens {shape} only partly (to {calc})",
                           "flatten every axis (start_dim=0, end_dim=-1)")
    if len(per_step) > 1:  # channels-last -> NIR's channels-first order
        perm = keras_to_nir_permutation(len(per_step))
        x = importer.fold(keras.layers.Permute(perm, name=importer.unique(f"{key}_to_nir_order")),
                          x)
    return importer.fold(keras.layers.Flatten(name=name), x)


@imports(nir.Threshold)
def _threshold(importer, key, node, x):
    """Threshold -> a step function: ContinuousLIF with ``tau = dt`` under Euler
    (decay 0, so ``v = x`` and ``s = H(x - threshold)``)."""
    thr = array_to_last(np.asarray(node.threshold, "float32"))
    return ContinuousLIF(tau=importer.dt, v_threshold=thr, dt=importer.dt, integration="euler",
                         name=importer.unique(key))(x)


@imports(*NEURON_FIELDS)
def _neuron(importer, key, node, x):
    """A NIR neuron -> ContinuousLIF at the import's ``dt`` and ``integration``; its
    own loop (if any) -> ``recurrent="one_to_one"`` (Scale) or ``"dense"``
    (Linear, Affine). An Affine loop's bias reaches the neuron at every step
    (snnTorch's ``RLeaky``: the recurrent Linear of the previous spikes, zeros at
    the first step): it is added to the feed-forward input instead."""
    name = importer.unique(key)
    loop = importer.loops.get(key)
    if loop is not None and type(loop[1]) is nir.Affine:
        bias = np.asarray(loop[1].bias, "float32")
        x = keras.layers.Rescaling(1.0, offset=bias,
                                   name=importer.unique(f"{key}_recurrent_bias"))(x)
    recurrent = None if loop is None else (
        "one_to_one" if type(loop[1]) is nir.Scale else "dense")
    layer = ContinuousLIF(dt=importer.dt, integration=importer.integration, name=name,
                          recurrent=recurrent, **_neuron_params(node))
    y = layer(x)
    if loop is not None:
        if recurrent == "dense":
            kernel = np.asarray(loop[1].weight, "float32").T
        else:
            kernel = np.broadcast_to(array_to_last(loop[1].scale), tuple(x.shape[2:]))
        layer.set_weights([np.asarray(kernel, "float32")])
    return y


def _neuron_params(node):
    """ContinuousLIF's arguments for a NIR neuron node, channels-last; one value
    for all neurons stays a scalar (a short config)."""
    params = {}
    for arg, field in NEURON_FIELDS[type(node)].items():
        params[arg] = None if field is None else array_to_last(
            np.asarray(getattr(node, field), "float64"))
    return {k: (v if v is None or np.ndim(v) == 0 or np.ptp(v) > 0 else float(v.flat[0]))
            for k, v in params.items()}
