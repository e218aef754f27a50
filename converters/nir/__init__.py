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

A static input (``convert(static_input=True)``: a RepeatTime after the
layers computed once) is NIR's input itself, given at every step, and those
layers are exported per step (metadata ``static_input: True``).

What NIR cannot express raises ``ConversionError`` naming the layer, unless
the approximation is accepted by name in ``approximate``:

* ``"refractory"``: drop ``SpikingLIF``'s ``tau_ref`` (NIR has no refractory period);
* ``"voltage_floor"``: drop ``SpikingLIF``'s clipping of the voltage at 0;
* ``"subtract_reset"``: export reset-by-subtraction as reset to 0;
* ``"initial_voltage"``: drop a non-zero initial voltage (NIR starts at 0).

Where each job lives (``nir`` itself is imported only when ``export_nir`` or
``import_nir`` is first called; the modules below import it at their top):

=======================  =========================================================
module                   job
=======================  =========================================================
``layout.py``            channels-last <-> channels-first shapes, weights and
                         flatten orders; ``Port``, the exporter's tensor
``describe.py``          each neuron/filter family's discrete update, read from
                         its attributes (the only place that reads them)
``exporter.py``          the exporter's state and ``@exports``, its per-class
                         registry of rules (exact classes)
``export_layers.py``     one rule per stateless Keras layer and time wrapper
``export_neurons.py``    the rule of every neuron and filter, from its description
``export.py``            the walk over the Keras model, ``export_graph``
``graph_ops.py``         NIR graph surgery: scale folding, subgraph inlining,
                         neurons' own loops, topological order
``import_.py``           NIR -> Keras: ``@imports``, one rule per NIR node class
``tools.py``             ``for_tool``: the exact graph rewritten for snnTorch's or
                         Norse's importer (their step, gains, nodes, Flatten)
``files.py``             atomic writing and checked reading of ``.nir`` files
``errors.py``            the two error messages (export, import)
=======================  =========================================================
"""

import keras
import numpy as np

from keras_spiking.layers.continuous import INTEGRATIONS
from .library import load_nir
from keras_spiking.validation import check_choice

__all__ = ["APPROXIMATIONS", "TOOLS", "export_nir", "import_nir"]

#: approximations ``export_nir`` accepts by name
APPROXIMATIONS = ("refractory", "voltage_floor", "subtract_reset", "initial_voltage")
#: the reading tools ``export_nir(for_tool=...)`` writes for (see ``tools.py``)
TOOLS = ("nir", "snntorch", "norse")


def export_nir(model, path=None, *, dt=None, integration="euler", approximate=(),
               for_tool="nir"):
    """Export a Keras model of package layers to a NIR graph (and an HDF5 file).

    ``model`` maps ``(batch, time, *input)`` to ``(batch, time, *output)``: a
    converted model or a surrogate-trained one (see the module docstring for
    the layers and the parameter mapping). Returns the ``nir.NIRGraph``; with
    ``path`` also writes it (atomically: a new file in the same folder, then
    renamed over ``path``, so a failed write leaves the old file as it was).

    Args:
        model: a Functional or Sequential Keras model.
        path: None, or the ``.nir`` (HDF5) file to write.
        dt: step in seconds the discrete layers are read at; None takes it from
            the layers that have one (they must agree), else 1 ms.
        integration: ``"euler"`` or ``"exact"``: the scheme under which the
            exported parameters reproduce the model exactly.
        approximate: names from ``APPROXIMATIONS`` that may be dropped.
        for_tool: the tool that will read the graph (``TOOLS``): ``"nir"`` (default)
            writes NIR's exact graph; ``"snntorch"`` / ``"norse"`` write an
            equivalent graph in that tool's conventions (its step, gains in the
            weights, its node set; ``converters/nir/tools.py``) that it simulates
            as this model does, or raise ``ConversionError`` for what it cannot run.
    """
    load_nir()
    if not isinstance(model, keras.Model):
        raise TypeError(f"export_nir: expected a keras.Model, got {type(model).__name__}.")
    check_choice("export_nir", "integration", integration, INTEGRATIONS)
    check_choice("export_nir", "for_tool", for_tool, TOOLS)
    if for_tool != "nir" and integration != "euler":
        raise ValueError(f"export_nir: for_tool={for_tool!r} simulates forward Euler; pass "
                         "integration='euler' (the default).")
    approximate = (approximate,) if isinstance(approximate, str) else tuple(approximate)
    unknown = sorted(set(approximate) - set(APPROXIMATIONS))
    if unknown:
        raise ValueError(f"export_nir: approximate must name some of {APPROXIMATIONS}, got "
                         f"{unknown}.")
    from . import export, files

    graph = export.export_graph(model, dt, integration, approximate, for_tool)
    if path is not None:
        files.write(graph, path)
    return graph


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
    without a Keras form (Delay, other cycles, pooling padding, partial
    Flatten), FileNotFoundError for a missing file and ValueError for a file
    that is not NIR.
    """
    nir = load_nir()
    from . import files, import_

    graph = graph_or_path
    if not isinstance(graph, nir.NIRGraph):
        graph = files.read(graph_or_path)
    meta = graph.metadata if isinstance(graph.metadata, dict) else {}
    meta = meta.get("keras_spiking", {})
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
    check_choice("import_nir", "integration", integration, INTEGRATIONS)
    return import_.build(graph, dt, integration, timesteps, name)
