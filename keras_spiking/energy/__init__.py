"""Energy estimates: what one inference of a model costs on a device.

``ModelEnergy(model, example_data)`` counts, for every layer of a Keras model
(a plain ANN, a converted model from ``keras_spiking.converters.convert``, a
surrogate-gradient model with ``Leaky`` & co., or a KerasSpiking model with
``SpikingActivation`` and ``TimeDistributed``), per timestep and sample:

* ``macs`` (KerasSpiking's ``connections``): multiply-accumulates of its
  synapses, i.e. connections from input elements to output elements;
* ``neurons``: neuron updates;
* ``activity``: with ``example_data``, the measured events per input element
  and step of each synaptic layer (see ``ModelEnergy`` for what an event is).

Devices turn counts into joules per inference of ``T`` timesteps:

* a *non-spiking* device (cpu, gpu, arm) runs the network as an ANN, one pass,
  every connection computed: ``E = macs * energy_per_op + neurons *
  energy_per_neuron`` (independent of ``T`` and of the activity);
* a *spiking* (event-driven) device (loihi, spinnaker, spinnaker2) only
  computes a connection when an event reaches it, and updates every neuron
  every step: ``E = T * (macs * events * energy_per_synop + neurons *
  energy_per_neuron)``.

Every figure is a lower bound of the computation alone: moving data on and off
a chip, between cores or from DRAM is not counted, and the device figures are
published per-operation energies, not measurements of this model.

Modules: ``devices`` (the device registry and the published figures),
``counting`` (connections and neuron updates per layer call, the stats
registry for users' layers), ``model`` (``ModelEnergy``), ``summary`` (the
tables). ``keras_spiking.model_energy`` is the same API under KerasSpiking's
module name.
"""

from keras_spiking.energy.counting import (
    LayerEnergy,
    Node,
    compute_layer_stats,
    layer_counts,
    recurrent_macs,
    register_layer,
)
from keras_spiking.energy.devices import DEVICES, Device, get_device, register_device
from keras_spiking.energy.model import OWNER, ModelEnergy

__all__ = [
    "DEVICES",
    "Device",
    "LayerEnergy",
    "ModelEnergy",
    "Node",
    "OWNER",
    "compute_layer_stats",
    "get_device",
    "layer_counts",
    "recurrent_macs",
    "register_device",
    "register_layer",
]
