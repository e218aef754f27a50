"""NIR graphs in the conventions of the tools that read them: ``export_nir(for_tool=...)``.

Our exact export (``for_tool="nir"``) is right by NIR's definition, but the
importers of other tools read NIR their own way (nir 1.0.8, snnTorch 1.0,
Norse 1.1; facts from their import code):

* **snnTorch** (``snntorch.import_nir.import_from_nir``) simulates at a fixed
  ``dt = 1e-4`` s: ``beta = 1 - dt / tau``, input gain ``r dt / tau`` (LIF;
  CubaLIF: ``alpha = 1 - dt / tau_syn``, ``w_in dt / tau_syn``, and ``r`` must
  be ``tau_mem / dt``), a layer-wide threshold, ``v_leak = 0``, reset to 0; NIR's
  IF becomes a Leaky with ``beta = 0.9``; no Scale, LI, I or Threshold node.
* **Norse** (``norse.torch.from_nir``, default ``dt = 1e-3``) drops LIF's and
  IF's ``r`` and IF's ``dt`` (``v += I``), feeds CubaLIF's ``v_leak`` to its
  synapse too, resets to 0, has no Scale, AvgPool2d, Conv1d, LI, I, Threshold
  or recurrence (unknown nodes are dropped silently).
* Both flatten with ``torch.nn.Flatten(start_dim, end_dim)`` on batched
  tensors, so NIR's per-sample ``start_dim = 0`` flattens the batch too.

``adapt`` rewrites the exact graph (written at the model's ``dt``) into an
equivalent one each tool simulates step for step as our model does, or raises
``ConversionError`` naming the layer, what the tool cannot run and the fix:

1. time is rescaled to the tool's step ``dt'``: every ``tau`` times
   ``dt' / dt``, IF's ``r`` times ``dt / dt'`` (forward Euler's per-step decay
   ``1 - dt / tau`` and gain ``r dt / tau`` are unchanged);
2. the neurons' input gain goes into the weights before them (rows of an
   Affine/Linear and its bias, output channels of a Conv), leaving snnTorch
   ``r = tau / dt'`` (CubaLIF also ``w_in = tau_syn / dt'``) and Norse ``r = 1``
   (IF ``r = 1 / dt'``, NIR's value for ``v += I``: Norse logs that it expected
   ``r = 1`` and ignores it, which is right here; ``ignore_warnings=True``
   silences it);
3. snnTorch: IF becomes a LIF with ``tau = 1e4`` s, whose decay ``1 - 1e-8``
   rounds to 1.0 in float32, i.e. snnTorch's Leaky with ``beta = 1``;
4. Norse: AvgPool2d becomes SumPool2d and a Scale ``1 / window`` that
   ``graph_ops.fold_scales`` moves into the next weights;
5. a neuron's one-to-one recurrence (a Scale) becomes a diagonal Linear;
6. Flatten gets ``start_dim = -ndim``, ``end_dim = -1``: the same per sample,
   and the tools keep the batch axis.

The graph's metadata says ``dt = dt'`` (``import_nir`` of the adapted graph
gives the same spikes), ``for_tool`` and the model's own ``model_dt``.
"""

import numpy as np

from .graph_ops import fold_scales
from .library import load_nir
from ..base import ConversionError

nir = load_nir()

#: the step (seconds) each tool simulates an imported graph at
TOOL_DT = {"snntorch": 1e-4, "norse": 1e-3}

#: snnTorch's stand-in for IF: a LIF whose float32 decay 1 - 1e-4 / tau is exactly 1
IF_TAU = 1e4

#: the NIR node classes each tool's importer maps
SUPPORTED = {
    "snntorch": (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d,
                 nir.Flatten, nir.AvgPool2d, nir.SumPool2d, nir.LIF, nir.CubaLIF),
    "norse": (nir.Input, nir.Output, nir.Affine, nir.Linear, nir.Conv2d, nir.Flatten,
              nir.SumPool2d, nir.IF, nir.LIF, nir.CubaLIF),
}

_NAMES = {"snntorch": "snnTorch", "norse": "Norse"}
_WEIGHTED = (nir.Affine, nir.Linear, nir.Conv1d, nir.Conv2d)


def _error(tool, key, origin, why, fix):
    """``ConversionError`` naming the Keras layer of node ``key``, like ``export_error``."""
    layer, kind = origin.get(key, (key, "NIR node"))
    return ConversionError(f"Cannot export layer '{layer}' ({kind}) to NIR for {_NAMES[tool]}: "
                           f"{_NAMES[tool]}'s NIR importer {why}. To fix: {fix}.")


def adapt(nodes, edges, origin, dt, tool):
    """``(nodes, edges, metadata)``: the exact graph (at step ``dt``) rewritten for
    ``tool`` (see the module docstring); ``origin`` maps node names to
    ``(layer name, layer class name)``."""
    new_dt = TOOL_DT[tool]
    ctx = _Context(nodes, edges, origin, tool)
    for key in list(nodes):
        node = nodes[key]
        if not ctx.is_recurrent_weight(key):
            continue
        if tool == "snntorch":
            raise ctx.error(key, "fails on recurrent graphs (a nirtorch AttributeError, for "
                            "its own RLeaky exports too)", "use a feed-forward neuron (Leaky, "
                            "Synaptic), or export for_tool='norse' or 'nir'")
        if isinstance(node, nir.Scale):
            nodes[key] = nir.Linear(weight=np.diag(np.ravel(node.scale)).astype("float32"))
    for key, node in list(nodes.items()):
        if isinstance(node, (nir.LIF, nir.IF, nir.CubaLIF, nir.LI, nir.CubaLI, nir.I)):
            nodes[key] = _neuron(ctx, key, node, dt, new_dt)
        elif isinstance(node, nir.AvgPool2d) and tool == "norse":
            _avg_to_sum(ctx, key, node)
        elif isinstance(node, nir.Flatten):
            ndim = len(node.input_type["input"])
            nodes[key] = nir.Flatten(input_type=node.input_type, start_dim=-ndim, end_dim=-1)
    nodes, edges = fold_scales(ctx.nodes, ctx.edges)
    ctx.nodes, ctx.edges = nodes, edges
    for key, node in nodes.items():
        ctx.check_supported(key, node)
    return nodes, edges, {"dt": new_dt, "for_tool": tool, "model_dt": dt}


class _Context:
    """The graph being adapted and what the error messages need."""

    def __init__(self, nodes, edges, origin, tool):
        self.nodes, self.edges, self.origin, self.tool = nodes, edges, origin, tool

    def inputs(self, key):
        return [a for a, b in self.edges if b == key]

    def outputs(self, key):
        return [b for a, b in self.edges if a == key]

    def is_recurrent_weight(self, key):
        """``key`` is a neuron's own loop weight (neuron -> key -> the neuron)."""
        ins = self.inputs(key)
        return len(ins) == 1 and self.outputs(key) == ins

    def error(self, key, why, fix):
        return _error(self.tool, key, self.origin, why, fix)

    def check_supported(self, key, node):
        """Refuse what the tool does not map (it would fail, or drop it silently)."""
        if type(node) in SUPPORTED[self.tool]:  # exact classes, as the importers match them
            return
        kind = type(node).__name__
        if isinstance(node, nir.Scale):
            fix = ("put a Dense or Conv after it (a uniform Scale is folded into the next "
                   "weights), or export for_tool='nir'")
            why = "has no Scale node, and this one could not be folded into the weights after it"
        elif isinstance(node, (nir.LI, nir.CubaLI, nir.I)):
            why = f"has no {kind} node (a non-spiking neuron or synaptic filter)"
            fix = ("convert with synapse=None and a linear readout, or export for_tool='nir'")
        else:
            why = f"has no {kind} node"
            fix = "replace the layer, or export for_tool='nir'"
        raise self.error(key, why, fix)

    def fold_into_inputs(self, key, factor):
        """Multiply the weights before neuron ``key`` by ``factor`` (per neuron, NIR order)."""
        factor = np.asarray(factor, "float64")
        if np.allclose(factor, 1.0, rtol=1e-6, atol=0):
            return
        for source in self.inputs(key):
            weight = self.nodes[source]
            if not isinstance(weight, _WEIGHTED) or self.outputs(source) != [key]:
                raise self.error(key, "reads a neuron's input gain only from the weights "
                                 "before it, and this neuron's input is not a Dense/Conv that "
                                 "feeds it alone", "put a Dense or Conv right before the neuron "
                                 "(as a converted or surrogate-trained network has), or export "
                                 "for_tool='nir'")
            self.nodes[source] = _scaled(self, key, weight, factor)


def _scaled(ctx, key, weight, factor):
    """``weight`` (an Affine/Linear/Conv node) with its output rows (channels) times
    ``factor``, one number per neuron of ``key`` in NIR's layout."""
    rows = np.asarray(weight.weight).shape[0]
    per_row = np.broadcast_to(factor, (rows,)) if factor.ndim == 0 else factor.reshape(rows, -1)
    if per_row.ndim == 2:
        if not np.allclose(per_row, per_row[:, :1], rtol=1e-6, atol=0):
            raise ctx.error(key, "takes a neuron's gain into a convolution only as one number "
                            "per channel, and this layer's differ across the image",
                            "use one parameter per channel, or export for_tool='nir'")
        per_row = per_row[:, 0]
    rows = per_row.reshape((-1,) + (1,) * (weight.weight.ndim - 1))
    new_weight = np.asarray(weight.weight * rows, "float32")
    if isinstance(weight, nir.Linear):
        return nir.Linear(weight=new_weight)
    bias = np.asarray(weight.bias * per_row, "float32")
    if isinstance(weight, nir.Affine):
        return nir.Affine(weight=new_weight, bias=bias)
    return type(weight)(input_shape=weight.input_shape, weight=new_weight, stride=weight.stride,
                        padding=weight.padding, dilation=weight.dilation, groups=weight.groups,
                        bias=bias)


def _uniform(ctx, key, what, value):
    """``value`` (a per-neuron array), refused unless it is one number for the layer."""
    value = np.asarray(value)
    if np.ptp(value) > 1e-6 * max(np.max(np.abs(value)), 1e-30):
        raise ctx.error(key, f"takes one {what} per layer, and this layer's differ",
                        f"use one {what} for the layer, or export for_tool='nir'")


def _zero(ctx, key, what, value, why):
    if np.any(np.asarray(value) != 0):
        raise ctx.error(key, why, f"use {what} = 0, or export for_tool='nir'")


def _neuron(ctx, key, node, dt, new_dt):
    """A neuron node rescaled to ``new_dt`` with its input gain in the weights before it."""
    tool = ctx.tool
    f32 = lambda v: np.asarray(v, "float32")  # noqa: E731
    time = new_dt / dt
    if isinstance(node, (nir.LI, nir.CubaLI, nir.I)):
        return node  # refused by check_supported (neither tool has it)
    _zero(ctx, key, "v_reset", node.v_reset, "resets every neuron to 0 (it ignores v_reset)")
    if isinstance(node, nir.IF):
        gain = np.asarray(node.r, "float64") * dt  # v <- v + gain I per step
        if tool == "norse":
            ctx.fold_into_inputs(key, gain)
            return nir.IF(r=f32(np.full_like(gain, 1 / new_dt)), v_threshold=node.v_threshold,
                          v_reset=node.v_reset)
        _uniform(ctx, key, "threshold", node.v_threshold)
        ctx.fold_into_inputs(key, gain)
        tau = np.full_like(gain, IF_TAU)
        return nir.LIF(tau=f32(tau), r=f32(tau / new_dt), v_leak=f32(np.zeros_like(gain)),
                       v_threshold=node.v_threshold, v_reset=node.v_reset)
    if isinstance(node, nir.LIF):
        tau = np.asarray(node.tau, "float64") * time
        gain = np.asarray(node.r, "float64") * dt / np.asarray(node.tau, "float64")
        if tool == "snntorch":
            _zero(ctx, key, "v_leak", node.v_leak, "has no leak potential (v_leak)")
            _uniform(ctx, key, "threshold", node.v_threshold)
            ctx.fold_into_inputs(key, gain)
            r = tau / new_dt
        else:
            ctx.fold_into_inputs(key, node.r)
            r = np.ones_like(tau)
        return nir.LIF(tau=f32(tau), r=f32(r), v_leak=node.v_leak,
                       v_threshold=node.v_threshold, v_reset=node.v_reset)
    # CubaLIF
    tau_syn = np.asarray(node.tau_syn, "float64") * time
    tau_mem = np.asarray(node.tau_mem, "float64") * time
    _zero(ctx, key, "v_leak", node.v_leak, "has no leak potential (v_leak) for CubaLIF"
          if tool == "snntorch" else "feeds CubaLIF's v_leak to its synapse as well")
    r, w_in = np.asarray(node.r, "float64"), np.asarray(node.w_in, "float64")
    if tool == "snntorch":
        _uniform(ctx, key, "threshold", node.v_threshold)
        gain = (r * dt / np.asarray(node.tau_mem, "float64")) * (
            w_in * dt / np.asarray(node.tau_syn, "float64"))
        ctx.fold_into_inputs(key, gain)
        r, w_in = tau_mem / new_dt, tau_syn / new_dt
    return nir.CubaLIF(tau_syn=f32(tau_syn), tau_mem=f32(tau_mem), r=f32(r), v_leak=node.v_leak,
                       w_in=f32(w_in), v_threshold=node.v_threshold, v_reset=node.v_reset)


def _avg_to_sum(ctx, key, node):
    """AvgPool2d -> SumPool2d then a uniform Scale ``1 / window`` (folded later)."""
    ctx.nodes[key] = nir.SumPool2d(kernel_size=node.kernel_size, stride=node.stride,
                                   padding=node.padding)
    scale_key = f"{key}_mean"
    while scale_key in ctx.nodes:
        scale_key += "_"
    window = float(np.prod(node.kernel_size))
    # the Scale's shape: the pooled output's (NIR type inference fills it in later)
    ctx.nodes[scale_key] = nir.Scale(scale=np.array([1.0 / window], "float32"))
    ctx.origin[scale_key] = ctx.origin.get(key, (key, "node"))
    ctx.edges[:] = [(scale_key if a == key else a, b) for a, b in ctx.edges]
    ctx.edges.append((key, scale_key))
