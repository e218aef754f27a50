"""The keras-spiking command, verb by verb, in process on a tiny saved model."""

import keras
import numpy as np
import pytest

from keras_spiking import cli
from keras_spiking import layers as L


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    inp = keras.Input((4, 6))
    x = L.IF(threshold=1.0, reset_delay=False, reset="zero")(
        keras.layers.Dense(8, use_bias=False)(inp))
    out = L.IF(threshold=1.0, reset_delay=False, reset="zero")(
        keras.layers.Dense(3, use_bias=False)(x))
    path = tmp_path_factory.mktemp("models") / "tiny.keras"
    keras.Model(inp, out).save(path)
    return path


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("verb", ["profiles", "check", "quantize", "export", "energy"])
def test_every_verb_has_help(verb, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main([verb, "--help"])
    assert info.value.code == 0 and "usage: keras-spiking " + verb in capsys.readouterr().out


def test_profiles_lists_the_builtin_profiles(capsys):
    code, out, _ = run(capsys, "profiles")
    assert code == 0
    for name in ("generic-int8", "loihi2", "speck", "xylo-audio2", "spinnaker2", "akida"):
        assert name in out


def test_check_fits_and_does_not_fit(model_file, capsys):
    code, out, _ = run(capsys, "check", model_file, "--profile", "loihi2")
    assert code == 0 and "no violations" in out
    code, out, _ = run(capsys, "check", model_file, "--profile", "speck")
    assert code == 0
    code, out, _ = run(capsys, "check", model_file, "--profile", "xylo-audio2")
    assert code == 0  # 6 inputs, 8 hidden, 3 outputs, no biases: fits


def test_check_lists_each_violation_and_exits_1(tmp_path, capsys):
    inp = keras.Input((2, 20))
    path = tmp_path / "leaky.keras"
    keras.Model(inp, L.Leaky(beta=0.9)(keras.layers.Dense(4)(inp))).save(path)
    code, out, _ = run(capsys, "check", path, "--profile", "xylo-audio2")
    assert code == 1 and "2 violation(s) of xylo-audio2" in out
    assert "max_inputs = 20 (limit 16)" in out and "bias" in out


def test_errors_are_one_line_and_non_zero(model_file, tmp_path, capsys):
    code, _, err = run(capsys, "check", model_file, "--profile", "loihi3")
    assert code == 1 and "known profiles are generic-int8" in err and err.count("\n") == 1
    code, _, err = run(capsys, "check", tmp_path / "missing.keras", "--profile", "loihi2")
    assert code == 1 and "no such file" in err
    junk = tmp_path / "junk.keras"
    junk.write_text("not a model")
    code, _, err = run(capsys, "check", junk, "--profile", "loihi2")
    assert code == 1 and "not a readable Keras model" in err and err.count("\n") == 1
    text = tmp_path / "model.txt"
    text.write_text("x")
    code, _, err = run(capsys, "export", text, "-o", tmp_path / "m.nir")
    assert code == 1 and "expected a .keras model file" in err
    with pytest.raises(SystemExit) as info:
        cli.main(["check", str(model_file)])  # --profile missing
    assert info.value.code == 2


def test_quantize_writes_a_new_model_and_never_the_input(model_file, tmp_path, capsys):
    out = tmp_path / "q.keras"
    code, text, _ = run(capsys, "quantize", model_file, "--profile", "loihi2", "-o", out)
    assert code == 0 and out.exists() and "wrote" in text
    model = keras.saving.load_model(out)
    assert model.layers[2].integer_state["bits"] == 24
    kernel = model.layers[1].kernel.numpy()
    scale = np.max(np.abs(kernel)) / 127
    np.testing.assert_allclose(kernel / scale, np.round(kernel / scale), atol=1e-4)
    assert model.predict(np.ones((1, 4, 6)), verbose=0).shape == (1, 4, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["q.keras"]  # no temporary left
    before = model_file.read_bytes()
    code, _, err = run(capsys, "quantize", model_file, "--profile", "loihi2", "-o", model_file)
    assert code == 1 and "refusing to overwrite the input" in err
    assert model_file.read_bytes() == before
    code, _, err = run(capsys, "quantize", model_file, "--profile", "loihi2", "-o",
                       tmp_path / "q.h5")
    assert code == 1 and "must end with .keras" in err


def test_export_writes_nir(model_file, tmp_path, capsys):
    nir = pytest.importorskip("nir")
    out = tmp_path / "m.nir"
    code, _, _ = run(capsys, "export", model_file, "-o", out, "--dt", "0.001")
    assert code == 0
    graph = nir.read(str(out))
    assert sum(type(n).__name__ == "IF" for n in graph.nodes.values()) == 2


def test_energy(model_file, tmp_path, capsys):
    data = tmp_path / "x.npy"
    np.save(data, (np.random.default_rng(0).random((4, 4, 6)) < 0.5).astype("float32"))
    code, out, _ = run(capsys, "energy", model_file, "--device", "loihi", "--timesteps", "8",
                       "--data", data)
    assert code == 0 and "J per inference of 8 steps" in out
    code, _, err = run(capsys, "energy", model_file, "--device", "loihi")
    assert code == 1 and "example_data" in err and err.count("\n") == 1
    code, out, _ = run(capsys, "energy", model_file, "--device", "cpu")
    assert code == 0 and "cpu:" in out
    code, _, err = run(capsys, "energy", model_file, "--device", "abacus")
    assert code == 1 and "abacus" in err
