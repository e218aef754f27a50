"""Keras' channels-last layout against NIR's channels-first one, and the exporter's ports.

A Keras tensor of one timestep is channels-last, ``(H, W, C)``; a NIR tensor
is channels-first, ``(C, H, W)``. Vectors (and scalars) are the same in both.
Moving the channel axis changes three things, each handled here once:

* shapes: ``to_first``/``to_last``;
* weights: a Keras convolution kernel is ``(*spatial, in, out)``, NIR's
  ``(out, in, *spatial)``; a Dense kernel is ``(in, out)``, NIR's ``(out, in)``;
* flattening: ``Flatten`` of ``(H, W, C)`` in Keras and of ``(C, H, W)`` in NIR
  give the same numbers in different orders. The exporter keeps, for every
  tensor, ``order``: NIR-shaped, the Keras flat index of each NIR element
  (see ``Port``). A Dense after a Flatten then takes its kernel rows in that
  order, a per-neuron parameter is read in that order (``Port.to_nir``), and
  a flattened model output is put back into Keras' order by a Linear node.
"""

import numpy as np


def to_first(shape):
    """NIR (channels-first) shape of a Keras (channels-last) per-step shape."""
    shape = tuple(shape)
    return shape if len(shape) < 2 else (shape[-1],) + shape[:-1]


def to_last(shape):
    """Keras (channels-last) shape of a NIR (channels-first) per-step shape."""
    shape = tuple(shape)
    return shape if len(shape) < 2 else shape[1:] + (shape[0],)


def array_to_last(array):
    """A NIR (channels-first) per-neuron array in Keras' channels-last layout."""
    array = np.asarray(array)
    return array if array.ndim < 2 else np.moveaxis(array, 0, -1)


def f32(array):
    """``array`` as float32, the dtype NIR nodes carry."""
    return np.asarray(array, "float32")


def canonical_order(keras_shape):
    """For each NIR element, its flat index in the Keras tensor (channels moved first)."""
    index = np.arange(int(np.prod(keras_shape))).reshape(keras_shape)
    return index if index.ndim < 2 else np.moveaxis(index, -1, 0)


def permuted_order(order, keras_shape, dims):
    """``order`` after a Keras ``Permute(dims)`` of a tensor of ``keras_shape``.

    NIR has no permute node: the NIR tensor stays as it is and only the
    Keras index of each of its elements changes.
    """
    index = np.arange(order.size).reshape(keras_shape)
    moved = np.transpose(index, [d - 1 for d in dims]).reshape(-1)
    new_index = np.empty_like(moved)
    new_index[moved] = np.arange(moved.size)
    return new_index[order]


def dense_weight_to_nir(kernel, order):
    """NIR's ``(out, in)`` weight of a Keras ``(in, out)`` kernel whose input
    elements arrive in NIR ``order`` (a flat port order)."""
    return np.asarray(kernel[order.reshape(-1), :].T, "float32")


def unpermute_weight(order):
    """The ``(n, n)`` 0/1 weight that puts a flat NIR vector of ``order`` back
    into Keras' flatten order."""
    n = order.size
    weight = np.zeros((n, n), "float32")
    weight[order, np.arange(n)] = 1.0
    return weight


def conv_kernel_to_nir(kernel):
    """NIR's ``(out, in, *spatial)`` weight of a Keras ``(*spatial, in, out)`` kernel."""
    rank = kernel.ndim - 2
    return np.transpose(kernel, (rank + 1, rank) + tuple(range(rank)))


def conv_weight_to_keras(weight):
    """Keras' ``(*spatial, in, out)`` kernel of a NIR ``(out, in, *spatial)`` weight."""
    rank = weight.ndim - 2
    return np.transpose(weight, tuple(range(2, rank + 2)) + (1, 0))


def keras_to_nir_permutation(ndim):
    """The ``keras.layers.Permute`` dims that move a per-step tensor of ``ndim``
    axes from channels-last to channels-first (so that Keras then flattens
    it in NIR's order)."""
    return (ndim,) + tuple(range(1, ndim))


class Port:
    """A tensor of the exported graph.

    ``sources``: the NIR nodes whose summed outputs it is (NIR sums a node's
    incoming edges). ``keras_shape``: its Keras per-step shape. ``order``:
    NIR-shaped, the Keras flat index of each NIR element; by default the
    canonical one (channels moved first), other after a Flatten of a
    channels-last tensor or a Permute. ``pad``: a pending symmetric
    ZeroPadding per spatial axis, which only a Conv can take over. ``static``:
    a static (time-less) tensor of a model whose input a RepeatTime repeats.
    """

    def __init__(self, sources, keras_shape, order=None, pad=None, static=False):
        self.sources = tuple(sources)
        self.pad = pad
        self.static = static
        self.keras_shape = tuple(int(d) for d in keras_shape)
        self.order = canonical_order(self.keras_shape) if order is None else order

    @property
    def canonical(self):
        """Whether the NIR tensor is the Keras one with its channels moved first."""
        return np.array_equal(self.order, canonical_order(self.keras_shape))

    def to_nir(self, value):
        """A per-element parameter (broadcast over the Keras shape) in NIR order."""
        full = np.broadcast_to(np.asarray(value, "float64"), self.keras_shape)
        return full.reshape(-1)[self.order]
