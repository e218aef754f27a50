"""KerasSpiking's module name for the energy estimates: ``keras_spiking.model_energy``.

The same objects as ``keras_spiking.energy`` (``ModelEnergy``, the device and
layer registries), so that ``from keras_spiking.model_energy import
ModelEnergy`` works as in KerasSpiking 0.3.
"""

from keras_spiking.energy import *  # noqa: F401,F403
from keras_spiking.energy import __all__  # noqa: F401
