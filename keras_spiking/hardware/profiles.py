"""Hardware profiles: the published constraints of a neuromorphic target.

A ``Profile`` is a small frozen record; a field left at None is "no limit
known". ``check`` (keras_spiking.hardware.check) judges a model's structure
and size against it, ``quantize`` puts the model's numbers on its integer grid.
Each built-in profile lists the sources of its figures in ``sources``; a
figure found only in a secondary source says "unverified" in ``notes``.

    register_profile(Profile("my-chip", weight_bits=4, max_fan_in=256))
    get_profile("my-chip"); profiles()  # -> names
"""

import dataclasses

from keras_spiking.neurons import DECAY_MODES

#: Layer connection kinds a profile may allow (``layer_facts`` ``connections``).
CONNECTIONS = ("dense", "conv", "depthwise")


@dataclasses.dataclass(frozen=True)
class Profile:
    """The constraints of one target (None: not limited / not known).

    Numbers (quantize):
        weight_bits: signed bits of a weight (sign included).
        bias_bits: signed bits of a bias, in units of the weight grid.
        state_bits: signed bits of the synaptic current and membrane voltage.
        state_fraction_bits: bits of the state below the weight grid: one
            state unit is ``weight unit / 2**state_fraction_bits`` (lava-dl:
            state scale ``1 << 6``).
        threshold_bits: signed bits of the threshold (None: ``state_bits``).
        decay_mode: ``"multiply"`` (``decay = D / 2**decay_bits``, truncated
            towards zero, Loihi) or ``"shift"`` (``decay = 1 - 2**-dash``,
            ``dash = round(log2(tau / dt))``, Xylo).
        decay_bits: bits of ``D`` (``"multiply"``).
        per_channel: one weight scale per output channel (else per layer).

    Structure and size (check):
        connections: the weight layers the chip runs (a subset of
            ``CONNECTIONS``; None: all).
        bias: biases allowed.
        leak: neurons may leak (False: integrate-and-fire only).
        synapse: neurons may have a synaptic current (or a synaptic filter).
        recurrence: recurrent weights allowed.
        graded_spikes: spikes may carry integer payloads.
        max_pooling, merges: max pooling / merge layers (Add, Concatenate) allowed.
        consecutive_weights: two weight layers may follow each other without a
            neuron layer between them.
        max_inputs: input channels (last axis of the model input).
        max_input_size: largest spatial input size (height, width).
        max_outputs: units of the output neuron layer.
        max_neurons: neurons in all; max_hidden_neurons: all but the output layer.
        max_fan_in: inputs of one neuron (kernel entries per output unit).
        max_weights: weights in all (kernels, recurrent kernels).
        max_features: output channels of one layer.
        max_kernel_size: largest convolution kernel side.
        strides, pool_sizes: allowed strides / pooling windows (per side).
        max_padding: largest padding per side.
        cores: per core ``(kernel memory, neuron memory)`` in entries (one weight
            layer with its neurons per core, Speck); memory is padded to
            powers of two (see ``check``).
    """

    name: str
    description: str = ""
    sources: tuple = ()
    notes: str = ""
    weight_bits: int = 8
    bias_bits: int = None
    state_bits: int = 16
    state_fraction_bits: int = 0
    threshold_bits: int = None
    decay_mode: str = "multiply"
    decay_bits: int = 12
    per_channel: bool = False
    connections: tuple = None
    bias: bool = True
    leak: bool = True
    synapse: bool = True
    recurrence: bool = True
    graded_spikes: bool = False
    max_pooling: bool = True
    merges: bool = True
    consecutive_weights: bool = True
    max_inputs: int = None
    max_input_size: int = None
    max_outputs: int = None
    max_neurons: int = None
    max_hidden_neurons: int = None
    max_fan_in: int = None
    max_weights: int = None
    max_features: int = None
    max_kernel_size: int = None
    strides: tuple = None
    pool_sizes: tuple = None
    max_padding: int = None
    cores: tuple = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Profile: name must be a non-empty string, got {self.name!r}.")
        if self.decay_mode not in DECAY_MODES:
            raise ValueError(f"Profile {self.name!r}: decay_mode must be one of "
                             f"{DECAY_MODES}, got {self.decay_mode!r}.")
        for field in ("weight_bits", "bias_bits", "state_bits", "threshold_bits"):
            value = getattr(self, field)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or not 2 <= value <= 24):
                raise ValueError(f"Profile {self.name!r}: {field} must be None or an "
                                 f"integer in [2, 24], got {value!r}.")
        if self.decay_mode == "multiply" and not 1 <= int(self.decay_bits) <= 12:
            raise ValueError(f"Profile {self.name!r}: decay_bits must be in [1, 12], got "
                             f"{self.decay_bits!r}.")
        if self.connections is not None and not set(self.connections) <= set(CONNECTIONS):
            raise ValueError(f"Profile {self.name!r}: connections must be a subset of "
                             f"{CONNECTIONS}, got {self.connections!r}.")

    @property
    def threshold_limit_bits(self):
        """Bits of the threshold (``threshold_bits``, else ``state_bits``)."""
        return self.threshold_bits or self.state_bits


_PROFILES = {}


def register_profile(profile, *, replace=False):
    """Add ``profile`` to the registry (``replace=True`` to redefine a name);
    returns it."""
    if not isinstance(profile, Profile):
        raise TypeError(f"register_profile: expected a Profile, got "
                        f"{type(profile).__name__}.")
    if profile.name in _PROFILES and not replace:
        raise ValueError(f"register_profile: a profile named {profile.name!r} exists; "
                         "pass replace=True to redefine it.")
    _PROFILES[profile.name] = profile
    return profile


def get_profile(name):
    """The registered ``Profile`` called ``name`` (a ``Profile`` is returned as is)."""
    if isinstance(name, Profile):
        return name
    try:
        return _PROFILES[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown hardware profile {name!r}; the known profiles are "
                         f"{', '.join(profiles())}.") from None


def profiles():
    """The names of the registered profiles, in registration order."""
    return list(_PROFILES)


# -- the built-in targets (figures and sources: /work/shared/HARDWARE.md) ------------------

register_profile(Profile(
    "generic-int8",
    "8-bit weights, 16-bit state, 8-bit decays; no size limits",
    sources=("common int8 deployment practice (no particular chip)",),
    weight_bits=8, bias_bits=16, state_bits=16, decay_bits=8))

register_profile(Profile(
    "loihi2",
    "Intel Loihi 2: 8-bit weights, 12-bit decays, <= 1 M neurons, <= 120 M synapses",
    sources=("lava-dl slayer/neuron/cuba.py (p_scale = 1 << 12, right_shift_to_zero)",
             "lava-dl slayer/utils/quantize.py (8-bit weights; state scale 1 << 6)",
             "open-neuromorphic.org, Loihi 2 (128 cores, 1 M neurons, 120 M synapses)"),
    notes="24-bit state is Loihi 1's (Davies et al. 2018); Loihi 2's: unverified.",
    weight_bits=8, bias_bits=13, state_bits=24, state_fraction_bits=6, decay_bits=12,
    graded_spikes=True,
    max_neurons=1_000_000, max_weights=120_000_000))

register_profile(Profile(
    "speck",
    "SynSense Speck 2e/2f (DYNAP-CNN): 9 conv cores of IAF neurons",
    sources=("sinabs backend/dynapcnn/chips/dynapcnn.py get_constraints",
             "sinabs dynapcnn_layer.py memory_summary", "samna Speck 2e docs"),
    weight_bits=8, bias_bits=16, state_bits=16, decay_bits=8,
    connections=("dense", "conv"), leak=False, synapse=False, recurrence=False,
    max_pooling=False, merges=False, consecutive_weights=False,
    max_input_size=128, max_outputs=15, max_neurons=320_000, max_features=1024,
    max_kernel_size=16, strides=(1, 2, 4, 8), pool_sizes=(1, 2, 4), max_padding=7,
    cores=tuple((k * 1024, n * 1024) for k, n in zip(
        (16, 16, 16, 32, 32, 64, 64, 16, 16), (64, 64, 64, 32, 32, 16, 16, 16, 16)))))

register_profile(Profile(
    "xylo-audio2",
    "SynSense Xylo Audio 2 (SYNS61201): 16 inputs, 1000 hidden and 8 output neurons",
    sources=("rockpool devices/xylo/syns61201/xylo_mapper.py, xylo_drc",
             "rockpool docs/devices/xylo-overview.ipynb"),
    notes="decay v -= v >> dash, dash = round(log2(tau / dt)); 2 synaptic states "
          "per hidden neuron.",
    weight_bits=8, bias_bits=None, state_bits=16, decay_mode="shift",
    connections=("dense",), bias=False, max_pooling=False, merges=False,
    consecutive_weights=False, max_inputs=16, max_outputs=8, max_hidden_neurons=1000,
    max_fan_in=63, max_weights=64_000))

register_profile(Profile(
    "spinnaker2",
    "SpiNNaker2: 152 ARM cores of 128 KB each per chip, neurons in software",
    sources=("SpiNNaker2 datasheet v0.03 (2021)", "Hoeppner et al. (energy figures)"),
    notes="max_weights: one byte per weight in all cores' memory (an upper bound, "
          "neuron state and code not counted); neurons per core: not found.",
    weight_bits=8, bias_bits=16, state_bits=16, decay_bits=12,
    max_weights=152 * 128 * 1024))

register_profile(Profile(
    "akida",
    "BrainChip Akida: event-based CNNs, 8-bit weights, 8 Mb SRAM",
    sources=("open-neuromorphic.org, Akida", "doc.brainchipinc.com (cnn2snn)"),
    notes="its neurons are quantised ReLUs: no leak, no synapse, no recurrence.",
    weight_bits=8, bias_bits=16, state_bits=16, decay_bits=8,
    leak=False, synapse=False, recurrence=False, max_weights=8 * 1024 * 1024 // 8))
