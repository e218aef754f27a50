"""Packaging: the public names, the converters mapping, the console command."""

import subprocess
import sys

import keras_spiking


def test_converters_is_importable_as_subpackage():
    import keras_spiking.converters as converters

    assert converters.__name__ == "keras_spiking.converters"
    assert "converter" in converters.__doc__


def test_public_names():
    assert callable(keras_spiking.lif_rate) and callable(keras_spiking.soft_lif_rate)
    assert keras_spiking.layers.SoftLIF and keras_spiking.layers.LIFRate
    assert keras_spiking.__version__


def test_console_command_help():
    out = subprocess.run(
        [sys.executable, "-m", "keras_spiking.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "demo" in out
