"""examples/distributed_training.py: two workers (or devices, or processes)
compute the same weights as one device with the same global batch.

Every run is a fresh process tree (the strategy or the device count must be set
before TensorFlow or JAX starts). Each process trains the distributed models;
process 0 then trains the same models on one device (``--reference``); the
test compares every process's weights and losses with that reference. The default run has one TensorFlow multi-worker case and one
JAX multi-device case; the others are marked ``slow`` (``pytest -m slow``).
"""

import importlib.util
import json
import os

import numpy as np
import pytest

TF, JAX = "tensorflow", "jax"


def needs(backend):
    return pytest.mark.skipif(importlib.util.find_spec(backend) is None,
                              reason=f"{backend} is not installed")


def run(load_example, tmp_path, backend, processes, models, extra=(), xla_devices=None):
    """Run the example; ``(logs, arrays)`` per process."""
    example = load_example("distributed_training")
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    if xla_devices:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={xla_devices}"
    argv = ["--models", models, "--reference", "--out", str(tmp_path), *extra]
    results = example.launch(argv, processes, env=env)
    logs = []
    for code, out, err in results:
        lines = [line for line in out.splitlines() if line.startswith("{")]
        assert code == 0 and lines, err[-3000:]
        logs.append(json.loads(lines[-1]))
    arrays = [dict(np.load(tmp_path / f"process{log['process']}.npz")) for log in logs]
    return logs, arrays


def check_same_as_one_device(logs, arrays, engine, models):
    for log in logs:
        assert (log["engine"], log["replicas"]) == (engine, 2)
    reference = {k[len("reference/"):]: v for k, v in arrays[0].items()
                 if k.startswith("reference/")}
    assert {k.split("/")[0] for k in reference} == set(models.split(","))
    for name, want in reference.items():
        for got in arrays:
            # float tolerance: the gradient is summed in another order
            np.testing.assert_allclose(got[name], want, rtol=1e-4, atol=1e-6, err_msg=name)
        if name.endswith("/1"):  # the first bias starts at zero: training moved it
            assert np.abs(want).max() > 1e-4, f"{name}: training did not move the weights"
    for log in logs:
        for model in models.split(","):
            if model != "converted":
                np.testing.assert_allclose(log[model]["loss"],
                                           logs[0]["reference/" + model]["loss"], rtol=1e-5)
    if "converted" in models:  # the spiking model predicted something
        assert np.abs(reference["converted/predictions"]).max() > 0
        assert "SpikingLIF" in logs[0]["converted"]["layers"]


@needs(TF)
def test_tf_two_workers_train_the_csnn_as_one(load_example, tmp_path):
    logs, arrays = run(load_example, tmp_path, TF, 2, "csnn")
    check_same_as_one_device(logs, arrays, "tf multi-worker", "csnn")


@needs(JAX)
def test_jax_two_devices_train_the_csnn_as_one(load_example, tmp_path):
    logs, arrays = run(load_example, tmp_path, JAX, 1, "csnn", ["--engine", "devices"],
                       xla_devices=2)
    check_same_as_one_device(logs, arrays, "jax devices", "csnn")


@pytest.mark.slow
@needs(TF)
def test_tf_two_workers_train_softlif_and_evaluate_the_snn_as_one(load_example, tmp_path):
    logs, arrays = run(load_example, tmp_path, TF, 2, "softlif,converted")
    check_same_as_one_device(logs, arrays, "tf multi-worker", "softlif,converted")


@pytest.mark.slow
@needs(JAX)
def test_jax_two_devices_train_softlif_and_evaluate_the_snn_as_one(load_example, tmp_path):
    logs, arrays = run(load_example, tmp_path, JAX, 1, "softlif,converted",
                       ["--engine", "devices"], xla_devices=2)
    check_same_as_one_device(logs, arrays, "jax devices", "softlif,converted")


@pytest.mark.slow
@needs(JAX)
def test_jax_two_processes_train_as_one(load_example, tmp_path):
    logs, arrays = run(load_example, tmp_path, JAX, 2, "csnn,softlif")
    check_same_as_one_device(logs, arrays, "jax processes", "csnn,softlif")


@pytest.mark.parametrize("argv, message", [
    (["--models", "converted"], "converts the trained 'softlif' model"),
    (["--models", "csnn,snn"], "unknown ['snn']"),
])
def test_the_example_refuses_models_it_cannot_run(load_example, capsys, argv, message):
    with pytest.raises(SystemExit):
        load_example("distributed_training").parse(argv)
    assert message in capsys.readouterr().err


def test_the_example_says_why_jax_processes_cannot_predict(load_example, capsys):
    import keras

    example = load_example("distributed_training")
    with pytest.raises(SystemExit):
        example.parse(["--coordinator", "localhost:1", "--models", "softlif,converted"])
    err = capsys.readouterr().err
    if keras.backend.backend() == "jax":
        assert "span several JAX processes" in err
    else:
        assert "set KERAS_BACKEND=jax" in err
