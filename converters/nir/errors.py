"""The two error messages of the NIR converter: what, why, and how to fix it."""

from ..base import ConversionError


def export_error(layer, why, fix):
    """``ConversionError`` for a Keras layer ``export_nir`` cannot express."""
    return ConversionError(
        f"Cannot export layer '{layer.name}' ({type(layer).__name__}) to NIR: {why}. "
        f"To fix: {fix}."
    )


def import_error(name, node, why, fix):
    """``ConversionError`` for a NIR node ``import_nir`` cannot express."""
    return ConversionError(
        f"Cannot import NIR node '{name}' ({type(node).__name__}): {why}. To fix: {fix}."
    )
