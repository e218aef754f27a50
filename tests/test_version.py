"""The version is defined once (keras_spiking/version.py) and read everywhere else."""

import pathlib

import pytest

import keras_spiking
from keras_spiking import version

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_version_names_agree():
    assert version.version == "1.0.0.dev0"
    assert keras_spiking.__version__ == version.version
    assert keras_spiking.version is version  # the module, as in KerasSpiking


def test_setup_cfg_reads_the_version_module():
    setupcfg = pytest.importorskip("setuptools.config.setupcfg")
    metadata = setupcfg.read_configuration(str(ROOT / "setup.cfg"))["metadata"]
    assert metadata["version"] == version.version


def test_kerasspiking_top_level_modules():
    for name in ("callbacks", "config", "constraints", "regularizers", "version"):
        assert getattr(keras_spiking, name).__name__ == f"keras_spiking.{name}"
    assert keras_spiking.default is keras_spiking.config.default
