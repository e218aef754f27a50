"""The keras-spiking command, verb by verb, in process on a tiny saved model
(and once as a subprocess, for the exit codes)."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_spiking import cli
from keras_spiking import layers as L
from keras_spiking.converters import convert, evaluate_timesteps


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


@pytest.fixture(scope="module")
def ann_files(tmp_path_factory):
    """A tiny ReLU classifier and its data: x.npy (inputs), xy.npz (x and the
    ANN's own classes as labels, so the ANN scores 100 %)."""
    keras.utils.set_random_seed(1)
    ann = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16), keras.layers.ReLU(),
                            keras.layers.Dense(3)], name="tiny_ann")
    x = np.random.default_rng(0).uniform(0, 1, (40, 6)).astype("float32")
    y = ann.predict(x, verbose=0).argmax(-1)
    folder = tmp_path_factory.mktemp("ann")
    ann.save(folder / "ann.keras")
    np.save(folder / "x.npy", x)
    np.savez(folder / "xy.npz", x=x, y=y)
    return folder


@pytest.mark.parametrize("verb", ["convert", "evaluate", "profiles", "check", "quantize",
                                  "export", "energy"])
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


def test_convert_writes_a_spiking_model_of_the_asked_steps(ann_files, tmp_path, capsys):
    out = tmp_path / "snn.keras"
    code, text, _ = run(capsys, "convert", ann_files / "ann.keras", "--calibration",
                        ann_files / "x.npy", "--timesteps", 16, "-o", out, "--synapse", "none")
    assert code == 0 and "rate-mode verify: max error" in text and "3/3" in text
    snn = keras.saving.load_model(out)
    assert [l.timesteps for l in snn.layers if isinstance(l, L.RepeatTime)] == [16]
    assert not any(isinstance(l, L.Lowpass) for l in snn.layers)
    # the same model as convert() with the same options
    x = np.load(ann_files / "x.npy")
    same = convert(keras.saving.load_model(ann_files / "ann.keras"), calibration_data=x,
                   timesteps=16, static_input=True, synapse=None)
    np.testing.assert_allclose(snn.predict(x, verbose=0), same.predict(x, verbose=0),
                               atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == ["snn.keras"]  # no temporary left
    # without --synapse: convert()'s own default; a time constant gives Lowpass layers
    for flag, synapse in (((), "auto"), (("--synapse", "0.005"), 0.005)):
        out = tmp_path / f"snn_{synapse}.keras"
        code, _, err = run(capsys, "convert", ann_files / "ann.keras", "--calibration",
                           ann_files / "x.npy", "--timesteps", 16, "-o", out, *flag)
        assert code == 0, err
        same = convert(keras.saving.load_model(ann_files / "ann.keras"), calibration_data=x,
                       timesteps=16, static_input=True, synapse=synapse)
        np.testing.assert_allclose(keras.saving.load_model(out).predict(x, verbose=0),
                                   same.predict(x, verbose=0), atol=1e-6)
    assert any(isinstance(l, L.Lowpass) for l in keras.saving.load_model(out).layers)
    # the first IF layer of the static input: closed form by default, the loop on request
    for flag, closed in (((), True), (("--no-closed-form",), False)):
        out = tmp_path / f"snn_closed_{closed}.keras"
        code, _, err = run(capsys, "convert", ann_files / "ann.keras", "--calibration",
                           ann_files / "x.npy", "--timesteps", 16, "-o", out, *flag)
        assert code == 0, err
        neurons = [l for l in keras.saving.load_model(out).layers
                   if isinstance(l, L.SpikingIF)]
        assert neurons and neurons[0].constant_input is closed


def test_convert_refuses_bad_data_in_one_line_and_keeps_the_old_output(ann_files, tmp_path,
                                                                       capsys):
    out = tmp_path / "snn.keras"
    out.write_bytes(b"the user's file")
    model = ann_files / "ann.keras"
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 7), "float32"))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.full((5, 6), np.nan, "float32"))
    junk = tmp_path / "junk.npy"
    junk.write_text("not an array")
    cases = [(("--calibration", "mnist2"), "unknown dataset 'mnist2'"),
             (("--calibration", tmp_path / "none.npy"), "no such file"),
             (("--calibration", wrong), "must be shaped (samples, *(6,))"),
             (("--calibration", nan), "holds 30 NaN"),
             (("--calibration", junk), "not a .npy or .npz array file"),
             (("--calibration", ann_files / "x.npy", "--max-pool", "avg", "--timesteps", "0"),
              "timesteps")]
    for extra, reason in cases:
        code, _, err = run(capsys, "convert", model, "-o", out, "--timesteps", 8, *extra)
        assert code == 1 and reason in err and err.count("\n") == 1, (extra, err)
        assert out.read_bytes() == b"the user's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.npy", "nan.npy", "snn.keras",
                                                          "wrong.npy"]
    with pytest.raises(SystemExit) as info:  # a bad argument: exit code 2, one line
        cli.main(["convert", str(model), "-o", str(out), "--calibration", "x.npy",
                  "--synapse", "-1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("keras-spiking convert: error: argument --synapse") and "--help" in err


@pytest.fixture(scope="module")
def snn_file(ann_files):
    ann = keras.saving.load_model(ann_files / "ann.keras")
    snn = convert(ann, calibration_data=np.load(ann_files / "x.npy"), timesteps=16,
                  static_input=True)
    snn.save(ann_files / "snn16.keras")
    return ann_files / "snn16.keras"


def test_evaluate_reads_a_model_saved_for_one_T_at_every_T(ann_files, snn_file, tmp_path,
                                                            capsys):
    plot = tmp_path / "acc.png"
    code, text, _ = run(capsys, "evaluate", snn_file, "--data", ann_files / "xy.npz",
                        "--timesteps", "4,8,32", "--ann", ann_files / "ann.keras",
                        "--plot", plot)
    assert code == 0 and "saved for 16 steps; running it for 32" in text
    assert "ANN" in text and "100.00%" in text and "wrote" in text
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["acc.png"]
    # the same accuracies as a model converted for 32 steps
    data = np.load(ann_files / "xy.npz")
    ann = keras.saving.load_model(ann_files / "ann.keras")
    direct = convert(ann, calibration_data=np.load(ann_files / "x.npy"), timesteps=32,
                     static_input=True)
    expected = evaluate_timesteps(direct, (data["x"], data["y"]), [4, 8, 32], verbose=0)
    rows = [line.split() for line in text.splitlines() if line.split()[:1] in
            (["4"], ["8"], ["32"])]
    assert [float(r[1].rstrip("%")) for r in rows] == pytest.approx(
        [100 * expected.last[T] for T in (4, 8, 32)], abs=0.005)


def test_evaluate_errors_are_one_line(ann_files, snn_file, tmp_path, capsys):
    x = np.load(ann_files / "x.npy")
    files = {"nolabels.npz": dict(x=x), "short.npz": dict(x=x, y=np.zeros(3, int)),
             "floaty.npz": dict(x=x, y=np.full(40, 0.5)), "shape.npz": dict(
                 x=x[:, :4], y=np.zeros(40, int))}
    for name, arrays in files.items():
        np.savez(tmp_path / name, **arrays)
    cases = [("nolabels.npz", "must hold arrays x and y"), ("short.npz", "40 inputs but 3"),
             ("floaty.npz", "integer class labels"), ("shape.npz", "must be shaped"),
             ("cifar", "unknown dataset 'cifar'")]
    for data, reason in cases:
        path = tmp_path / data if data.endswith(".npz") else data
        code, _, err = run(capsys, "evaluate", snn_file, "--data", path)
        assert code == 1 and reason in err and err.count("\n") == 1, (data, err)
    code, _, err = run(capsys, "evaluate", ann_files / "ann.keras", "--data",
                       ann_files / "xy.npz")
    assert code == 1 and "not a spiking classifier" in err and "(None, 3)" in err
    code, _, err = run(capsys, "evaluate", snn_file, "--data", ann_files / "x.npy")
    assert code == 1 and "labelled data must be a .npz" in err
    code, _, err = run(capsys, "evaluate", snn_file, "--data", ann_files / "xy.npz",
                       "--plot", tmp_path / "acc.jpg")
    assert code == 1 and "must end with .png" in err
    with pytest.raises(SystemExit) as info:
        cli.main(["evaluate", str(snn_file), "--data", "x.npz", "--timesteps", "8,a"])
    assert info.value.code == 2


def test_export_for_tool_writes_what_export_nir_writes(model_file, tmp_path, capsys):
    import nir

    from keras_spiking.converters import export_nir

    model = keras.models.load_model(model_file)
    for tool in ("nir", "snntorch", "norse"):
        out = tmp_path / f"{tool}.nir"
        code, _, err = run(capsys, "export", model_file, "-o", out, "--for-tool", tool)
        assert code == 0, err
        got, want = nir.read(out), export_nir(model, for_tool=tool)
        assert sorted(got.nodes) == sorted(want.nodes) and got.edges == want.edges
        for name, node in want.nodes.items():
            for key, value in vars(node).items():
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(getattr(got.nodes[name], key), value)
    code, _, err = run(capsys, "export", model_file, "-o", tmp_path / "x.nir",
                       "--for-tool", "snntorch", "--approximate", "bogus")
    assert code == 1 and err.count("\n") == 1 and not (tmp_path / "x.nir").exists()


def test_exit_codes_of_the_installed_command(ann_files, snn_file, tmp_path):
    """The real process: 0 on success, 1 and one line on stderr on an error."""
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend())
    command = [sys.executable, "-m", "keras_spiking.cli", "evaluate", str(snn_file),
               "--data", str(ann_files / "xy.npz"), "--timesteps", "2,16"]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "last step" in done.stdout
    done = subprocess.run(command[:5] + ["--data", str(tmp_path / "gone.npz")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"keras-spiking: error: no such file: {tmp_path / 'gone.npz'}")
