"""Weight quantisation for deployment on fixed-point neuromorphic hardware.

Chips store synaptic weights as small signed integers (Loihi: up to 8 bits,
SpiNNaker 2 and Xylo: 8 bits or fewer) with one scale per layer or per output
channel. ``quantize_weights`` rounds every kernel of a model to that grid,

    w_q = scale * clip(round(w / scale), -(2**(bits-1) - 1), 2**(bits-1) - 1),
    scale = max|w| / (2**(bits-1) - 1)     (per layer, or per output channel),

so that a network can be evaluated, converted or exported with exactly the
weights a chip would hold. Biases stay in floating point (chips hold them with
more bits, or as a constant input current). ``keras_spiking.hardware.quantize``
puts a whole model (biases, thresholds, decays, state) on a chip's grid; both
use the same rounding, ``keras_spiking.hardware.integer_grid``.
"""

import dataclasses
import numbers

import keras
import numpy as np

from keras_spiking.hardware.quantize import integer_grid
from keras_spiking.validation import check_finite_weights

#: Weight variables that are quantised (kernels of Dense, Conv, depthwise and
#: separable convolutions, recurrent kernels); everything else is kept.
KERNELS = ("kernel", "depthwise_kernel", "pointwise_kernel", "recurrent_kernel")


@dataclasses.dataclass
class QuantizedKernel:
    """What happened to one kernel: the ``layer``'s path in the model, its
    ``scale`` (one value, or one per output channel) and the largest rounding
    error."""

    layer: str
    variable: str
    bits: int
    scale: np.ndarray
    max_error: float


def quantize_weights(model, bits=8, *, per_channel=False):
    """A copy of ``model`` whose kernels hold ``bits``-bit signed integer values.

    Args:
        model: any Keras model: an ANN before conversion, a converted spiking
            model (kernels inside ``TimeFold`` are found), or a model of
            surrogate-gradient layers.
        bits: integer bits per weight including the sign, 2 ... 32.
        per_channel: one scale per slice along the kernel's last axis (the
            output channel of Dense and Conv) instead of one per kernel.

    Returns ``(copy, report)``: the copy has the same architecture and every
    other weight unchanged; ``report`` is a list of ``QuantizedKernel``. The
    rounding error of a weight is at most half its scale.
    """
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) \
            or not 2 <= bits <= 32:
        raise ValueError(f"quantize_weights: bits must be an integer in [2, 32] (the sign "
                         f"bit included), got {bits!r}.")
    if not isinstance(model, keras.Model):
        raise TypeError(f"quantize_weights: expected a keras.Model, got "
                        f"{type(model).__name__}.")
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    report = []
    for variable in copy.weights:
        layer, _, name = variable.path.rpartition("/")
        if name not in KERNELS:
            continue
        w = keras.ops.convert_to_numpy(variable).astype("float64")
        check_finite_weights("quantize_weights", layer, name, w)
        k, scale = integer_grid(w, bits, per_channel=per_channel)  # all-zero: scale 1
        q = k * scale
        variable.assign(q.astype(variable.dtype))
        report.append(QuantizedKernel(layer, name, int(bits), np.squeeze(scale),
                                      float(np.max(np.abs(q - w)))))
    return copy, report
