"""Devices: published energies per operation, and the registry ``ModelEnergy`` reads.

A device is *non-spiking* (CPU, GPU, ARM: the network runs as an ANN, every
connection computed once per inference) or *spiking* (Loihi, SpiNNaker: event
driven, a connection costs only when a spike crosses it, every step). Each
built-in device below carries its source; figures that were not checked
against their paper say so.

``register_device`` takes this package's keywords::

    register_device("my-chip", spiking=True, energy_per_synop=5e-12,
                    energy_per_neuron=20e-12, source="datasheet, 2026")

and KerasSpiking's positional order ``(device_name, energy_per_synop,
energy_per_neuron, spiking)``::

    register_device("my-gpu", 1e-9, 2e-9, False)

On a non-spiking device KerasSpiking's ``energy_per_synop`` is the energy of
one synaptic operation computed every pass, i.e. this package's
``energy_per_op`` (J per multiply-accumulate); it is stored as such.
"""

import dataclasses

from keras_spiking.validation import check_bool, check_number


@dataclasses.dataclass(frozen=True)
class Device:
    """Per-operation energies of a device, in joules.

    ``energy_per_op``: J per multiply-accumulate (non-spiking devices, every
    connection every pass); ``energy_per_synop``: J per synaptic event, one
    spike reaching one synapse (spiking devices); ``energy_per_neuron``: J
    per neuron update. ``source``: where the figures come from.
    """

    name: str
    spiking: bool
    energy_per_neuron: float
    energy_per_op: float = None
    energy_per_synop: float = None
    source: str = ""

    @property
    def energy_per_connection(self):
        """J per synaptic operation as the device pays it: per event if spiking,
        per multiply-accumulate otherwise (KerasSpiking's ``energy_per_synop``)."""
        return self.energy_per_synop if self.spiking else self.energy_per_op


#: Registered devices by name, in registration order.
DEVICES = {}


def register_device(device_name=None, energy_per_synop=None, energy_per_neuron=None,
                    spiking=None, *, energy_per_op=None, source="", name=None):
    """Add (or replace) a device: its energies in joules per operation.

    ``E_non-spiking = connections * energy_per_op + neurons * energy_per_neuron``
    (one pass); ``E_spiking = steps * (events * energy_per_synop + neurons *
    energy_per_neuron)``.

    Args:
        device_name: the name to refer to the device by (``name=`` also works).
        energy_per_synop: J per synaptic event (spiking device). On a
            non-spiking device, KerasSpiking's name for ``energy_per_op``.
        energy_per_neuron: J per neuron update.
        spiking: True for an event-driven device, False for one that computes
            every connection.
        energy_per_op: J per multiply-accumulate (non-spiking devices only).
        source: where the figures come from.

    Returns the ``Device``. Positional arguments follow KerasSpiking's order
    ``(device_name, energy_per_synop, energy_per_neuron, spiking)``.
    """
    owner = "register_device"
    if name is not None and device_name is not None:
        raise TypeError(f"{owner}: got both device_name={device_name!r} and name={name!r}; "
                        "they are the same argument, pass one.")
    device_name = name if device_name is None else device_name
    if not isinstance(device_name, str) or not device_name:
        raise TypeError(f"{owner}: name must be a non-empty string, got {device_name!r}.")
    check_bool(owner, "spiking", spiking)
    if not spiking and energy_per_synop is not None:
        if energy_per_op is not None:
            raise ValueError(
                f"{owner}: device {device_name!r} is non-spiking, so energy_per_synop "
                "(KerasSpiking's name) and energy_per_op are the same figure; give one.")
        energy_per_op, energy_per_synop = energy_per_synop, None
    needed, unused = (("energy_per_synop", "energy_per_op") if spiking
                      else ("energy_per_op", "energy_per_synop"))
    values = {"energy_per_neuron": energy_per_neuron, "energy_per_op": energy_per_op,
              "energy_per_synop": energy_per_synop}
    if values[needed] is None:
        raise ValueError(
            f"{owner}: a {'spiking' if spiking else 'non-spiking'} device needs "
            f"{needed} (joules), got None for device {device_name!r}.")
    if values[unused] is not None:
        raise ValueError(
            f"{owner}: {unused} is not used by a {'spiking' if spiking else 'non-spiking'} "
            f"device (it pays {needed}); drop it or set spiking={not spiking}.")
    if energy_per_neuron is None:
        raise ValueError(f"{owner}: device {device_name!r} needs energy_per_neuron "
                         "(joules per neuron update), got None.")
    for key in ("energy_per_neuron", needed):
        values[key] = float(check_number(owner, key, values[key], low=0))
    device = Device(name=device_name, spiking=spiking, source=str(source), **values)
    DEVICES[device_name] = device
    return device


def get_device(name):
    """The registered ``Device`` called ``name`` (a ``Device`` passes through)."""
    if isinstance(name, Device):
        return name
    if not isinstance(name, str) or name not in DEVICES:
        raise ValueError(
            f"ModelEnergy: unknown device {name!r}; known devices are "
            f"{list(DEVICES)}. Add one with keras_spiking.energy.register_device "
            "(or ModelEnergy.register_device).")
    return DEVICES[name]


# -- built-in devices ---------------------------------------------------------------------
# Checked: where a figure could not be compared with its paper here, the source
# says "as quoted by KerasSpiking's documentation; not checked against the paper".

# Degnan, Marr & Hasler, "Assessing trends in performance per watt for signal
# processing applications", IEEE TVLSI 24(1):58-66, 2016 (online 2015),
# https://ieeexplore.ieee.org/abstract/document/7054508: energy per
# multiply-accumulate of an Intel i7-4960X CPU (8.6 nJ), an Nvidia GTX Titan
# Black GPU (0.3 nJ; large batches) and an ARM Cortex-A (0.9 nJ); a neuron
# update counts as one operation. The paper's table was not available here:
# the cpu and gpu figures agree with KerasSpiking 0.3's documented example
# outputs (J/inf over connections + neurons: 8.6e-9 and 3.0e-10 J per
# operation), the arm figure is as KerasSpiking quotes it. Not checked against
# the paper.
_DEGNAN = ("Degnan, Marr & Hasler 2016, IEEE TVLSI 24(1):58-66, as quoted by "
           "KerasSpiking's documentation; not checked against the paper")
register_device("cpu", spiking=False, energy_per_op=8.6e-9, energy_per_neuron=8.6e-9,
                source=_DEGNAN + " (Intel i7-4960X)")
register_device("gpu", spiking=False, energy_per_op=0.3e-9, energy_per_neuron=0.3e-9,
                source=_DEGNAN + " (Nvidia GTX Titan Black, large batches)")

# Davies et al., "Loihi: a neuromorphic manycore processor with on-chip
# learning", IEEE Micro 38(1):82-99, 2018, doi:10.1109/MM.2018.112130359,
# Table 2 ("pre-silicon" figures from SDF and SPICE simulations, 0.75 V):
# "Energy per synaptic spike op (min) 23.6 pJ", "Energy per neuron update
# (active / inactive) 81 pJ / 52 pJ"; we pay the active neuron update. Spike
# routing (within a tile 1.7 pJ, per tile hop 3.0 pJ E-W / 4.0 pJ N-S) and
# learning ("Energy per synaptic update (pairwise STDP) 120 pJ") are not counted.
#
# Where we differ from KerasSpiking: KerasSpiking 0.3 charges 23.6 + 3.5 =
# 27.1 pJ per synaptic event (its documented Loihi outputs give 27.1 pJ), and
# calls the 3.5 pJ a synaptic update. Table 2 has no 3.5 pJ energy: 3.5 is its
# "Time per synaptic spike op (max) 3.5 ns" (and the mean of the two tile-hop
# energies); its synaptic update is the 120 pJ STDP learning update, which an
# inference without learning does not pay. So we keep the table's 23.6 pJ.
# Checked against a verbatim transcription of Table 2 (the paper's PDF itself
# was not opened here). For KerasSpiking's figure: register_device("loihi",
# 27.1e-12, 81e-12, True).
register_device("loihi", spiking=True, energy_per_synop=23.6e-12,
                energy_per_neuron=81e-12,
                source="Davies et al. 2018, IEEE Micro 38(1):82-99, Table 2 (pre-silicon)")
register_device("arm", spiking=False, energy_per_op=0.9e-9, energy_per_neuron=0.9e-9,
                source=_DEGNAN + " (ARM Cortex-A)")

# SpiNNaker (ARM968 cores, 130 nm): 13.3 nJ per synaptic event, 26 nJ per
# neuron update; SpiNNaker 2 (28 nm prototype with per-core DVFS): 0.45 nJ per
# synaptic event, 2.19 nJ per neuron update. KerasSpiking cites Hoeppner et
# al., "Dynamic power management for neuromorphic many-core systems", IEEE
# TCAS-I 66(8):2973-2986, 2019, arXiv:1903.08941, for both; the SpiNNaker 1
# measurements go back to Painkras et al., "SpiNNaker: a 1-W 18-core
# system-on-chip for massively-parallel neural network simulation", IEEE JSSC
# 48(8), 2013, and Stromatias et al., "Power analysis of large-scale, real-time
# neural networks on SpiNNaker", IJCNN 2013. None of these tables was available
# here: the figures are as quoted by KerasSpiking's documentation; not checked
# against the papers.
_NOT_CHECKED = "as quoted by KerasSpiking's documentation; not checked against the paper"
register_device("spinnaker", spiking=True, energy_per_synop=13.3e-9,
                energy_per_neuron=26e-9,
                source="SpiNNaker 1: Stromatias et al. 2013 (IJCNN) / Painkras et al. 2013 "
                       "(IEEE JSSC), via Hoeppner et al. 2019 (IEEE TCAS-I), " + _NOT_CHECKED)
register_device("spinnaker2", spiking=True, energy_per_synop=450e-12,
                energy_per_neuron=2.19e-9,
                source="SpiNNaker 2 prototype: Hoeppner et al. 2019, IEEE TCAS-I "
                       "66(8):2973-2986, " + _NOT_CHECKED)
