"""Export rules of the stateless Keras layers and the time wrappers (one per class).

Per timestep these are NIR's weighted and shape nodes: Dense -> Affine/Linear,
Conv1D/Conv2D -> Conv1d/Conv2d (taking over a symmetric ZeroPadding before
them), AveragePooling2D and GlobalAveragePooling2D -> AvgPool2d, Flatten (and
a Reshape to 1-D) -> Flatten, Rescaling -> Scale; Add is NIR's sum of
incoming edges, Permute only changes the Keras order (``layout.Port``), and
dropout-like layers, ``TimeFold``/``TimeDistributed`` and ``RepeatTime`` are
transparent.
"""

import keras
import numpy as np

from keras_spiking import layers as ks_layers

from .library import load_nir
from keras_spiking.layer_facts import classes

from .errors import export_error
from .exporter import exports
from .layout import Port, conv_kernel_to_nir, dense_weight_to_nir, f32, permuted_order

nir = load_nir()

#: layers that compute nothing at inference (the registry's "dropout" role, and Identity)
TRANSPARENT = (*classes(role="dropout"), keras.layers.Identity)


# -- helpers -------------------------------------------------------------------------------
def _weights(layer):
    """``(kernel, bias or None)`` of a Dense or Conv layer, as numpy (kernel float64)."""
    kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
    bias = keras.ops.convert_to_numpy(layer.bias) if layer.use_bias else None
    return kernel, bias


def _check_linear(layer):
    """A weighted layer must have no activation: NIR's neurons are separate nodes."""
    activation = getattr(layer, "activation", None)
    if activation is not None and activation is not keras.activations.linear:
        raise export_error(
            layer, f"its activation {getattr(activation, '__name__', activation)!r} is "
            "not a NIR node", "use activation=None and a neuron layer after it",
        )


def _check_channels(layer, port):
    """A spatial layer needs a channels-last input that was not flattened or permuted."""
    if not port.canonical:
        raise export_error(layer, "its input was flattened and permuted", "reorder the layers")
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise export_error(layer, "data_format='channels_first' is not supported",
                           "use channels_last (Keras' default)")


def _valid_pool(layer, port):
    """The spatial output size of ``layer`` (a pooling layer) with "valid" padding."""
    return tuple(
        (n - k) // s + 1
        for n, k, s in zip(port.keras_shape[:2], layer.pool_size, layer.strides)
    )


# -- the time axis -------------------------------------------------------------------------
@exports(ks_layers.TimeFold, keras.layers.TimeDistributed, per_step=False, takes_pad=True,
         several_inputs=True)
def _time_fold(exporter, layer, inputs, out_shape):
    """A TimeFold applies its layer per step: the step's export."""
    return exporter.step(layer.layer, inputs, out_shape, owner=layer)


@exports(ks_layers.RepeatTime, per_step=False)
def _repeat_time(exporter, layer, inputs, out_shape):
    """RepeatTime tiles a static input over time: NIR's input is one step anyway."""
    return inputs[0]


@exports(ks_layers.RunningMean, per_step=False)
def _running_mean(exporter, layer, inputs, out_shape):
    """The converter's readout averages the output over the steps so far, after the
    network: NIR carries the per-step output (average it on the reading side)."""
    return inputs[0]


# -- per step ------------------------------------------------------------------------------
@exports(*TRANSPARENT, several_inputs=True)
def _transparent(exporter, layer, inputs, out_shape):
    """Dropout-like layers: identity at inference."""
    return inputs[0]


@exports(keras.layers.Add, several_inputs=True)
def _add(exporter, layer, inputs, out_shape):
    """Add: NIR sums a node's incoming edges, so the output is all inputs' sources."""
    orders = [p.order for p in inputs]
    if any(not np.array_equal(o, orders[0]) for o in orders):
        raise export_error(layer, "its inputs are laid out differently", "add before flattening")
    return Port(sum((p.sources for p in inputs), ()), out_shape, orders[0])


@exports(keras.layers.Dense)
def _dense(exporter, layer, inputs, out_shape):
    """Dense -> Affine (Linear without bias), ``weight = kernel.T`` in the input's order."""
    (port,) = inputs
    _check_linear(layer)
    if len(port.keras_shape) != 1:
        raise export_error(
            layer, f"it acts on the last axis of a {port.keras_shape} tensor; NIR's "
            "Affine takes vectors", "Flatten before the Dense",
        )
    kernel, bias = _weights(layer)
    weight = dense_weight_to_nir(kernel, port.order)
    node = (nir.Affine(weight=weight, bias=np.asarray(bias, "float32")) if bias is not None
            else nir.Linear(weight=weight))
    return Port([exporter.add(layer.name, node, inputs)], out_shape)


@exports(keras.layers.Conv1D, keras.layers.Conv2D, timed=False, takes_pad=True)
def _conv(exporter, layer, inputs, out_shape):
    """Conv1D/Conv2D -> Conv1d/Conv2d: kernel to OIHW, Keras' padding (and a
    ZeroPadding before) as NIR's symmetric padding."""
    (port,) = inputs
    _check_linear(layer)
    _check_channels(layer, port)
    rank = len(layer.kernel_size)
    kernel, bias = _weights(layer)
    weight = conv_kernel_to_nir(kernel)
    if bias is None:
        bias = np.zeros(weight.shape[0])
    spatial = port.keras_shape[:rank]
    pending = port.pad or (0,) * rank  # from a ZeroPadding layer before
    padding = []
    for n, k, s, d, m, p in zip(spatial, layer.kernel_size, layer.strides,
                                layer.dilation_rate, out_shape[:rank], pending):
        n = n + 2 * p
        total = 0 if layer.padding == "valid" else max((m - 1) * s + (k - 1) * d + 1 - n, 0)
        if layer.padding == "causal" or total % 2:
            raise export_error(
                layer, f"padding={layer.padding!r} pads {total} unevenly here; NIR pads "
                "both sides equally", "use padding='valid', or sizes for which Keras pads both "
                "sides equally (e.g. odd kernels at stride 1)",
            )
        padding.append(total // 2 + p)
    cls = nir.Conv1d if rank == 1 else nir.Conv2d
    node = cls(
        input_shape=spatial[0] if rank == 1 else tuple(spatial),
        weight=np.asarray(weight, "float32"),
        stride=layer.strides[0] if rank == 1 else tuple(layer.strides),
        padding=padding[0] if rank == 1 else tuple(padding),
        dilation=layer.dilation_rate[0] if rank == 1 else tuple(layer.dilation_rate),
        groups=int(layer.groups),
        bias=np.asarray(bias, "float32"),
    )
    return Port([exporter.add(layer.name, node, [port])], out_shape)


@exports(keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D, timed=False, takes_pad=True)
def _zero_padding(exporter, layer, inputs, out_shape):
    """ZeroPadding: no node; a symmetric padding waits in the Port for the next Conv."""
    (port,) = inputs
    _check_channels(layer, port)
    pads = [layer.padding] if type(layer) is keras.layers.ZeroPadding1D else layer.padding
    if any(before != after for before, after in pads):
        raise export_error(layer, f"padding {layer.padding} is not symmetric; NIR pads both "
                           "sides equally", "pad symmetrically")
    pad = tuple(before for before, _ in pads)
    if port.pad:
        pad = tuple(a + b for a, b in zip(pad, port.pad))
    return Port(port.sources, port.keras_shape, port.order, pad=pad)


@exports(keras.layers.AveragePooling2D, timed=False)
def _average_pooling(exporter, layer, inputs, out_shape):
    """AveragePooling2D -> AvgPool2d ("valid" padding: NIR's pads with zeros)."""
    (port,) = inputs
    _check_channels(layer, port)
    if layer.padding != "valid" and out_shape[:2] != _valid_pool(layer, port):
        raise export_error(
            layer, "padding='same' averages over fewer inputs at the border, which "
            "NIR's AvgPool2d (zero padding) cannot express", "use padding='valid'",
        )
    node = nir.AvgPool2d(
        kernel_size=np.array(layer.pool_size), stride=np.array(layer.strides),
        padding=np.array([0, 0]),
    )
    return Port([exporter.add(layer.name, node, inputs)], out_shape)


@exports(keras.layers.GlobalAveragePooling2D, timed=False)
def _global_average_pooling(exporter, layer, inputs, out_shape):
    """GlobalAveragePooling2D -> AvgPool2d over the whole image, then Flatten."""
    (port,) = inputs
    if layer.keepdims:
        raise export_error(layer, "keepdims=True keeps a (1, 1, channels) image, which is not "
                           "exported", "use keepdims=False")
    _check_channels(layer, port)
    size = np.array(port.keras_shape[:2])
    pooled = exporter.add(layer.name, nir.AvgPool2d(kernel_size=size, stride=size,
                                                    padding=np.array([0, 0])), inputs)
    flat = nir.Flatten(input_type={"input": np.array([port.keras_shape[2], 1, 1])},
                       start_dim=0, end_dim=-1)
    return Port([exporter.add(f"{layer.name}_flatten", flat,
                              [Port([pooled], (1, 1, port.keras_shape[2]))])], out_shape)


@exports(keras.layers.Flatten, keras.layers.Reshape, timed=False)
def _flatten(exporter, layer, inputs, out_shape):
    """Flatten (or Reshape to 1-D) -> Flatten; the Port remembers NIR's element order."""
    (port,) = inputs
    if len(out_shape) != 1:
        raise export_error(
            layer, f"NIR has no reshape node; only flattening to a vector can be "
            f"exported (output shape {out_shape})", "flatten to 1-D",
        )
    if len(port.keras_shape) == 1:
        return port
    node = nir.Flatten(input_type={"input": np.array(port.order.shape)}, start_dim=0, end_dim=-1)
    return Port([exporter.add(layer.name, node, inputs)], out_shape, port.order.reshape(-1))


@exports(keras.layers.Permute, timed=False)
def _permute(exporter, layer, inputs, out_shape):
    """Permute: no node; only the Keras order of the NIR elements changes."""
    (port,) = inputs
    return Port(port.sources, out_shape, permuted_order(port.order, port.keras_shape, layer.dims))


@exports(keras.layers.Rescaling)
def _rescaling(exporter, layer, inputs, out_shape):
    """Rescaling (offset 0) -> Scale."""
    (port,) = inputs
    if np.any(np.asarray(keras.ops.convert_to_numpy(layer.offset)) != 0):
        raise export_error(layer, "its offset is not 0", "fold the offset into a bias")
    scale = keras.ops.convert_to_numpy(layer.scale)
    node = nir.Scale(scale=f32(port.to_nir(scale)))
    return Port([exporter.add(layer.name, node, inputs)], out_shape, port.order)
