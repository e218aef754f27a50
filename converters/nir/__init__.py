"""NIR export and import: ``export_nir(model)`` and ``import_nir(graph)``.

NIR (the Neuromorphic Intermediate Representation, ``pip install nir``) is the
exchange format of neuromorphic simulators and chips. Its neurons are ODEs in
continuous time (seconds); its tensors are channels-first, ``(C, H, W)``, per
timestep, with no batch or time axis. A converted model and a surrogate-trained
model leave through the same ``export_nir``.

**Discretisation.** NIR leaves the integration scheme and the step to the
simulator. A layer of this package is a *discrete* update per step of ``dt``
seconds (``v <- decay v + gain x + bias``, see ``keras_spiking.neurons``), so
the export picks the continuous parameters with which the chosen scheme
reproduces that update exactly, spike for spike:

* ``integration="euler"`` (default; what snnTorch, Norse and most tools
  simulate): ``tau = dt / (1 - decay)``, ``r = gain / (1 - decay)``,
  ``v_leak = bias / (1 - decay)``.
* ``integration="exact"`` (zero-order hold): ``tau = -dt / log(decay)``, ``r``
  and ``v_leak`` as above.

``dt`` and the scheme are stored in the graph's metadata
(``{"keras_spiking": {"dt": ..., "integration": ...}}``) and ``import_nir``
uses them unless told otherwise; importing with the other scheme simulates the
same ODE differently (visibly different spike counts when ``dt`` is not small
against ``tau``). Per layer (``decay``, ``gain``, ``bias`` as in ``neurons.py``):

========================  ===============  =====================================
layer                     NIR node         notes
========================  ===============  =====================================
Leaky / IF / RLeaky       LIF / IF         decay ``beta``, gain 1; reset "zero"
Synaptic / RSynaptic      CubaLIF          Euler only: ``tau_syn = dt/(1-alpha)``,
                                           ``w_in = 1/(1-alpha)``
SpikingLIF                LIF + Scale      decay ``exp(-dt/tau_rc)``, ``r = 1``,
                                           ``v_leak = offset``; Scale ``amplitude/dt``
SpikingIF                 IF + Scale       ``r = 1``; Scale ``amplitude/dt``
Lowpass                   LI               ``r = 1``
Alpha                     CubaLI           exact only: ``tau_syn = tau_mem = tau``
ContinuousLIF             its node         parameters as they are
Dense                     Affine / Linear  ``weight = kernel.T``
Conv1D / Conv2D           Conv1d / Conv2d  kernel HWIO -> OIHW
AveragePooling2D          AvgPool2d        "valid" padding
GlobalAveragePooling2D    AvgPool2d        + Flatten
ZeroPadding1D/2D          (Conv padding)   symmetric, right before a Conv
Permute                   (no node)        only the Keras order changes
Flatten, Reshape to 1-D   Flatten          see channels-last below
Rescaling (offset 0)      Scale
Add                       (edges)          NIR sums a node's incoming edges
recurrent weight          Linear / Scale   a cycle neuron -> weight -> neuron
                                           carrying the previous step's output
========================  ===============  =====================================

``import_nir`` reads the same nodes back (neurons as ``ContinuousLIF``, a
neuron's own cycle as its ``recurrent`` weight, nested graphs inlined).

A Scale in front of an Affine/Linear/Conv (through Flatten and pooling) is
folded into its weights, so hardware receives 0/1 spikes. Keras is
channels-last: convolution kernels are transposed, and a Flatten after a
convolution flattens NIR's ``(C, H, W)`` in a different order than Keras, so
the following Affine's columns (and any per-neuron parameters in between) are
permuted to compute the same function; a flattened output is permuted back
by a Linear node. Dropout-like layers and ``TimeFold``/``TimeDistributed``/
``RepeatTime`` are transparent.

What NIR cannot express raises ``ConversionError`` naming the layer, unless
the approximation is accepted by name in ``approximate``:

* ``"refractory"``: drop ``SpikingLIF``'s ``tau_ref`` (NIR has no refractory period);
* ``"voltage_floor"``: drop ``SpikingLIF``'s clipping of the voltage at 0;
* ``"subtract_reset"``: export reset-by-subtraction as reset to 0;
* ``"initial_voltage"``: drop a non-zero initial voltage (NIR starts at 0).
"""

import collections
import os
import tempfile

import keras
import numpy as np

from keras_spiking import layers as ks_layers
from keras_spiking.layers.continuous import INTEGRATIONS, ContinuousLIF
from keras_spiking.optional import require

from .convert import ConversionError, _graph_of

#: approximations ``export_nir`` accepts by name
APPROXIMATIONS = ("refractory", "voltage_floor", "subtract_reset", "initial_voltage")

_DEFAULT_DT = 0.001
_TRANSPARENT = (
    keras.layers.Dropout,
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
    keras.layers.ActivityRegularization,
    keras.layers.Identity,
)


#: stateless layers that act per timestep on (batch, time, ...) without TimeFold
_PER_STEP = _TRANSPARENT + (keras.layers.Dense, keras.layers.Add, keras.layers.Rescaling)
#: stateless layers that need TimeFold on (batch, time, ...)
_NEEDS_FOLD = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.AveragePooling2D,
               keras.layers.GlobalAveragePooling2D, keras.layers.Flatten, keras.layers.Reshape,
               keras.layers.Permute, keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D)


def _nir():
    return require("nir", "NIR export/import", "nir")


def _error(layer, why, fix):
    return ConversionError(
        f"Cannot export layer '{layer.name}' ({type(layer).__name__}) to NIR: {why}. "
        f"To fix: {fix}."
    )


# -- channels-last <-> channels-first ------------------------------------------------------
def _to_first(shape):
    """NIR (channels-first) shape of a Keras (channels-last) per-step shape."""
    shape = tuple(shape)
    return shape if len(shape) < 2 else (shape[-1],) + shape[:-1]


def _to_last(shape):
    shape = tuple(shape)
    return shape if len(shape) < 2 else shape[1:] + (shape[0],)


def _canonical_order(keras_shape):
    """For each NIR element, its flat index in the Keras tensor (channels moved first)."""
    index = np.arange(int(np.prod(keras_shape))).reshape(keras_shape)
    return index if index.ndim < 2 else np.moveaxis(index, -1, 0)


def _f32(array):
    return np.asarray(array, "float32")


def _array_to_last(array):
    array = np.asarray(array)
    return array if array.ndim < 2 else np.moveaxis(array, 0, -1)


class _Port:
    """An exported tensor: the NIR nodes whose summed outputs it is, its Keras
    per-step shape, and ``order``: NIR-shaped, the Keras flat index of each
    NIR element (canonical = channels moved first). ``pad``: a pending
    symmetric ZeroPadding per spatial axis, which only a Conv can take."""

    def __init__(self, sources, keras_shape, order=None, pad=None):
        self.sources = tuple(sources)
        self.pad = pad
        self.keras_shape = tuple(int(d) for d in keras_shape)
        self.order = _canonical_order(self.keras_shape) if order is None else order

    @property
    def canonical(self):
        return np.array_equal(self.order, _canonical_order(self.keras_shape))

    def to_nir(self, value):
        """A per-element parameter (broadcast over the Keras shape) in NIR order."""
        full = np.broadcast_to(np.asarray(value, "float64"), self.keras_shape)
        return full.reshape(-1)[self.order]


# -- export ----------------------------------------------------------------------------------
class _Exporter:
    def __init__(self, dt, integration, approximate):
        self.dt = dt
        self.integration = integration
        self.approximate = approximate
        self.nodes = {}
        self.edges = []
        self.missing = []  # approximations the current layer needs
        self.nir = _nir()

    # graph building
    def add(self, name, node, inputs):
        base, i = name, 1
        while name in self.nodes:
            name, i = f"{base}_{i}", i + 1
        self.nodes[name] = node
        for port in inputs:
            self.edges.extend((s, name) for s in port.sources)
        return name

    def allow(self, what, layer, why, fix=None):
        """Note an approximation ``layer`` needs; ``check_allowed`` raises for all."""
        if what not in self.approximate:
            self.missing.append((what, why, fix))

    def check_allowed(self, layer):
        missing, self.missing = self.missing, []
        if missing:
            names = tuple(what for what, _, _ in missing)
            fixes = [fix for _, _, fix in missing if fix]
            accept = f"pass approximate={names!r} to accept the difference"
            raise _error(layer, "; ".join(why for _, why, _ in missing),
                         f"{' and '.join(fixes)}, or {accept}" if fixes else accept)

    # walking
    def walk(self, model, ports):
        graph = _graph_of(model)
        tensors = {id(x): p for x, p in zip(graph.inputs, ports)}
        for depth in sorted(graph._nodes_by_depth, reverse=True):
            for node in graph._nodes_by_depth[depth]:
                if node.operation is None or node.is_input:
                    continue
                inputs = [tensors[id(x)] for x in node.input_tensors]
                outputs = node.outputs
                if isinstance(node.operation, keras.Model):
                    results = self.walk(node.operation, inputs)
                else:
                    results = [self.layer(node.operation, inputs, tuple(outputs[0].shape))]
                for x, port in zip(outputs, results):
                    tensors[id(x)] = port
        return [tensors[id(x)] for x in graph.outputs]

    # Classes match exactly: a subclass may compute something else.
    def layer(self, layer, inputs, out_shape):
        kind = type(layer)
        inner = type(layer.layer) if kind in (ks_layers.TimeFold, keras.layers.TimeDistributed) else kind
        takes_pad = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.ZeroPadding1D,
                     keras.layers.ZeroPadding2D)
        if any(p.pad for p in inputs) and inner not in takes_pad:
            raise _error(layer, "it follows a ZeroPadding layer; NIR has no padding node and only "
                         "a Conv can take the padding over", "pad inside the Conv (padding='same')")
        if kind in (ks_layers.TimeFold, keras.layers.TimeDistributed):
            return self.stateless(layer.layer, inputs, out_shape[2:])
        if kind is ks_layers.RepeatTime:
            return inputs[0]
        if isinstance(layer, ks_layers.TimeStateLayer):
            return self.neuron(layer, inputs[0])
        if kind in _PER_STEP:  # act on the last axes only
            return self.stateless(layer, inputs, out_shape[2:])
        if kind in _NEEDS_FOLD:
            raise _error(
                layer, "applied to (batch, time, ...) directly it does not act per timestep",
                "wrap it in keras_spiking.layers.TimeFold",
            )
        return self.stateless(layer, inputs, out_shape[2:])  # raises: no rule

    # stateless layers (per timestep)
    def stateless(self, layer, inputs, out_shape):
        out_shape, kind = tuple(out_shape), type(layer)
        if kind in _TRANSPARENT:
            return inputs[0]
        if kind is keras.layers.Add:
            orders = [p.order for p in inputs]
            if any(not np.array_equal(o, orders[0]) for o in orders):
                raise _error(layer, "its inputs are laid out differently", "add before flattening")
            return _Port(sum((p.sources for p in inputs), ()), out_shape, orders[0])
        if len(inputs) != 1:
            raise _error(layer, "it has several inputs", "use Add, or one input per layer")
        (port,) = inputs
        nir = self.nir
        if kind is keras.layers.Dense:
            self.check_linear(layer)
            if len(port.keras_shape) != 1:
                raise _error(
                    layer, f"it acts on the last axis of a {port.keras_shape} tensor; NIR's "
                    "Affine takes vectors", "Flatten before the Dense",
                )
            kernel, bias = self.weights(layer)
            weight = np.asarray(kernel[port.order.reshape(-1), :].T, "float32")
            node = (
                nir.Affine(weight=weight, bias=np.asarray(bias, "float32"))
                if bias is not None
                else nir.Linear(weight=weight)
            )
            return _Port([self.add(layer.name, node, inputs)], out_shape)
        if kind in (keras.layers.Conv1D, keras.layers.Conv2D):
            return self.conv(layer, port, out_shape)
        if kind is keras.layers.AveragePooling2D:
            self.check_channels(layer, port)
            if layer.padding != "valid" and out_shape[:2] != self.valid_pool(layer, port):
                raise _error(
                    layer, "padding='same' averages over fewer inputs at the border, which "
                    "NIR's AvgPool2d (zero padding) cannot express", "use padding='valid'",
                )
            node = nir.AvgPool2d(
                kernel_size=np.array(layer.pool_size), stride=np.array(layer.strides),
                padding=np.array([0, 0]),
            )
            return _Port([self.add(layer.name, node, inputs)], out_shape)
        if kind in (keras.layers.Flatten, keras.layers.Reshape):
            if len(out_shape) != 1:
                raise _error(
                    layer, f"NIR has no reshape node; only flattening to a vector can be "
                    f"exported (output shape {out_shape})", "flatten to 1-D",
                )
            if len(port.keras_shape) == 1:
                return port
            node = nir.Flatten(
                input_type={"input": np.array(port.order.shape)},
                start_dim=0, end_dim=-1,
            )
            return _Port([self.add(layer.name, node, inputs)], out_shape, port.order.reshape(-1))
        if kind is keras.layers.Permute:  # no node: only the Keras order changes
            index = np.arange(port.order.size).reshape(port.keras_shape)
            moved = np.transpose(index, [d - 1 for d in layer.dims]).reshape(-1)
            new_index = np.empty_like(moved)
            new_index[moved] = np.arange(moved.size)
            return _Port(port.sources, out_shape, new_index[port.order])
        if kind in (keras.layers.ZeroPadding1D, keras.layers.ZeroPadding2D):
            self.check_channels(layer, port)
            pads = [layer.padding] if kind is keras.layers.ZeroPadding1D else layer.padding
            if any(before != after for before, after in pads):
                raise _error(layer, f"padding {layer.padding} is not symmetric; NIR pads both "
                             "sides equally", "pad symmetrically")
            pad = tuple(before for before, _ in pads)
            if port.pad:
                pad = tuple(a + b for a, b in zip(pad, port.pad))
            return _Port(port.sources, port.keras_shape, port.order, pad=pad)
        if kind is keras.layers.GlobalAveragePooling2D and not layer.keepdims:
            self.check_channels(layer, port)
            size = np.array(port.keras_shape[:2])
            pooled = self.add(layer.name, nir.AvgPool2d(kernel_size=size, stride=size,
                                                        padding=np.array([0, 0])), inputs)
            flat = nir.Flatten(input_type={"input": np.array([port.keras_shape[2], 1, 1])},
                               start_dim=0, end_dim=-1)
            return _Port([self.add(f"{layer.name}_flatten", flat,
                                   [_Port([pooled], (1, 1, port.keras_shape[2]))])], out_shape)
        if kind is keras.layers.Rescaling:
            if np.any(np.asarray(keras.ops.convert_to_numpy(layer.offset)) != 0):
                raise _error(layer, "its offset is not 0", "fold the offset into a bias")
            scale = keras.ops.convert_to_numpy(layer.scale)
            node = nir.Scale(scale=_f32(port.to_nir(scale)))
            return _Port([self.add(layer.name, node, inputs)], out_shape, port.order)
        raise _error(
            layer, "NIR export has no rule for this class (supported: Dense, Conv1D, "
            "Conv2D, AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape to 1-D, "
            "Permute, ZeroPadding before a Conv, Rescaling, Add, Dropout, "
            "and the package's neurons and filters)",
            "replace it, or export the supported part of the model",
        )

    @staticmethod
    def valid_pool(layer, port):
        return tuple(
            (n - k) // s + 1
            for n, k, s in zip(port.keras_shape[:2], layer.pool_size, layer.strides)
        )

    @staticmethod
    def weights(layer):
        kernel = keras.ops.convert_to_numpy(layer.kernel).astype("float64")
        bias = keras.ops.convert_to_numpy(layer.bias) if layer.use_bias else None
        return kernel, bias

    @staticmethod
    def check_linear(layer):
        activation = getattr(layer, "activation", None)
        if activation is not None and activation is not keras.activations.linear:
            raise _error(
                layer, f"its activation {getattr(activation, '__name__', activation)!r} is "
                "not a NIR node", "use activation=None and a neuron layer after it",
            )

    def check_channels(self, layer, port):
        if not port.canonical:
            raise _error(layer, "its input was flattened and permuted", "reorder the layers")
        if getattr(layer, "data_format", "channels_last") != "channels_last":
            raise _error(layer, "data_format='channels_first' is not supported",
                         "use channels_last (Keras' default)")

    def conv(self, layer, port, out_shape):
        self.check_linear(layer)
        self.check_channels(layer, port)
        rank = len(layer.kernel_size)
        kernel, bias = self.weights(layer)
        weight = np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))  # O, I, spatial
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
                raise _error(
                    layer, f"padding={layer.padding!r} pads {total} unevenly here; NIR pads "
                    "both sides equally", "use padding='valid', or sizes for which Keras pads both "
                    "sides equally (e.g. odd kernels at stride 1)",
                )
            padding.append(total // 2 + p)
        nir = self.nir
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
        return _Port([self.add(layer.name, node, [port])], out_shape)

    # neurons and filters
    def neuron(self, layer, port):
        nir = self.nir
        dt = self.dt
        if not layer.return_sequences or layer.return_state:
            raise _error(layer, "return_sequences=False or return_state=True changes its "
                         "outputs", "export with return_sequences=True, return_state=False")
        layer_dt = getattr(layer, "dt", None)
        if layer_dt is not None and not np.isclose(layer_dt, dt, rtol=1e-9, atol=0):
            raise _error(layer, f"its dt={layer_dt} differs from the export's dt={dt}",
                         "export with the layer's dt")
        scale = None
        kind = type(layer)
        if kind is ks_layers.ContinuousLIF:
            node = self.continuous(layer, port)
        elif kind is ks_layers.SpikingLIF:
            if layer.tau_ref > 0:
                self.allow("refractory", layer, f"NIR's LIF has no refractory period "
                           f"(tau_ref={layer.tau_ref})", "use tau_ref=0")
            self.allow("voltage_floor", layer, "SpikingLIF clips its voltage at 0 (as "
                       "Nengo does); NIR's LIF does not, so spikes differ after negative input")
            self.check_initial(layer)
            decay = np.exp(-dt / layer.tau_rc)
            node = self.single_stage(layer, port, decay, 1 - decay, (1 - decay) * layer.offset,
                                     layer.threshold)
            scale = layer.amplitude / dt
        elif kind is ks_layers.SpikingIF:
            self.check_reset(layer, layer.reset)
            self.check_initial(layer)
            node = self.single_stage(layer, port, 1.0, dt, 0.0, layer.threshold)
            scale = layer.amplitude / dt
        elif kind is ks_layers.Lowpass:
            if layer.tau == 0 and not layer.learn_tau:
                return port
            self.check_initial_value(layer)
            a = float(np.exp(-dt / self.tau_of(layer)))
            node = self.single_stage(layer, port, a, 1 - a, 0.0, None)
        elif kind is ks_layers.Alpha:
            if layer.tau == 0 and not layer.learn_tau:
                return port
            self.check_initial_value(layer)
            if self.integration != "exact":
                raise _error(
                    layer, "its exact update has no forward-Euler form in NIR",
                    "export with integration='exact', or use Lowpass",
                )
            tau = _f32(port.to_nir(self.tau_of(layer)))
            one = np.ones_like(tau)
            node = nir.CubaLI(tau_syn=tau, tau_mem=tau, r=one, v_leak=0 * one, w_in=one)
        elif kind in (ks_layers.Leaky, ks_layers.IF, ks_layers.Synaptic, ks_layers.RLeaky,
                      ks_layers.RSynaptic):
            node = self.leaky(layer, port)
        else:
            raise _error(layer, "NIR export has no rule for this layer",
                         "replace it with a supported neuron or filter")
        self.check_allowed(layer)
        name = self.add(layer.name, node, [port])
        if getattr(layer, "recurrent", False):
            self.recurrence(layer, port, name)
        out = _Port([name], port.keras_shape, port.order)
        if scale is not None and scale != 1:
            shape = port.order.shape
            node = nir.Scale(scale=np.full(shape, scale, "float32"))
            out = _Port([self.add(f"{layer.name}_amplitude", node, [out])], port.keras_shape,
                        port.order)
        return out

    def check_reset(self, layer, reset):
        if reset == "subtract":
            self.allow("subtract_reset", layer, "NIR's neurons reset to v_reset, not by "
                       "subtracting the threshold", "use reset='zero'")
        elif reset == "none":
            raise _error(layer, "NIR's spiking neurons always reset", "use reset='zero'")

    def check_initial(self, layer):
        if layer.initial_voltage != "zeros":
            self.allow("initial_voltage", layer, f"NIR starts every voltage at 0 "
                       f"(initial_voltage={layer.initial_voltage!r})", "use initial_voltage='zeros'")

    @staticmethod
    def check_initial_value(layer):
        if layer.initial_value != "zeros":
            raise _error(layer, "NIR starts every state at 0", "use initial_value='zeros'")

    @staticmethod
    def tau_of(layer):
        if layer.tau_variable is None:
            return layer.tau
        return float(keras.ops.convert_to_numpy(layer.tau_variable))

    def single_stage(self, layer, port, decay, gain, bias, threshold, v_reset=0.0):
        """The NIR node whose chosen discretisation is ``v <- decay v + gain x + bias``."""
        nir, dt = self.nir, self.dt
        decay, gain, bias = (port.to_nir(v) for v in (decay, gain, bias))
        thr = None if threshold is None else _f32(port.to_nir(threshold))
        reset = _f32(port.to_nir(v_reset))
        if np.all(decay == 1):
            if np.any(bias != 0):
                raise _error(layer, "a constant input without leak has no NIR form",
                             "add a leak or a bias in the layer before")
            r = _f32(gain / dt)
            return nir.I(r=r) if thr is None else nir.IF(r=r, v_threshold=thr, v_reset=reset)
        if np.any(decay >= 1):
            raise _error(layer, "some of its neurons leak and some do not",
                         "use one kind per layer")
        if self.integration == "euler":
            tau = dt / (1 - decay)
        else:
            if np.any(decay <= 0):
                raise _error(layer, "a decay of 0 has no exact-integration time constant",
                             "export with integration='euler'")
            tau = -dt / np.log(decay)
        leak = 1 - decay
        tau, r, v_leak = (_f32(v) for v in (tau, gain / leak, bias / leak))
        if thr is None:
            return nir.LI(tau=tau, r=r, v_leak=v_leak)
        return nir.LIF(tau=tau, r=r, v_leak=v_leak, v_threshold=thr, v_reset=reset)

    def leaky(self, layer, port):
        if layer.output_mode != "spikes":
            raise _error(layer, f"output={layer.output_mode!r}; NIR neurons output spikes",
                         "use output='spikes'")
        self.check_reset(layer, layer.reset)
        # reset to zero gives the same spikes with or without snnTorch's delay
        beta = np.clip(self.value(layer, "beta"), 0, 1)
        threshold = self.value(layer, "threshold")
        if not layer.synaptic:
            return self.single_stage(layer, port, beta, 1.0, 0.0, threshold)
        if self.integration != "euler":
            raise _error(layer, "its synaptic update is exact only under forward Euler",
                         "export with integration='euler'")
        alpha = np.clip(self.value(layer, "alpha"), 0, 1)
        if np.any(alpha >= 1) or np.any(beta >= 1):
            raise _error(layer, "alpha = 1 or beta = 1 (no decay) has no CubaLIF form",
                         "use alpha, beta < 1")
        alpha, beta, thr = (port.to_nir(v) for v in (alpha, beta, threshold))
        dt = self.dt
        return self.nir.CubaLIF(
            tau_syn=_f32(dt / (1 - alpha)), tau_mem=_f32(dt / (1 - beta)),
            r=_f32(1 / (1 - beta)), v_leak=_f32(0 * beta), v_threshold=_f32(thr),
            v_reset=_f32(0 * beta), w_in=_f32(1 / (1 - alpha)),
        )

    @staticmethod
    def value(layer, name):
        variable = getattr(layer, f"{name}_variable", None)
        if variable is not None:
            return keras.ops.convert_to_numpy(variable).astype("float64")
        return np.asarray(getattr(layer, name), "float64")

    def recurrence(self, layer, port, name):
        """RLeaky/RSynaptic/ContinuousLIF: a cycle neuron -> weight -> neuron (one
        step of delay: the weight carries the previous step's output)."""
        nir = self.nir
        kernel = keras.ops.convert_to_numpy(layer.recurrent_kernel).astype("float64")
        if type(layer) is ks_layers.ContinuousLIF:
            one_to_one, convolved = layer.recurrent == "one_to_one", False
        else:
            one_to_one = not layer.all_to_all
            convolved = layer.recurrent_kernel_size is not None
        if one_to_one:
            node = nir.Scale(scale=_f32(port.to_nir(kernel)))
        elif not convolved and len(port.keras_shape) == 1:
            node = nir.Linear(weight=np.asarray(kernel.T, "float32"))
        else:
            raise _error(layer, "only dense or one-to-one recurrence on vectors is exported",
                         "use recurrent_kernel_size=None on a flat input")
        rec = self.add(f"{name}_recurrent", node, [_Port([name], port.keras_shape, port.order)])
        self.edges.append((rec, name))

    def continuous(self, layer, port):
        nir = self.nir
        p = {k: None if getattr(layer, k) is None else _f32(port.to_nir(getattr(layer, k)))
             for k in ("tau", "r", "v_leak", "v_threshold", "v_reset", "tau_syn", "w_in")}
        if layer.integration != self.integration:
            if layer.tau_syn is not None:
                raise _error(
                    layer, f"its synaptic current is integrated with {layer.integration!r}, "
                    "which has no exact equivalent under the other scheme",
                    f"export with integration={layer.integration!r}",
                )
            c = layer.coefficients
            return self.single_stage(layer, port, c["decay"], c["x_gain"], c["bias"],
                                     layer.v_threshold, layer.v_reset)
        if p["tau_syn"] is not None:
            if p["v_threshold"] is None:
                return nir.CubaLI(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],
                                  v_leak=p["v_leak"], w_in=p["w_in"])
            return nir.CubaLIF(tau_syn=p["tau_syn"], tau_mem=p["tau"], r=p["r"],
                               v_leak=p["v_leak"], v_threshold=p["v_threshold"],
                               v_reset=p["v_reset"], w_in=p["w_in"])
        if p["tau"] is None:
            if p["v_threshold"] is None:
                return nir.I(r=p["r"])
            return nir.IF(r=p["r"], v_threshold=p["v_threshold"], v_reset=p["v_reset"])
        if p["v_threshold"] is None:
            return nir.LI(tau=p["tau"], r=p["r"], v_leak=p["v_leak"])
        return nir.LIF(tau=p["tau"], r=p["r"], v_leak=p["v_leak"],
                       v_threshold=p["v_threshold"], v_reset=p["v_reset"])

    def output(self, port, name):
        if port.pad:
            raise ConversionError("export_nir: the model's output is a ZeroPadding layer's, "
                                  "which NIR cannot express; remove it.")
        if port.order.ndim == 1 and not port.canonical:
            n = port.order.size
            weight = np.zeros((n, n), "float32")
            weight[port.order, np.arange(n)] = 1.0  # back to Keras' flatten order
            port = _Port([self.add(f"{name}_unpermute", self.nir.Linear(weight=weight), [port])],
                         port.keras_shape)
        self.add(name, self.nir.Output(output_type={"output": np.array(port.order.shape)}), [port])


def _fold_scales(nodes, edges, nir):
    """Fold a uniform Scale into the Affine/Linear/Conv after it (through Flatten and
    pooling), so that spikes reach the weights as 0/1."""
    while True:
        out_edges = collections.defaultdict(list)
        in_edges = collections.defaultdict(list)
        for a, b in edges:
            out_edges[a].append(b)
            in_edges[b].append(a)
        for name, node in nodes.items():
            if not isinstance(node, nir.Scale) or len(out_edges[name]) != 1 or len(
                in_edges[name]) != 1:
                continue
            values = np.unique(node.scale)
            if values.size != 1:
                continue
            target = out_edges[name][0]
            while (isinstance(nodes[target], (nir.Flatten, nir.AvgPool2d, nir.SumPool2d))
                   and len(in_edges[target]) == 1 and len(out_edges[target]) == 1):
                target = out_edges[target][0]
            weighted = (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)
            if not isinstance(nodes[target], weighted) or len(in_edges[target]) != 1:
                continue
            nodes[target].weight = nodes[target].weight * values[0]
            (source,) = in_edges[name]
            edges = [(source if a == name else a, b) for a, b in edges if b != name]
            del nodes[name]
            break
        else:
            return nodes, edges


def export_nir(model, path=None, *, dt=None, integration="euler", approximate=()):
    """Export a Keras model of package layers to a NIR graph (and an HDF5 file).

    ``model`` maps ``(batch, time, *input)`` to ``(batch, time, *output)``: a
    converted model or a surrogate-trained one (see the module docstring for
    the layers and the parameter mapping). Returns the ``nir.NIRGraph``; with
    ``path`` also writes it with ``nir.write`` (atomically: a temporary file
    in the same folder, then renamed).

    Args:
        model: a Functional or Sequential Keras model.
        path: None, or the ``.nir`` (HDF5) file to write.
        dt: step in seconds the discrete layers are read at; None takes it from
            the layers that have one (they must agree), else 1 ms.
        integration: ``"euler"`` or ``"exact"``: the scheme under which the
            exported parameters reproduce the model exactly.
        approximate: names from ``APPROXIMATIONS`` that may be dropped.
    """
    nir = _nir()
    if not isinstance(model, keras.Model):
        raise TypeError(f"export_nir: expected a keras.Model, got {type(model).__name__}.")
    if integration not in INTEGRATIONS:
        raise ValueError(f"export_nir: integration must be one of {INTEGRATIONS}, got "
                         f"{integration!r}.")
    approximate = (approximate,) if isinstance(approximate, str) else tuple(approximate)
    unknown = sorted(set(approximate) - set(APPROXIMATIONS))
    if unknown:
        raise ValueError(f"export_nir: approximate must name some of {APPROXIMATIONS}, got "
                         f"{unknown}.")
    dt = _model_dt(model, dt)
    exporter = _Exporter(dt, integration, approximate)
    graph = _graph_of(model)
    ports = []
    for x in graph.inputs:
        shape = tuple(x.shape[1:])
        timed = not _feeds_repeat_time(graph, x)
        per_step = shape[1:] if timed else shape
        if not per_step or any(d is None for d in per_step):
            raise ConversionError(
                f"export_nir: input '{x.name}' has shape {shape}; NIR needs inputs shaped "
                "(time, *features) with known feature sizes."
            )
        node = nir.Input(input_type={"input": np.array(_to_first(per_step))})
        name = exporter.add(getattr(x._keras_history.operation, "name", "input"), node, [])
        ports.append(_Port([name], per_step))
    outputs = exporter.walk(model, ports)
    for i, port in enumerate(outputs):
        exporter.output(port, "output" if len(outputs) == 1 else f"output_{i}")
    nodes, edges = _fold_scales(exporter.nodes, exporter.edges, nir)
    metadata = {"keras_spiking": {"dt": dt, "integration": integration,
                                  "source_model": model.name}}
    result = nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata)
    if path is not None:
        _write_atomically(nir, result, path)
    return result


def _feeds_repeat_time(graph, x):
    """Whether input ``x`` is static (no time axis) and tiled by a RepeatTime."""
    for nodes in graph._nodes_by_depth.values():
        for node in nodes:
            if isinstance(node.operation, ks_layers.RepeatTime) and any(
                t is x for t in node.input_tensors
            ):
                return True
    return False


def _model_dt(model, dt):
    found = {}
    for layer in _all_layers(model):
        if isinstance(layer, ks_layers.TimeStateLayer) and getattr(layer, "dt", None):
            found[layer.name] = float(layer.dt)
    values = sorted(set(found.values()))
    if dt is None:
        if len(values) > 1:
            raise ConversionError(
                f"export_nir: the layers use different steps {found}; NIR graphs have one "
                "dt. Give all layers the same dt."
            )
        return values[0] if values else _DEFAULT_DT
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"export_nir: dt must be a number > 0 (seconds), got {dt!r}.")
    return float(dt)


def _all_layers(model):
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _all_layers(layer)
        else:
            yield layer


def _write_atomically(nir, graph, path):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".nir")
    os.close(fd)
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


# -- import ----------------------------------------------------------------------------------
_NEURONS = ("LIF", "IF", "LI", "I", "CubaLIF", "CubaLI")


def import_nir(graph_or_path, *, dt=None, integration=None, timesteps=None, name=None):
    """Build a Keras model of package layers from a NIR graph (or a ``.nir`` file).

    The model maps ``(batch, time, *input)`` to ``(batch, time, *output)`` with
    Keras' channels-last layout (a NIR input ``(C, H, W)`` becomes ``(H, W, C)``
    per step). Neurons become ``ContinuousLIF`` layers simulated at ``dt``
    seconds with ``integration`` (see ``keras_spiking.layers.continuous``);
    ``r``, ``v_leak``, ``v_reset`` and ``w_in`` are honoured, IF integrates
    ``dv/dt = r I``, Threshold is a step function, state starts at 0, and
    several edges into a node are summed.

    Args:
        graph_or_path: a ``nir.NIRGraph`` or the path of a NIR HDF5 file.
        dt: step in seconds; None takes it from the graph's keras_spiking
            metadata (NIR itself does not store one) and raises if absent.
        integration: ``"euler"`` or ``"exact"``; None takes it from the
            metadata, else ``"euler"``.
        timesteps: number of steps of the model's input, or None (any).
        name: the model's name.

    A neuron's own recurrence (a cycle neuron -> Linear/Scale -> neuron)
    becomes ``ContinuousLIF(recurrent=...)``: the previous step's output fed
    back. Nested graphs are inlined. Raises ``ConversionError`` for nodes
    without a Keras form (Delay, other cycles, pooling padding, partial Flatten).
    """
    nir = _nir()
    graph = graph_or_path
    if not isinstance(graph, nir.NIRGraph):
        graph = nir.read(os.fspath(graph_or_path))
    meta = (graph.metadata or {}).get("keras_spiking", {}) if isinstance(graph.metadata, dict) else {}
    if dt is None:
        dt = meta.get("dt")
        if dt is None:
            raise ValueError(
                "import_nir: NIR does not store the simulation step and this graph has no "
                "keras_spiking metadata; pass dt (seconds), e.g. dt=0.001."
            )
    dt = float(np.asarray(dt))
    if not dt > 0:
        raise ValueError(f"import_nir: dt must be > 0 seconds, got {dt!r}.")
    if integration is None:
        integration = meta.get("integration", "euler")
        integration = integration.decode() if isinstance(integration, bytes) else str(integration)
    if integration not in INTEGRATIONS:
        raise ValueError(f"import_nir: integration must be one of {INTEGRATIONS}, got "
                         f"{integration!r}.")
    return _Importer(nir, graph, dt, integration, timesteps).build(name)


def _inline_subgraphs(nir, graph):
    """The nodes and edges of ``graph`` with nested NIRGraphs inlined (their
    nodes named ``outer_inner``; edges into a subgraph go to the nodes after
    its Input, edges out of it leave from the nodes before its Output)."""
    nodes, edges, ports = {}, [], {}
    for key, node in graph.nodes.items():
        if not isinstance(node, nir.NIRGraph):
            nodes[key] = node
            continue
        inner_nodes, inner_edges = _inline_subgraphs(nir, node)
        ins = [k for k, n in inner_nodes.items() if isinstance(n, nir.Input)]
        outs = [k for k, n in inner_nodes.items() if isinstance(n, nir.Output)]
        if len(ins) != 1 or len(outs) != 1 or (ins[0], outs[0]) in inner_edges:
            raise _import_error(key, node, "a nested graph needs exactly one Input and one "
                                "Output, not joined directly", "flatten the graph")
        entry = [f"{key}_{b}" for a, b in inner_edges if a == ins[0]]
        exit_ = [f"{key}_{a}" for a, b in inner_edges if b == outs[0]]
        ports[key] = (entry, exit_)
        nodes.update((f"{key}_{k}", n) for k, n in inner_nodes.items() if k not in (ins[0], outs[0]))
        edges.extend((f"{key}_{a}", f"{key}_{b}") for a, b in inner_edges
                     if a != ins[0] and b != outs[0])
    for a, b in graph.edges:
        sources = ports[a][1] if a in ports else [a]
        targets = ports[b][0] if b in ports else [b]
        edges.extend((s, t) for s in sources for t in targets)
    return nodes, edges


def _import_error(name, node, why, fix):
    return ConversionError(
        f"Cannot import NIR node '{name}' ({type(node).__name__}): {why}. To fix: {fix}."
    )


class _Importer:
    def __init__(self, nir, graph, dt, integration, timesteps):
        self.nir, self.dt = nir, dt
        self.nodes, self.edges = _inline_subgraphs(nir, graph)
        self.integration, self.timesteps = integration, timesteps
        self.names = set()

    def find_loops(self):
        """Self-recurrence ``neuron -> Linear/Scale -> the same neuron``:
        ``{neuron: (weight node name, weight node)}``."""
        nodes, edges = self.nodes, self.edges
        found = {}
        for key, node in nodes.items():
            if type(node).__name__ not in ("Linear", "Scale"):
                continue
            ins = [a for a, b in edges if b == key]
            outs = [b for a, b in edges if a == key]
            if (len(ins) == 1 and outs == ins and ins[0] not in found
                    and type(nodes[ins[0]]).__name__ in _NEURONS):
                found[ins[0]] = (key, node)
        return found

    def order(self):
        """Topological order of the nodes, without self-recurrence loops (which
        become the neurons' recurrent weights); another cycle raises."""
        loops = {weight: neuron for neuron, (weight, _) in self.loops.items()}
        nodes = {k: n for k, n in self.nodes.items() if k not in loops}
        edges = [(a, b) for a, b in self.edges if a not in loops and b not in loops]
        parents = {n: [] for n in nodes}
        children = {n: [] for n in nodes}
        for a, b in edges:
            parents[b].append(a)
            children[a].append(b)
        pending = {n: len(parents[n]) for n in nodes}
        ready = [n for n in nodes if pending[n] == 0]
        order = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for c in children[n]:
                pending[c] -= 1
                if pending[c] == 0:
                    ready.append(c)
        if len(order) != len(nodes):
            cyclic = sorted(n for n in nodes if n not in order)
            node = nodes[cyclic[0]]
            raise _import_error(
                cyclic[0], node, f"the graph has a cycle through {cyclic} that is not a "
                "neuron's own recurrence (neuron -> Linear/Scale -> the same neuron), which "
                "import_nir does not map", "import a graph with only such loops",
            )
        return order, parents

    def build(self, name):
        nir = self.nir
        self.loops = self.find_loops()
        order, parents = self.order()
        tensors, inputs, outputs = {}, [], []
        for key in order:
            node = self.nodes[key]
            if isinstance(node, nir.Input):
                shape = _to_last(tuple(int(d) for d in np.asarray(node.input_type["input"])))
                x = keras.Input((self.timesteps,) + shape, name=self.unique(key))
                inputs.append(x)
                tensors[key] = x
                continue
            sources = [tensors[p] for p in parents[key]]
            if not sources:
                raise _import_error(key, node, "it has no input", "connect it")
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

    def unique(self, name):
        base, i = str(name), 1
        name = base
        while name in self.names:
            name, i = f"{base}_{i}", i + 1
        self.names.add(name)
        return name

    def fold(self, layer, x):
        return ks_layers.TimeFold(layer, name=self.unique(f"{layer.name}_timefold"))(x)

    def node(self, key, node, x):
        kind = type(node).__name__
        name = self.unique(key)
        per_step = tuple(x.shape[2:])
        if kind in ("Affine", "Linear"):
            weight = np.asarray(node.weight)
            if weight.ndim != 2:
                raise _import_error(key, node, f"weight of shape {weight.shape}", "use a 2-D weight")
            if len(per_step) != 1:
                raise _import_error(key, node, f"its input {per_step} is not a vector",
                                    "flatten first")
            bias = np.asarray(node.bias) if kind == "Affine" else None
            layer = keras.layers.Dense(weight.shape[0], use_bias=bias is not None, name=name)
            layer.build((None, None, weight.shape[1]))
            layer.set_weights([weight.T] + ([bias] if bias is not None else []))
            return layer(x)
        if kind == "Scale":
            scale = _array_to_last(np.asarray(node.scale, "float32"))
            if scale.size == 1 or np.all(scale == scale.reshape(-1)[0]):
                scale = float(scale.reshape(-1)[0])
            return keras.layers.Rescaling(scale, name=name)(x)
        if kind in ("Conv1d", "Conv2d"):
            return self.conv(key, node, x, name)
        if kind in ("AvgPool2d", "SumPool2d"):
            if np.any(np.asarray(node.padding) != 0):
                raise _import_error(key, node, "non-zero padding counts zeros into the mean "
                                    "differently in Keras", "pad with a Conv or use padding 0")
            size = tuple(int(k) for k in np.broadcast_to(node.kernel_size, (2,)))
            stride = tuple(int(k) for k in np.broadcast_to(node.stride, (2,)))
            y = self.fold(keras.layers.AveragePooling2D(size, stride, name=name), x)
            if kind == "SumPool2d":
                y = keras.layers.Rescaling(float(np.prod(size)), name=self.unique(f"{key}_sum"))(y)
            return y
        if kind == "Flatten":
            shape = _to_first(per_step)
            start, end = int(node.start_dim), int(node.end_dim) % len(shape)
            calc = shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
            if len(calc) != 1:
                raise _import_error(key, node, f"it flattens {shape} only partly (to {calc})",
                                    "flatten every axis (start_dim=0, end_dim=-1)")
            if len(per_step) > 1:  # channels-last -> NIR's channels-first order
                perm = (len(per_step),) + tuple(range(1, len(per_step)))
                x = self.fold(keras.layers.Permute(perm, name=self.unique(f"{key}_to_nir_order")), x)
            return self.fold(keras.layers.Flatten(name=name), x)
        if kind == "Threshold":
            thr = _array_to_last(np.asarray(node.threshold, "float32"))
            # tau = dt under Euler: decay 0, so v = x and s = H(x - threshold)
            return ContinuousLIF(tau=self.dt, v_threshold=thr, dt=self.dt,
                                 integration="euler", name=name)(x)
        if kind in _NEURONS:
            loop = self.loops.get(key)
            recurrent = None if loop is None else (
                "one_to_one" if type(loop[1]).__name__ == "Scale" else "dense")
            layer = ContinuousLIF(dt=self.dt, integration=self.integration, name=name,
                                  recurrent=recurrent, **self.neuron_params(node, kind))
            y = layer(x)
            if loop is not None:
                if recurrent == "dense":
                    kernel = np.asarray(loop[1].weight, "float32").T
                else:
                    kernel = np.broadcast_to(_array_to_last(loop[1].scale), per_step)
                layer.set_weights([np.asarray(kernel, "float32")])
            return y
        raise _import_error(
            key, node, "import_nir has no Keras form for it (supported: Input, Output, "
            "Affine, Linear, Scale, Conv1d, Conv2d, AvgPool2d, SumPool2d, Flatten, "
            "Threshold, " + ", ".join(_NEURONS) + ")", "remove or replace it",
        )

    @staticmethod
    def neuron_params(node, kind):
        def get(field):
            return _array_to_last(np.asarray(getattr(node, field), "float64"))

        params = {"r": get("r")}
        if kind in ("LIF", "LI"):
            params.update(tau=get("tau"), v_leak=get("v_leak"))
        if kind in ("CubaLIF", "CubaLI"):
            params.update(tau=get("tau_mem"), tau_syn=get("tau_syn"), v_leak=get("v_leak"),
                          w_in=get("w_in"))
        if kind in ("LIF", "IF", "CubaLIF"):
            params.update(v_threshold=get("v_threshold"), v_reset=get("v_reset"))
        else:
            params.update(v_threshold=None)
        if kind in ("IF", "I"):
            params.update(tau=None)
        # one value for all neurons stays a scalar (a short config)
        return {k: (v if v is None or np.ndim(v) == 0 or np.ptp(v) > 0 else float(v.flat[0]))
                for k, v in params.items()}

    def conv(self, key, node, x, name):
        weight = np.asarray(node.weight, "float32")
        rank = weight.ndim - 2
        per_step = tuple(x.shape[2:])
        if len(per_step) != rank + 1:
            raise _import_error(key, node, f"its input {per_step} does not have {rank} spatial "
                                "axes and channels", "feed it a channels-first tensor")
        def pair(v):
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
                x = self.fold(
                    (keras.layers.ZeroPadding1D if rank == 1 else keras.layers.ZeroPadding2D)(
                        pads[0] if rank == 1 else pads, name=self.unique(f"{key}_padding")), x)
            keras_padding = "valid"
        cls = keras.layers.Conv1D if rank == 1 else keras.layers.Conv2D
        bias = np.asarray(node.bias, "float32")
        layer = cls(weight.shape[0], kernel_size, strides=stride,
                    padding=keras_padding, dilation_rate=dilation,
                    groups=int(node.groups), name=name)
        y = self.fold(layer, x)
        kernel = np.transpose(weight, tuple(range(2, rank + 2)) + (1, 0))
        layer.set_weights([kernel, np.broadcast_to(bias, (weight.shape[0],))])
        return y

