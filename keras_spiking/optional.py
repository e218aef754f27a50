"""Optional dependencies, imported on first use with an error that says how to get them."""

import importlib


def require(module, feature, extra, alternative=""):
    """Import ``module`` for ``feature``; if missing, raise an ImportError that
    names the pip command (the package's ``extra``) that installs it, and the
    ``alternative`` that needs no install, if there is one."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(
            f"{feature} needs the {module.split('.')[0]} package, which is not installed. "
            f"Install it with `pip install 'keras_spiking[{extra}]'`"
            + (f", or {alternative}." if alternative else ".")
        ) from e
