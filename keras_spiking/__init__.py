"""keras_spiking: spiking neural networks in Keras 3.

Train with LIF rates, train spiking-aware (``SpikingActivation``), convert to
spikes (``keras_spiking.converters``), train spiking layers with surrogate
gradients, learn exact spike times, export to NIR, estimate energy.

Every neuron and synapse is one discrete update, the dynamics core
``keras_spiking.neurons``; the layers in ``keras_spiking.layers`` are its faces.
``graph`` is the one walk over a Keras graph and ``layer_facts`` the one
registry that classifies layers. docs/architecture.md maps the rest.
"""

import keras

from keras_spiking import xla_flags

xla_flags.apply(keras.backend.backend())  # before anything below can start JAX's backend

from keras_spiking import (  # noqa: E402
    activations,
    callbacks,
    config,
    constraints,
    datasets,
    distributed,
    encoders,
    energy,
    hardware,
    layers,
    losses,
    metrics,
    model_energy,
    neurons,
    plotting,  # matplotlib is imported only when a plot is drawn
    regularizers,
    spike_time,
    surrogates,
    version,
)
from keras_spiking.config import default
from keras_spiking.saving import load_model
from keras_spiking.energy import ModelEnergy
from keras_spiking.layers import (  # KerasSpiking's top-level names
    Alpha,
    AlphaCell,
    Lowpass,
    LowpassCell,
    SpikingActivation,
    SpikingActivationCell,
)
from keras_spiking.layers.rate import with_exact_rates
from keras_spiking.neurons import lif_rate, soft_lif_rate
from keras_spiking.spike_time_training import (
    FirstSpikeAccuracy,
    SpikeTimeCrossEntropy,
    SpikeTimeEmulator,
    WeightBumping,
    use_forward_fn,
)

__version__ = version.version
