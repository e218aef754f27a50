"""Energy estimates: what one inference of a model costs on a device.

``ModelEnergy(model, example_data)`` counts, for every layer of a Keras model
(a plain ANN, a converted model from ``keras_spiking.converters.convert`` or a
surrogate-gradient model with ``Leaky`` & co.), per timestep:

* ``macs``: multiply-accumulates of its synapses, i.e. connections from input
  elements to output elements (Dense: ``in * out``; Conv: ``output elements *
  kernel size * in_channels / groups``; depthwise conv and average pooling:
  ``output elements * kernel size``);
* ``neurons``: neuron updates (elements of the output of a neuron layer or of a
  nonlinear activation);
* ``activity``: with ``example_data``, the measured fraction of nonzero inputs
  of each synaptic layer per step (spikes per input per step for a spiking
  input; ``1`` if nothing was measured, every input counts).

Devices turn counts into joules per inference of ``timesteps`` steps:

* a *non-spiking* device (CPU, GPU) runs the network as an ANN, one pass, every
  connection computed: ``E = macs * energy_per_op + neurons * energy_per_neuron``
  (independent of ``timesteps`` and of the activity);
* a *spiking* (event-driven) device only computes a connection when its input
  is nonzero, and updates every neuron every step:
  ``E = timesteps * (macs * activity * energy_per_synop + neurons * energy_per_neuron)``.

Every figure is a lower bound of the computation alone: moving data on and off
a chip, between cores or from DRAM is not counted, and the device figures are
published per-operation energies, not measurements of this model.
"""

import dataclasses
import warnings

import keras
import numpy as np
from keras import ops

from keras_spiking.graph import calls, functional_graph
from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.validation import check_bool, check_number, check_positive_integer

OWNER = "ModelEnergy"


@dataclasses.dataclass(frozen=True)
class Device:
    """Per-operation energies of a device, in joules.

    ``energy_per_op``: J per multiply-accumulate (non-spiking devices);
    ``energy_per_synop``: J per synaptic event, one nonzero input reaching one
    synapse (spiking devices); ``energy_per_neuron``: J per neuron update.
    """

    name: str
    spiking: bool
    energy_per_neuron: float
    energy_per_op: float = None
    energy_per_synop: float = None
    source: str = ""


DEVICES = {}


def register_device(name, *, spiking, energy_per_neuron, energy_per_op=None,
                    energy_per_synop=None, source=""):
    """Add (or replace) a device: its energies in joules per operation.

    A spiking device needs ``energy_per_synop`` (J per synaptic event) and a
    non-spiking device ``energy_per_op`` (J per multiply-accumulate); both need
    ``energy_per_neuron`` (J per neuron update). ``source`` says where the
    figures come from. Returns the ``Device``.

    Example::

        register_device("my-chip", spiking=True, energy_per_synop=5e-12,
                        energy_per_neuron=20e-12, source="datasheet, 2026")
    """
    owner = "register_device"
    if not isinstance(name, str) or not name:
        raise TypeError(f"{owner}: name must be a non-empty string, got {name!r}.")
    check_bool(owner, "spiking", spiking)
    needed, unused = (("energy_per_synop", "energy_per_op") if spiking
                      else ("energy_per_op", "energy_per_synop"))
    values = {"energy_per_neuron": energy_per_neuron, "energy_per_op": energy_per_op,
              "energy_per_synop": energy_per_synop}
    if values[needed] is None:
        raise ValueError(
            f"{owner}: a {'spiking' if spiking else 'non-spiking'} device needs "
            f"{needed} (joules), got None for device {name!r}.")
    if values[unused] is not None:
        raise ValueError(
            f"{owner}: {unused} is not used by a {'spiking' if spiking else 'non-spiking'} "
            f"device (it pays {needed}); drop it or set spiking={not spiking}.")
    for key in ("energy_per_neuron", needed):
        values[key] = float(check_number(owner, key, values[key], low=0))
    device = Device(name=name, spiking=spiking, source=str(source), **values)
    DEVICES[name] = device
    return device


def get_device(name):
    """The registered ``Device`` called ``name`` (a ``Device`` passes through)."""
    if isinstance(name, Device):
        return name
    if name not in DEVICES:
        raise ValueError(
            f"ModelEnergy: unknown device {name!r}; known devices are "
            f"{sorted(DEVICES)}. Add one with keras_spiking.energy.register_device.")
    return DEVICES[name]


# Degnan, Marr & Hasler, "Assessing trends in performance per watt for signal
# processing applications", IEEE TVLSI 24(1):58-66, 2016 (online 2015),
# https://ieeexplore.ieee.org/abstract/document/7054508: energy per
# multiply-accumulate of an Intel i7-4960X CPU (8.6 nJ) and an Nvidia GTX
# Titan Black GPU (0.3 nJ); a neuron update counts as one operation. These
# are the figures behind KerasSpiking's "cpu" and "gpu" devices (its documented
# example outputs give 8.6e-9 and 3.0e-10 J per operation).
_DEGNAN = "Degnan, Marr & Hasler 2016, IEEE TVLSI 24(1):58-66"
register_device("cpu", spiking=False, energy_per_op=8.6e-9, energy_per_neuron=8.6e-9,
                source=_DEGNAN + " (Intel i7-4960X)")
register_device("gpu", spiking=False, energy_per_op=0.3e-9, energy_per_neuron=0.3e-9,
                source=_DEGNAN + " (Nvidia GTX Titan Black, large batches)")
# Davies et al., "Loihi: a neuromorphic manycore processor with on-chip
# learning", IEEE Micro 38(1):82-99, 2018, doi:10.1109/MM.2018.112130359,
# Table 2 (SPICE, 0.75 V): synaptic spike operation 23.6 pJ (minimum), neuron
# update 81 pJ (active; 52 pJ inactive). Spike routing between cores
# (1.7 pJ within a tile, 3-4 pJ per mesh hop) is not counted.
register_device("loihi", spiking=True, energy_per_synop=23.6e-12,
                energy_per_neuron=81e-12,
                source="Davies et al. 2018, IEEE Micro 38(1):82-99, Table 2")


@dataclasses.dataclass
class LayerEnergy:
    """Counts of one layer call, per timestep and per sample.

    ``once``: the layer acts on a static input before ``RepeatTime`` (a
    converted model's first layer with ``static_input=True``), so it runs
    once per inference, not once per step. ``activity`` is the fraction of
    nonzero inputs per step (None: not measured); ``synops`` =
    ``macs * activity`` (``macs`` if not measured).
    """

    name: str
    type: str
    macs: int
    neurons: int
    once: bool = False
    activity: float = None

    @property
    def synops(self):
        return self.macs * (1.0 if self.activity is None else self.activity)


def _size(shape):
    if any(d is None for d in shape):
        raise ValueError(
            f"ModelEnergy: cannot count a layer with unknown dimensions {shape}; "
            "give the model fixed feature shapes (only batch and time may be None).")
    return int(np.prod(shape, dtype=np.int64))


def _nonlinear(activation):
    return activation is not None and getattr(activation, "__name__", "") != "linear"


def _channels(layer, shape):
    first = getattr(layer, "data_format", "channels_last") == "channels_first"
    return shape[0] if first else shape[-1]


def layer_counts(layer, in_shape, out_shape):
    """``(macs, neurons)`` of one call of ``layer`` per sample and timestep.

    ``in_shape``/``out_shape`` exclude batch (and time). The layer's
    ``layer_facts`` decide: neurons update once per input unit, nonlinear
    activations once per output element, ``connections`` give the MACs.
    Returns None for a layer with weights this function does not know (its
    cost is not counted).
    """
    facts = facts_of(layer)
    out_size = _size(out_shape)
    if facts.pool == "spike":
        return 0, 0  # comparisons and gating, no multiply-accumulates
    if facts.time_axis == "wraps":
        return layer_counts(layer.layer, in_shape, out_shape)
    if facts.role == "neuron":
        return 0, _size(in_shape)  # one update per unit (also without return_sequences)
    if facts.role == "activation":  # keras.layers.Activation: only a nonlinear one
        linear = hasattr(layer, "activation") and not _nonlinear(layer.activation)
        return 0, 0 if linear else out_size
    neurons = out_size if _nonlinear(getattr(layer, "activation", None)) else 0
    if facts.connections == "dense":
        return _size(in_shape) * layer.units, neurons
    if facts.connections == "depthwise":
        return out_size * _size(layer.kernel_size), neurons
    if facts.connections == "conv":
        groups = getattr(layer, "groups", 1)
        per_output = _size(layer.kernel_size) * _channels(layer, in_shape) // groups
        return out_size * per_output, neurons
    if facts.connections == "pool":
        return out_size * _size(layer.pool_size), 0
    if facts.connections == "global_pool":
        return _size(in_shape), 0
    if layer.weights and facts.role != "normalization":
        return None
    return 0, neurons


def recurrent_macs(layer, units_shape):
    """Multiply-accumulates per step of a neuron's recurrent weight, read from
    its dynamics (``neurons.Dynamics.recurrent``; 0 without one): ``units *
    units`` per position for a dense weight (times the kernel size if
    convolutional), one per unit for a one-to-one weight."""
    if not isinstance(layer, DynamicsLayer):
        return 0
    d = layer.dynamics()
    if d.recurrent is None:
        return 0
    size = _size(units_shape)
    if d.recurrent == "one_to_one":
        return size
    kernel = np.shape(d.recurrent_kernel)[:-2]  # the spatial extent of a "conv" kernel
    return size * units_shape[-1] * _size(kernel)


class ModelEnergy:
    """Synaptic operations, neuron updates and energy per inference of a model.

    Counts per timestep and sample (see the module docstring for the rules):
    ``macs`` (every connection), ``synops`` (connections whose input is
    nonzero, measured on ``example_data``) and ``neurons`` (neuron updates).
    In a model with a time axis (package layers over ``(batch, time, ...)``)
    the counts are per step; in a plain ANN one pass is one step.

    Args:
        model: a built Keras model (Functional or Sequential, not nested).
        example_data: inputs the model accepts; runs the model on them to
            measure each synaptic layer's input activity (fraction of nonzero
            input elements per step). Needed for spiking devices.
        dt: seconds per timestep, only to show activity in Hz; by default the
            ``dt`` of the model's neuron layers, if they have one.
        batch_size: samples per call when measuring the activity.

    Attributes:
        layers: one ``LayerEnergy`` per layer call (plus one per recurrent
            weight), in graph order: name, type, macs, neurons, activity, synops.

    Example::

        energy = ModelEnergy(snn, example_data=x_test[:200])
        energy.summary(devices=("cpu", "loihi"), timesteps=32)
        joules = energy.total_energy("loihi", timesteps=32)
    """

    def __init__(self, model, example_data=None, *, dt=None, batch_size=64):
        if not isinstance(model, keras.Model):
            raise TypeError(f"ModelEnergy: model must be a keras.Model, got {model!r}.")
        if dt is not None:
            dt = float(check_number("ModelEnergy", "dt", dt, low=0, low_open=True))
        self.model = model
        self.dt = dt if dt is not None else self._model_dt(model)
        self.layers, inputs, graph_inputs = self._count(model)
        self.measured = example_data is not None
        if self.measured:
            batch_size = check_positive_integer(OWNER, "batch_size", batch_size)
            self._measure(graph_inputs, inputs, example_data, batch_size)

    @staticmethod
    def _model_dt(model):
        for layer in model.layers:
            if facts_of(layer).role == "neuron" and getattr(layer, "dt", None):
                return float(layer.dt)
        return None

    def _count(self, model):
        """One ``LayerEnergy`` per layer call, the tensor whose activity it
        pays for, and the graph's inputs."""
        graph_inputs = list(functional_graph(model, OWNER).inputs)
        found = calls(model, inline=False, owner=OWNER)
        for call in found:
            if isinstance(call.layer, keras.Model):
                raise ValueError(
                    f"ModelEnergy: '{model.name}' contains the nested model "
                    f"'{call.layer.name}'; build one flat model (call the inner "
                    "layers directly) to count it.")
        # which values carry a time axis: those downstream of RepeatTime, and
        # all values if a time layer is fed from the inputs without RepeatTime
        repeated = set()
        for call in found:
            if facts_of(call.layer).time_axis == "adds" or any(
                    i in repeated for i in call.input_ids):
                repeated.update(call.output_ids)
        timed_inputs = any(
            facts_of(call.layer).time_axis in ("wraps", "scans")
            and not any(i in repeated for i in call.input_ids) for call in found)
        timed = {}  # value number -> has a time axis; missing: a model input
        source = {}  # spike source of a value: synaptic filters are linear and
        # move to the postsynaptic side on hardware, so events are their inputs
        stats, inputs, unknown = [], [], []
        for call in found:
            layer, facts = call.layer, facts_of(call.layer)
            x, y = call.inputs[0], call.outputs[0]
            x_id, y_id = call.input_ids[0], call.output_ids[0]
            x_timed = any(timed.get(i, timed_inputs) for i in call.input_ids)
            y_timed = x_timed or facts.time_axis == "adds"
            if facts.time_axis == "scans" and not getattr(layer, "return_sequences", True):
                y_timed = False
            timed.update((i, y_timed) for i in call.output_ids)
            if facts.role == "filter":
                source[y_id] = source.get(x_id, x)
            in_shape = tuple(x.shape[2:] if x_timed else x.shape[1:])
            out_shape = tuple(y.shape[2:] if y_timed else y.shape[1:])
            counts = layer_counts(layer, in_shape, out_shape)
            if counts is None:
                unknown.append(layer.name)
                counts = (0, 0)
            once = timed_inputs is False and bool(repeated) and not x_timed
            stats.append(LayerEnergy(layer.name, type(layer).__name__, *counts,
                                     once=once))
            inputs.append(source.get(x_id, x))
            feedback = recurrent_macs(layer, in_shape)
            if feedback:  # events: the layer's own spikes of the previous step
                spikes = layer.outputs_spikes and layer.return_sequences
                stats.append(LayerEnergy(f"{layer.name}/recurrent", type(layer).__name__,
                                         feedback, 0))
                inputs.append(y if spikes else None)
        if unknown:
            warnings.warn(
                f"ModelEnergy: no counting rule for the layers {unknown} (they have "
                "weights); their synaptic operations are not counted.", stacklevel=3)
        return stats, inputs, graph_inputs

    def _measure(self, graph_inputs, inputs, data, batch_size):
        """Fraction of nonzero inputs of every synaptic layer, over ``data``."""
        synaptic = [i for i, s in enumerate(self.layers)
                    if s.macs > 0 and inputs[i] is not None]
        if not synaptic:
            return
        fractions = []
        for i in synaptic:
            x = inputs[i]
            axes = tuple(range(1, len(x.shape)))
            fractions.append(ops.mean(ops.cast(ops.not_equal(x, 0), "float32"), axis=axes))
        probe = keras.Model(graph_inputs[0] if len(graph_inputs) == 1 else graph_inputs,
                            fractions)
        multi = isinstance(data, (list, tuple))
        arrays = data if multi else [data]
        if not all(hasattr(a, "__len__") and hasattr(a, "__getitem__") for a in arrays):
            raise TypeError(
                "ModelEnergy: example_data must be an array (or a list of arrays, one "
                f"per model input), got {type(data).__name__}; take a batch of a "
                "dataset as a numpy array first.")
        n = len(arrays[0])
        if n == 0:
            raise ValueError("ModelEnergy: example_data is empty.")
        sums = np.zeros(len(synaptic))
        for start in range(0, n, batch_size):
            if multi:
                batch = [np.asarray(d[start:start + batch_size], "float32") for d in data]
            else:
                batch = np.asarray(data[start:start + batch_size], "float32")
            values = probe(batch, training=False)
            values = values if isinstance(values, (list, tuple)) else [values]
            sums += [float(np.sum(ops.convert_to_numpy(v))) for v in values]
        for i, total in zip(synaptic, sums):
            self.layers[i].activity = total / n

    def totals(self, once=False):
        """``(macs, synops, neurons)`` summed over the layers that run every
        step (``once=False``) or once per inference (``once=True``: layers on
        a static input before ``RepeatTime``)."""
        rows = [s for s in self.layers if s.once == once]
        return (sum(s.macs for s in rows), sum(s.synops for s in rows),
                sum(s.neurons for s in rows))

    @property
    def macs(self):
        """Multiply-accumulates per step and sample, every connection counted
        (layers run once per inference: ``totals(once=True)``)."""
        return self.totals()[0]

    @property
    def synops(self):
        """Synaptic events per step and sample (connections with a nonzero input)."""
        return self.totals()[1]

    @property
    def neurons(self):
        """Neuron updates per step and sample."""
        return self.totals()[2]

    def layer_energy(self, device, timesteps=1):
        """Joules per inference of each entry of ``self.layers`` on ``device``."""
        device = get_device(device)
        timesteps = self._check_timesteps(timesteps)
        if device.spiking and not self.measured:
            raise ValueError(
                f"ModelEnergy: device '{device.name}' is spiking: its cost depends on "
                "the input activity; pass example_data to ModelEnergy to measure it.")
        energy = []
        for s in self.layers:
            if device.spiking:
                steps = 1 if s.once else timesteps
                joules = steps * (s.synops * device.energy_per_synop
                                  + s.neurons * device.energy_per_neuron)
            else:
                joules = s.macs * device.energy_per_op + s.neurons * device.energy_per_neuron
            energy.append(joules)
        return energy

    def total_energy(self, device, timesteps=1):
        """Joules per inference (one sample) on ``device``.

        Spiking devices run ``timesteps`` steps; non-spiking devices run one
        ANN pass, so ``timesteps`` does not change their figure.
        """
        return sum(self.layer_energy(device, timesteps))

    @staticmethod
    def _check_timesteps(timesteps):
        return check_positive_integer(OWNER, "timesteps", timesteps)

    def summary(self, devices=("cpu", "loihi"), timesteps=1, print_fn=print):
        """Print the per-layer counts and the energy per inference per device.

        Columns: neurons, MACs and (if measured) input activity and synops per
        step, then joules per inference for each device (spiking devices over
        ``timesteps`` steps). Spiking devices are skipped with a note when no
        ``example_data`` was given.
        """
        timesteps = self._check_timesteps(timesteps)
        devices = [get_device(d) for d in devices]
        usable = [d for d in devices if self.measured or not d.spiking]
        per_device = [self.layer_energy(d, timesteps) for d in usable]
        header = ["Layer (type)", "Neurons/step", "MACs/step"]
        if self.measured:
            header += ["Input activity", "Synops/step"]
        header += [f"J/inf ({d.name})" for d in usable]
        rows = []
        for i, s in enumerate(self.layers):
            mark = " *" if s.once else ""
            row = [f"{s.name} ({s.type}){mark}", f"{s.neurons:,}", f"{s.macs:,}"]
            if self.measured:
                if s.activity is None:
                    row += ["-", "-"]
                else:
                    rate = f" ({s.activity / self.dt:.3g} Hz)" if self.dt else ""
                    row += [f"{s.activity:.3g}{rate}", f"{s.synops:,.0f}"]
            row += [f"{e[i]:.3g}" for e in per_device]
            rows.append(row)
        widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

        def line(cells):
            return " | ".join(c.ljust(w) if i == 0 else c.rjust(w)
                              for i, (c, w) in enumerate(zip(cells, widths)))

        out = [line(header), "-" * len(line(header))] + [line(r) for r in rows]
        out.append("=" * len(line(header)))
        for once in (False, True):
            if once and not any(s.once for s in self.layers):
                continue
            macs, synops, neurons = self.totals(once)
            total = (("* once per inference (static input before RepeatTime): " if once
                      else "Per step: ") + f"{neurons:,} neuron updates, {macs:,} MACs")
            if self.measured:
                total += f", {synops:,.0f} synops"
            out.append(total)
        for d, e in zip(usable, per_device):
            how = (f"{timesteps} steps, event-driven" if d.spiking
                   else "one ANN pass, every MAC")
            out.append(f"Energy per inference on {d.name} ({how}): "
                       f"{sum(e):.3g} J  [{d.source}]")
        for d in devices:
            if d not in usable:
                out.append(f"{d.name}: skipped (spiking device; pass example_data "
                           "to measure the input activity)")
        out.append("Computation only: data movement on/off chip and between cores "
                   "is not included.")
        print_fn("\n".join(out))


ModelEnergy.register_device = staticmethod(register_device)
