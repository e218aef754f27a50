"""Deploying to neuromorphic hardware: profiles, a constraint check, integer quantisation.

* ``profiles``: ``Profile`` (a target's published constraints and their
  sources), ``register_profile``, ``get_profile``, ``profiles()``; built in:
  generic-int8, loihi2, speck, xylo-audio2, spinnaker2, akida.
* ``check(model, profile)``: every ``Violation`` (layer, constraint, value,
  limit, what to change); a layer it cannot judge is reported, never passed.
* ``quantize(model, profile, calibration_data=None)``: a copy whose weights,
  biases, thresholds, decays and state are on the profile's integer grid, and
  a ``QuantizeReport``.
"""

from keras_spiking.hardware.check import Violation, check, format_violations
from keras_spiking.hardware.profiles import (
    Profile,
    get_profile,
    profiles,
    register_profile,
)
from keras_spiking.hardware.quantize import (
    QuantizeReport,
    integer_grid,
    quantize,
    quantize_decay,
)
