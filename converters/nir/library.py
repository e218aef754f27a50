"""The ``nir`` package, imported on first use (it is an optional dependency)."""

from keras_spiking.optional import require


def load_nir():
    """The ``nir`` package, imported on first use (``pip install 'keras_spiking[nir]'``)."""
    return require("nir", "NIR export/import", "nir")
