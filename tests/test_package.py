"""Packaging: the public names, the converters mapping, the console command."""

import pytest

import keras_spiking
from keras_spiking import cli


def test_converters_is_importable_as_subpackage():
    import keras_spiking.converters as converters

    assert converters.__name__ == "keras_spiking.converters"
    assert "converter" in converters.__doc__


def test_public_names():
    assert callable(keras_spiking.lif_rate) and callable(keras_spiking.soft_lif_rate)
    assert keras_spiking.layers.SoftLIF and keras_spiking.layers.LIFRate
    assert keras_spiking.__version__


def test_console_command_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--help"])
    assert info.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_console_command_rejects_unknown_commands(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["train-everything"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_missing_optional_dependency_names_the_pip_extra():
    from keras_spiking.optional import require

    assert require("numpy", "arrays", "none").__name__ == "numpy"
    with pytest.raises(ImportError, match=r"plots needs the no_such_module_xyz package.*"
                                          r"pip install 'keras_spiking\[plot\]'"):
        require("no_such_module_xyz.sub", "plots", "plot")
