"""Reading and writing .nir files: round trip, atomic writes, clear errors for bad files."""

import os

import keras
import numpy as np
import pytest

nir = pytest.importorskip("nir")

import keras_spiking as ks  # noqa: E402
from keras_spiking.converters import export_nir, import_nir  # noqa: E402
from nir_reference import (  # noqa: E402
    T,
    positive_dense,
    random_input,
    seeded_model,
)


def test_hdf5_write_read_round_trip(tmp_path):
    model = seeded_model(lambda: [
        keras.Input((T, 4)), positive_dense(5), ks.layers.Leaky(0.8, reset="zero"),
    ])
    path = tmp_path / "model.nir"
    graph = export_nir(model, path, dt=0.005)
    assert os.listdir(tmp_path) == ["model.nir"]  # no temporary file left behind
    read = nir.read(path)
    assert set(read.nodes) == set(graph.nodes)
    assert sorted(map(tuple, read.edges)) == sorted(graph.edges)
    np.testing.assert_array_equal(read.nodes["dense"].weight, graph.nodes["dense"].weight)
    np.testing.assert_allclose(read.nodes["leaky"].tau, 0.005 / 0.2, rtol=1e-6)
    x = random_input((4,))
    model2 = import_nir(path)  # dt and scheme from the file's metadata
    np.testing.assert_allclose(np.asarray(model2(x)), np.asarray(model(x)))
    assert model2.get_layer("leaky").dt == 0.005


def _exported():
    """A small model and its NIR graph."""
    model = seeded_model(lambda: [
        keras.Input((T, 4)), positive_dense(5), ks.layers.Leaky(0.8, reset="zero"),
    ])
    return model, export_nir(model)


def _bad_files(folder):
    """{name: (path, why)} of files that are not NIR files."""
    _, graph = _exported()
    good = folder / "good.nir"
    nir.write(good, graph)
    data = good.read_bytes()
    files = {
        "empty": (b"", "empty"),
        "garbage": (b"these are not the bytes you are looking for\n" * 20, "not an HDF5 file"),
        "truncated": (data[: len(data) // 2], "truncated or damaged"),
        "cut_header": (data[:100], "truncated or damaged"),
    }
    out = {}
    for name, (content, why) in files.items():
        path = folder / f"{name}.nir"
        path.write_bytes(content)
        out[name] = (path, why)
    h5py = pytest.importorskip("h5py")
    with h5py.File(folder / "other.h5", "w") as f:
        f["x"] = np.ones(3)
    out["other_hdf5"] = (folder / "other.h5", "without a NIR graph")
    os.mkdir(folder / "folder.nir")
    out["folder"] = (folder / "folder.nir", "folder")
    return out


def test_import_names_the_path_of_a_file_that_is_not_nir(tmp_path):
    for name, (path, why) in _bad_files(tmp_path).items():
        with pytest.raises(ValueError) as info:
            import_nir(path, dt=0.001)
        message = str(info.value)
        assert message.startswith(f"import_nir: {path} is not a NIR file ("), (name, message)
        assert why in message, (name, message)
    missing = tmp_path / "missing.nir"
    with pytest.raises(FileNotFoundError, match="import_nir: .*missing.nir does not exist"):
        import_nir(missing, dt=0.001)


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    _, graph = _exported()
    path = tmp_path / "model.nir"
    export_nir(_exported()[0], path)
    before = path.read_bytes()

    def broken_write(filename, graph):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(nir, "write", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        export_nir(_exported()[0], path)
    assert path.read_bytes() == before  # the old file is untouched ...
    assert os.listdir(tmp_path) == ["model.nir"]  # ... and nothing is left behind


def test_write_keeps_permissions_and_names_bad_paths(tmp_path):
    model, _ = _exported()
    umask = os.umask(0o022)
    os.umask(umask)
    path = tmp_path / "new.nir"
    export_nir(model, path)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # as open() would create it
    os.chmod(path, 0o640)
    export_nir(model, path)
    assert os.stat(path).st_mode & 0o777 == 0o640  # a replaced file keeps its mode
    with pytest.raises(FileNotFoundError, match="the folder .*nowhere does not exist"):
        export_nir(model, tmp_path / "nowhere" / "model.nir")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        export_nir(model, tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["new.nir"]
