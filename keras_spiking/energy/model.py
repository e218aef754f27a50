"""``ModelEnergy``: synaptic operations, neuron updates and energy per inference of a model."""

import numbers
import warnings

import keras
import numpy as np
from keras import ops

from keras_spiking.config import default, is_variable, variable_value
from keras_spiking.energy import counting, summary
from keras_spiking.energy.counting import LayerEnergy, call_node, recurrent_macs
from keras_spiking.energy.devices import get_device, register_device
from keras_spiking.graph import calls, functional_graph
from keras_spiking.layer_facts import facts_of
from keras_spiking.layers.base import DynamicsLayer
from keras_spiking.validation import check_model_data, check_number, check_positive_integer

OWNER = "ModelEnergy"


def _passes_events(layer):
    """Layers that hand their input's events on unchanged in kind: synaptic
    filters (linear, on the postsynaptic side on hardware), dropout (the
    identity at inference) and reshaping; wrapped in ``TimeFold`` too."""
    facts = facts_of(layer)
    if facts.time_axis == "wraps":
        return _passes_events(layer.layer)
    return (facts.role in ("filter", "dropout")
            or (facts.role == "stateless" and not facts.leading_axes))


def _input_kind(layer):
    """What the output of ``layer`` (None: a model input) is for the next synapses:
    ``"spikes"`` (a spiking layer's spikes), ``"rates"`` (a non-spiking
    nonlinearity, read as a firing rate in Hz) or ``"values"`` (anything else)."""
    if layer is None:
        return "values"
    if facts_of(layer).time_axis == "wraps":
        return _input_kind(layer.layer)
    if isinstance(layer, DynamicsLayer):
        return "spikes" if layer.outputs_spikes else "values"
    has_neurons = facts_of(layer).role in ("neuron", "activation") or counting.is_nonlinear(
        getattr(layer, "activation", None))
    return "rates" if has_neurons and not counting.is_spiking(layer) else "values"


def _seconds(dt):
    return variable_value(dt) if is_variable(dt) else dt


class ModelEnergy:
    """Synaptic operations, neuron updates and energy per inference of a model.

    Counts per step and sample (rules: ``keras_spiking.energy.counting``):
    ``macs`` (every connection, KerasSpiking's ``connections``), ``synops``
    (connections whose input has an event, measured on ``example_data``) and
    ``neurons`` (neuron updates). A model with a time axis (package layers or
    ``TimeDistributed`` over ``(batch, time, ...)``, or inputs whose first axis
    is ``None``) is counted per step; a plain ANN's one pass is one step.

    Energy per inference (one sample) on a device (``keras_spiking.energy.devices``):

    * non-spiking (cpu, gpu, arm): one ANN pass, every connection computed:
      ``E = macs * energy_per_op + neurons * energy_per_neuron``, whatever the
      number of timesteps and the activity;
    * spiking (loihi, spinnaker, spinnaker2): event driven, every neuron
      updated every step: ``E = T * (macs * events * energy_per_synop +
      neurons * energy_per_neuron)`` over ``T = timesteps`` steps (layers on a
      static input before ``RepeatTime`` once).

    ``events`` per input element per step, measured on ``example_data``:
    the spikes of a spiking layer (one per nonzero output; a graded output
    of ``n`` spikes, of ``SpikingActivation`` or of a ``SpikingIF`` converted
    with ``spikes="graded"``, counts ``n``, as in
    KerasSpiking, whose rate times ``dt`` is the spike count); for a
    non-spiking nonlinearity (ReLU, a rate LIF), its value read as a firing
    rate in Hz times ``dt`` (KerasSpiking's assumption: the device runs it as
    spiking neurons firing at that rate); for anything else (model inputs,
    linear layers) one per nonzero element. KerasSpiking reads model inputs as
    rates too; here they are spike trains or a current presented at every
    step. ``dt``: the device's step, by default each spiking layer's own
    ``dt`` and ``keras_spiking.default.dt`` for non-spiking neurons. Computation
    only: moving data on/off a chip or between cores is not counted.

    Args:
        model: a built Keras model (Functional or Sequential, not nested).
        example_data: inputs the model accepts (an array, or a list of arrays
            per input); runs the model on them to measure the events of each
            synaptic layer's input. Needed for spiking devices.
        dt: seconds per step, only to show activity in Hz in ``summary``; by
            default the ``dt`` of the model's neuron layers, if they have one.
        batch_size: samples per call when measuring the activity.

    Attributes:
        layers: one ``LayerEnergy`` per layer call (plus one per recurrent
            weight), in graph order: name, type, macs, neurons, spiking,
            activity, rate, synops.
        layer_stats: ``{layer: {"connections", "neurons", "spiking"}}``, summed
            over the layer's calls (KerasSpiking's attribute).
        node_stats: ``{layer: [LayerEnergy, ...]}``, the rows of each layer's calls.

    Example::

        energy = ModelEnergy(snn, example_data=x_test[:200])
        energy.summary(devices=("cpu", "loihi"), timesteps=32)
        energy.summary(columns=("name", "energy cpu", "energy loihi"),
                       timesteps_per_inference=32)        # KerasSpiking's call
        joules = energy.total_energy("loihi", timesteps=32)
    """

    register_device = staticmethod(register_device)

    def __init__(self, model, example_data=None, *, dt=None, batch_size=64):
        if not isinstance(model, keras.Model):
            raise TypeError(f"ModelEnergy: model must be a keras.Model, got {model!r}.")
        if dt is not None:
            dt = float(check_number(OWNER, "dt", dt, low=0, low_open=True))
        self.model = model
        self.dt = dt if dt is not None else self._model_dt(model)
        self.layers, inputs, graph_inputs = self._count(model)
        self.measured = example_data is not None
        if self.measured:
            batch_size = check_positive_integer(OWNER, "batch_size", batch_size)
            self._measure(graph_inputs, inputs, example_data, batch_size)
        self.node_stats = {}
        for row in self.layers:
            self.node_stats.setdefault(row.layer, []).append(row)
        self.layer_stats = {
            layer: {"connections": sum(r.macs for r in rows),
                    "neurons": sum(r.neurons for r in rows),
                    "spiking": all(r.spiking for r in rows)}
            for layer, rows in self.node_stats.items()}

    # -- KerasSpiking's class methods -------------------------------------------------------
    @classmethod
    def compute_layer_stats(cls, layer, node=None):
        """``{"connections", "neurons", "spiking"}`` of one call of ``layer`` per
        sample and step, on its own (see ``energy.counting.compute_layer_stats``)."""
        return counting.compute_layer_stats(layer, node)

    @classmethod
    def register_layer(cls, layer_class):
        """Decorator registering a stats function for ``layer_class``, e.g. a user's
        own layer (see ``energy.counting.register_layer``)."""
        return counting.register_layer(layer_class)

    # -- counting -----------------------------------------------------------------------------
    @staticmethod
    def _model_dt(model):
        """The ``dt`` of the first neuron layer (or spiking layer) that has one."""
        for layer in model.layers:
            spiking = isinstance(layer, DynamicsLayer) and layer.outputs_spikes
            dt = getattr(layer, "dt", None)
            if (facts_of(layer).role == "neuron" or spiking) and dt is not None:
                return float(_seconds(dt))
        return None

    def _count(self, model):
        """One ``LayerEnergy`` per layer call, the tensor and the producing layer
        of the events it pays for, and the graph's inputs."""
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
        # or an input's first axis is None (KerasSpiking's rule)
        repeated = set()
        for call in found:
            if facts_of(call.layer).time_axis == "adds" or any(
                    i in repeated for i in call.input_ids):
                repeated.update(call.output_ids)
        timed_inputs = any(
            facts_of(call.layer).time_axis in ("wraps", "scans")
            and not any(i in repeated for i in call.input_ids) for call in found) or any(
            len(x.shape) > 2 and x.shape[1] is None for x in graph_inputs)
        timed = {}  # value number -> has a time axis; missing: a model input
        source = {}  # the tensor whose events a value carries: synaptic filters are
        # linear and move to the postsynaptic side on hardware, so events are their inputs
        producer = {}  # value number -> the layer whose output kind it carries
        rows, inputs, unknown = [], [], []
        for call in found:
            layer = call.layer
            x, y = call.inputs[0], call.outputs[0]
            x_id, y_id = call.input_ids[0], call.output_ids[0]
            x_timed = any(timed.get(i, timed_inputs) for i in call.input_ids)
            y_timed = x_timed or facts_of(layer).time_axis == "adds"
            if facts_of(layer).time_axis == "scans" and not getattr(
                    layer, "return_sequences", True):
                y_timed = False
            timed.update((i, y_timed) for i in call.output_ids)
            if facts_of(layer).role == "filter":
                source[y_id] = source.get(x_id, x)
            producer[y_id] = producer.get(x_id) if _passes_events(layer) else layer
            node = call_node(layer, call.inputs, call.outputs, x_timed, y_timed)
            stats = counting.node_stats(node)
            if stats is None:
                unknown.append(layer.name)
                stats = {"connections": 0, "neurons": 0, "spiking": True}
            once = timed_inputs is False and bool(repeated) and not x_timed
            kind_of = producer.get(x_id)
            rows.append(LayerEnergy(
                layer.name, type(layer).__name__, stats["connections"], stats["neurons"],
                once=once, spiking=stats["spiking"], kind=_input_kind(kind_of),
                layer=layer, output_shape=tuple(y.shape)))
            inputs.append((source.get(x_id, x), kind_of))
            feedback = recurrent_macs(layer, node.in_shape)
            if feedback:  # events: the layer's own spikes of the previous step
                spikes = layer.outputs_spikes and layer.return_sequences
                rows.append(LayerEnergy(
                    f"{layer.name}/recurrent", type(layer).__name__, feedback, 0,
                    spiking=True, kind="spikes", layer=layer,
                    output_shape=tuple(y.shape), recurrent=True))
                inputs.append((y if spikes else None, layer))
        if unknown:
            warnings.warn(
                f"ModelEnergy: no counting rule for the layers {unknown} (they have "
                "weights); their synaptic operations are not counted. Add one with "
                "ModelEnergy.register_layer.", stacklevel=3)
        return rows, inputs, graph_inputs

    @staticmethod
    def _events_tensor(x, kind, layer):
        """Per sample: mean events per element per step (``"spikes"``: counted
        spikes, graded ones by number; ``"values"``: nonzero elements) or mean
        absolute value (``"rates"``)."""
        axes = tuple(range(1, len(x.shape)))
        if kind == "rates":
            return ops.mean(ops.abs(ops.cast(x, "float32")), axis=axes)
        if kind == "spikes":
            d = layer.dynamics()
            if d.graded:
                return ops.mean(ops.abs(ops.cast(x, "float32")) / float(d.amplitude),
                                axis=axes)
        return ops.mean(ops.cast(ops.not_equal(x, 0), "float32"), axis=axes)

    def _measure(self, graph_inputs, inputs, data, batch_size):
        """Events of every synaptic layer's input (see the class docstring), over ``data``."""
        synaptic = [i for i, s in enumerate(self.layers)
                    if s.macs > 0 and inputs[i][0] is not None]
        if not synaptic:
            return
        kinds = [self.layers[i].kind for i in synaptic]
        probe = keras.Model(graph_inputs[0] if len(graph_inputs) == 1 else graph_inputs,
                            [self._events_tensor(inputs[i][0], kind, inputs[i][1])
                             for i, kind in zip(synaptic, kinds)])
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
        check_model_data("ModelEnergy", "example_data", data,
                         [tuple(x.shape[1:]) for x in graph_inputs])
        sums = np.zeros(len(synaptic))
        for start in range(0, n, batch_size):
            if multi:
                batch = [np.asarray(d[start:start + batch_size], "float32") for d in data]
            else:
                batch = np.asarray(data[start:start + batch_size], "float32")
            values = probe(batch, training=False)
            values = values if isinstance(values, (list, tuple)) else [values]
            sums += [float(np.sum(ops.convert_to_numpy(v))) for v in values]
        for i, kind, total in zip(synaptic, kinds, sums):
            row, mean = self.layers[i], total / n
            if kind == "rates":  # a non-spiking neuron's value, read as Hz
                row.rate, row.activity = mean, mean * default.dt
            else:
                row.activity = mean
                source_dt = getattr(inputs[i][1], "dt", None) if kind == "spikes" else None
                if source_dt is not None:
                    row.rate = mean / _seconds(source_dt)

    # -- totals ---------------------------------------------------------------------------------
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
        """Synaptic events per step and sample (connections with an input event)."""
        return self.totals()[1]

    @property
    def neurons(self):
        """Neuron updates per step and sample."""
        return self.totals()[2]

    # -- energy ---------------------------------------------------------------------------------
    @staticmethod
    def _steps(timesteps, timesteps_per_inference):
        """The number of steps per inference, from either name (``timesteps``:
        this package's, ``timesteps_per_inference``: KerasSpiking's)."""
        if timesteps is not None and timesteps_per_inference is not None:
            raise TypeError(
                f"ModelEnergy: got both timesteps={timesteps!r} and "
                f"timesteps_per_inference={timesteps_per_inference!r}; they are the same "
                "argument (this package's and KerasSpiking's name): pass one.")
        if timesteps is not None:
            return check_positive_integer(OWNER, "timesteps", timesteps)
        return check_positive_integer(
            OWNER, "timesteps_per_inference",
            1 if timesteps_per_inference is None else timesteps_per_inference)

    @staticmethod
    def _dt(dt):
        return None if dt is None else float(
            check_number(OWNER, "dt", dt, low=0, low_open=True))

    def _usable(self, device):
        device = get_device(device)
        if device.spiking and not self.measured:
            raise ValueError(
                f"ModelEnergy: device '{device.name}' is spiking: its cost depends on "
                "the input activity; pass example_data to ModelEnergy to measure it.")
        return device

    @staticmethod
    def _row_energy(row, device, steps, dt):
        """``(synop_joules, neuron_joules)`` per inference of one row."""
        if not device.spiking:
            return (row.macs * device.energy_per_op,
                    row.neurons * device.energy_per_neuron)
        steps = 1 if row.once else steps
        return (steps * row.macs * row.events(dt) * device.energy_per_synop,
                steps * row.neurons * device.energy_per_neuron)

    def row_energies(self, device, timesteps=1, dt=None):
        """``(synop_joules, neuron_joules)`` per inference of each entry of ``self.layers``."""
        device, dt = self._usable(device), self._dt(dt)
        steps = check_positive_integer(OWNER, "timesteps", timesteps)
        return [self._row_energy(row, device, steps, dt) for row in self.layers]

    def _rows_of(self, layer):
        if isinstance(layer, str):
            rows = [r for r in self.layers if r.layer is not None and r.layer.name == layer]
        else:
            rows = self.node_stats.get(layer, []) if isinstance(
                layer, keras.layers.Layer) else []
        if not rows:
            raise ValueError(
                f"ModelEnergy: layer {getattr(layer, 'name', layer)!r} is not counted in "
                f"model '{self.model.name}'; pass one of its layers (or a layer name): "
                f"{[r.name for r in self.layers if not r.recurrent]}.")
        return rows

    def layer_energy(self, layer, device=None, timesteps_per_inference=None, dt=None, *,
                     timesteps=None):
        """Joules per inference of one layer, or of every row.

        KerasSpiking's form ``layer_energy(layer, device, timesteps_per_inference=1,
        dt=None)`` (``layer``: a layer of the model or its name; a layer called
        several times sums its calls) returns ``(synop_energy, neuron_energy)``.
        This package's form ``layer_energy(device, timesteps=1)`` (no second
        device argument) returns a list, one total per entry of ``self.layers``.
        """
        if device is None or isinstance(device, numbers.Number):
            if timesteps_per_inference is not None and device is not None:
                raise TypeError("ModelEnergy.layer_energy(device, timesteps): got a third "
                                "positional argument; pass timesteps once.")
            steps = self._steps(timesteps, device if device is not None
                                else timesteps_per_inference)
            return [s + n for s, n in self.row_energies(layer, steps, dt)]
        device, dt = self._usable(device), self._dt(dt)
        steps = self._steps(timesteps, timesteps_per_inference)
        parts = [self._row_energy(r, device, steps, dt) for r in self._rows_of(layer)]
        return float(sum(p[0] for p in parts)), float(sum(p[1] for p in parts))

    def total_energy(self, device, timesteps_per_inference=None, dt=None, *, timesteps=None):
        """Joules per inference (one sample) on ``device``.

        Spiking devices run ``timesteps`` (= ``timesteps_per_inference``, default
        1) steps of ``dt`` seconds (see the class docstring); non-spiking devices
        run one ANN pass, so neither changes their figure.
        """
        steps = self._steps(timesteps, timesteps_per_inference)
        return float(sum(s + n for s, n in self.row_energies(device, steps, dt)))

    # -- summaries ------------------------------------------------------------------------------
    def summary_string(self, columns=None, timesteps_per_inference=None, dt=None,
                       line_length=98, print_warnings=True, *, devices=None,
                       timesteps=None):
        """The per-layer table of ``summary`` as a string (same arguments)."""
        steps = self._steps(timesteps, timesteps_per_inference)
        dt = self._dt(dt)
        if devices is not None:
            if columns is not None:
                raise TypeError("ModelEnergy.summary: got both columns and devices; pass "
                                "columns (KerasSpiking's table) or devices (per-device "
                                "totals), not both.")
            return summary.devices_table(self, devices, steps, dt)
        if columns is None:
            columns = summary.DEFAULT_COLUMNS
        return summary.columns_table(self, columns, steps, dt, line_length, print_warnings)

    def summary(self, columns=None, timesteps_per_inference=None, dt=None, line_length=98,
                print_warnings=True, *, devices=None, timesteps=None, print_fn=print):
        """Print a per-layer table of counts and energies per inference.

        KerasSpiking's form: ``columns`` (default ``("name", "output_shape",
        "params", "connections", "neurons", "energy cpu")``), any of ``name``,
        ``output_shape``, ``params``, ``connections``, ``neurons``, ``rate``
        (input rate in Hz), ``activity`` (input events per element and step),
        ``synops`` and ``"energy <device>"``, ``"synop_energy <device>"``,
        ``"neuron_energy <device>"``, fitted to ``line_length`` characters, then
        the total per device and (``print_warnings``) the assumptions made.

        This package's form: ``devices`` (e.g. ``("cpu", "loihi")``): neurons,
        MACs, input activity and synops per step, joules per inference per
        device, then totals with each device's source; spiking devices are
        skipped with a note when no ``example_data`` was given.

        ``timesteps`` (= ``timesteps_per_inference``) and ``dt``: as in
        ``total_energy``. ``print_fn`` receives the whole text.
        """
        print_fn(self.summary_string(columns, timesteps_per_inference, dt, line_length,
                                     print_warnings, devices=devices, timesteps=timesteps))
