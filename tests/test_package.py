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


#: a JAX user's install: Keras and JAX, no TensorFlow (its import is made to fail)
WITHOUT_TENSORFLOW = r"""
import importlib.abc, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError(f"No module named {name!r} (blocked by the test)")

sys.meta_path.insert(0, NoTensorFlow())
import keras, numpy as np
import keras_spiking
from keras_spiking import datasets

assert keras.backend.backend() == "jax"
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((32, 6, 8, 8, 1)).astype("float32")
y = rng.integers(0, 3, 32)
model = keras.Sequential([
    keras.Input((6, 8, 8, 1)),
    keras_spiking.layers.TimeFold(keras.layers.Conv2D(4, 3)),
    keras_spiking.layers.Leaky(beta=0.5, return_sequences=True),
    keras_spiking.layers.TimeFold(keras.layers.Flatten()),
    keras_spiking.layers.TimeFold(keras.layers.Dense(3)),
    keras.layers.GlobalAveragePooling1D(),  # mean over time
])
model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
feed = datasets.batches(x, y, batch_size=8, shuffle=True, seed=1)
assert isinstance(feed, datasets.ArrayBatches)
before = [w.copy() for w in model.get_weights()]
history = model.fit(feed, epochs=2, shuffle=False, verbose=0)
assert np.all(np.isfinite(history.history["loss"]))
assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
assert model.predict(datasets.batches(x, batch_size=8), verbose=0).shape == (32, 3)
assert "tensorflow" not in sys.modules
try:  # refused before any download is tried (the blocker makes TensorFlow missing)
    datasets.load_fashion_mnist("train", source="download")
except ImportError as e:
    assert "needs the tensorflow package" in str(e) and "as_numpy=True" in str(e), e
else:
    raise AssertionError("load_fashion_mnist(source='download') ran without TensorFlow")
print("trained without tensorflow")
"""


def test_jax_install_without_tensorflow_trains_from_batches():
    """A JAX user need not install TensorFlow: the package imports, trains a
    surrogate-gradient network from ``datasets.batches`` and predicts, and
    TensorFlow is never imported; what needs it says so."""
    import os
    import subprocess
    import sys

    pytest.importorskip("jax")
    env = dict(os.environ, KERAS_BACKEND="jax")
    done = subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "trained without tensorflow" in done.stdout
