"""keras_spiking.load_model: a bad .keras file is named, with what is wrong."""

import zipfile

import numpy as np
import pytest

import keras

import keras_spiking


def test_load_model_round_trip(tmp_path):
    model = keras.Sequential([keras.Input((3, 2)), keras_spiking.layers.Leaky(beta=0.5)])
    path = tmp_path / "m.keras"
    model.save(path)
    x = np.ones((1, 3, 2), "float32")
    np.testing.assert_array_equal(keras_spiking.load_model(path)(x), model(x))


@pytest.mark.parametrize("content, why", [
    (b"", "the file is empty"),
    (b"garbage", "it is not a zip archive"),
    ("zip", "the archive has no config.json"),
])
def test_bad_keras_file_names_the_path(tmp_path, content, why):
    path = tmp_path / "bad.keras"
    if content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("other.txt", "x")
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"load_model: .*bad\.keras is not a \.keras file "
                       rf"\({why}"):
        keras_spiking.load_model(path)


def test_truncated_keras_file(tmp_path):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(40)])
    path = tmp_path / "cut.keras"
    model.save(path)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cut\.keras is not a \.keras file"):
        keras_spiking.load_model(path)


def test_missing_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.keras does not exist"):
        keras_spiking.load_model(tmp_path / "nope.keras")
    with pytest.raises(ValueError, match="it is a folder"):
        keras_spiking.load_model(tmp_path)
