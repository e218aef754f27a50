"""benchmarks/common.py's logic on tiny callables: timing, interleaving, ratios,
load report, peer lookup, peak memory, and our side's model helpers. No peers."""

import importlib.util
import os
import pathlib
import sys
import time

import keras
import numpy as np
import pytest

PATH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "common.py"
_spec = importlib.util.spec_from_file_location("benchmarks_common", PATH)
common = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(common)


def busy(seconds):
    """Spin the CPU for about ``seconds``."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_clock_measures_wall_and_cpu():
    with common.Clock() as clock:
        busy(0.02)
    assert clock.wall >= 0.02 and clock.cpu > 0
    assert clock.timing == common.Timing(clock.wall, clock.cpu, 1)


def test_best_of_returns_positive_times_after_warm_up():
    calls = []
    t = common.best_of(lambda: (calls.append(1), busy(0.002)), repeats=4, warmup=2, work=10)
    assert len(calls) == 6
    assert t.wall > 0 and t.cpu > 0 and t.work == 10
    assert t.rate == pytest.approx(10 / t.wall) and t.cpu_rate == pytest.approx(10 / t.cpu)


def test_interleave_runs_round_by_round_and_keeps_the_best():
    order = []
    waits = {"ours": iter([0.03, 0.005, 0.03]), "peer": iter([0.004, 0.03, 0.03])}

    def contender(name):
        def run():
            order.append(name)
            busy(next(waits.get(name, iter(())), 0))
        return run

    samples = common.interleave_samples({"ours": contender("ours"), "peer": contender("peer")},
                                        rounds=3, warmup=0, work={"ours": 2, "peer": 3})
    assert order == ["ours", "peer"] * 3
    assert [len(s) for s in samples.values()] == [3, 3]
    assert {t.work for t in samples["ours"]} == {2} and {t.work for t in samples["peer"]} == {3}
    walls = [t.wall for t in samples["ours"]]
    assert min(walls) < 0.03 <= max(walls)
    assert common.best(samples["ours"]).wall == min(walls)
    best = common.interleave({"a": contender("a"), "b": contender("b")}, rounds=2, warmup=1)
    assert order[6:] == ["a", "b", "a", "b", "a", "b"]  # one warm-up each, then a, b, a, b
    assert set(best) == {"a", "b"} and all(t.wall > 0 for t in best.values())


def test_best_takes_least_wall_and_least_cpu_separately():
    t = common.best([common.Timing(2.0, 1.0, 5), common.Timing(1.0, 3.0, 5)])
    assert t == common.Timing(1.0, 1.0, 5)


def test_interleave_runs_calls_self_measuring_runs_in_rounds():
    order = []
    results = common.interleave_runs(
        {"x": lambda: order.append("x") or len(order), "y": lambda: order.append("y") or 0},
        rounds=2)
    assert order == ["x", "y", "x", "y"]
    assert results == {"x": [1, 3], "y": [0, 0]}


def test_batched_runs_every_batch_and_warms_up_on_the_first():
    seen = []
    run = common.Batched(lambda b: seen.append(len(b)) or b * 2, np.arange(10), 4,
                         prepare=lambda b: b + 1)
    assert run.work == 10
    run.warm_up()
    assert seen == [4]
    run()
    assert seen == [4, 4, 4, 2]
    assert common.Batched(len, np.arange(10), 4, drop_remainder=True).work == 8
    with pytest.raises(ValueError, match="no batch of 4"):
        common.Batched(len, np.arange(3), 4, drop_remainder=True)


def test_speedup_and_ratio_table():
    ours, peer = common.Timing(1.0, 2.0, 100), common.Timing(4.0, 4.0, 200)
    wall, cpu = common.speedup(ours, peer)
    assert wall == pytest.approx(100 / 1.0 / (200 / 4.0))  # 2x per wall-clock second
    assert cpu == pytest.approx(100 / 2.0 / (200 / 4.0))  # 1x per CPU-second
    table = common.ratio_table({"ours": ours, "peer": peer}, "ours", unit="images",
                               title="T = 10")
    lines = table.splitlines()
    assert lines[0] == "T = 10" and "images/s" in lines[1] and "images/CPU-s" in lines[1]
    assert lines[3].split()[-2:] == ["2.00x", "1.00x"]
    assert "x" not in lines[2].split()[-1]  # no ratio for ours itself


def test_load_report_warns_above_the_threshold(monkeypatch, capsys):
    monkeypatch.setattr(common, "load_average", lambda: (0.5, 0.4, 0.3))
    monkeypatch.setattr(common, "cpu_times", lambda: None)  # steal: its own test
    with common.watch_load():
        print("work")
    out = capsys.readouterr().out.splitlines()
    assert out == ["load average (1/5/15 min) at start: 0.50/0.40/0.30", "work",
                   "load average (1/5/15 min) at end: 0.50/0.40/0.30"]
    monkeypatch.setattr(common, "load_average", lambda: (2.5, 1.0, 1.0))
    assert common.print_load("now") == (2.5, 1.0, 1.0)
    out = capsys.readouterr().out
    assert "WARNING: 1-minute load 2.50 > 1.5" in out and "rerun on a quiet machine" in out
    assert len(common.load_average()) == 3


def test_load_report_gives_the_steal_since_the_first_reading(monkeypatch, capsys):
    monkeypatch.setattr(common, "load_average", lambda: (0.5, 0.4, 0.3))
    monkeypatch.setattr(common, "_first_times", [])
    readings = iter([(100, 10_000), (120, 11_000), (400, 12_000)])
    monkeypatch.setattr(common, "cpu_times", lambda: next(readings))
    common.print_load("at start")
    assert "steal" not in capsys.readouterr().out  # nothing to compare with yet
    common.print_load("later")
    out = capsys.readouterr().out
    assert "since the first reading: 2.0%" in out and "WARNING" not in out  # 20 of 1000
    common.print_load("at end")
    out = capsys.readouterr().out
    assert "since the first reading: 15.0%" in out  # 300 of 2000
    assert "WARNING: steal 15.0% > 5%" in out


def test_cpu_times_reads_proc_stat():
    times = common.cpu_times()
    if times is None:
        pytest.skip("no /proc/stat here")
    steal, total = times
    assert 0 <= steal <= total and total > 0


def test_peer_python_from_argument_or_environment(monkeypatch, tmp_path):
    python = tmp_path / "python"
    python.write_text("")
    monkeypatch.delenv("KS_TORCH_PYTHON", raising=False)
    assert common.peer_python("torch", str(python)) == str(python)
    monkeypatch.setenv("KS_TORCH_PYTHON", str(python))
    assert common.peer_python("torch") == str(python)
    assert common.peer_python("torch", sys.executable) == sys.executable  # flag wins


@pytest.mark.parametrize("peer", sorted(common.PEERS))
def test_peer_python_explains_how_to_make_the_venv(monkeypatch, peer):
    p = common.PEERS[peer]
    monkeypatch.delenv(p.variable, raising=False)
    with pytest.raises(common.PeerNotFoundError) as info:
        common.peer_python(peer)
    message = str(info.value)
    assert p.flag in message and p.variable in message and p.recipe in message
    assert "/work/" not in message and "pip install" in message
    monkeypatch.setenv(p.variable, "/nonexistent/bin/python")
    with pytest.raises(common.PeerNotFoundError, match="does not exist"):
        common.peer_python(peer)


def test_add_peer_argument_defaults_to_none():
    import argparse

    parser = argparse.ArgumentParser()
    common.add_peer_argument(parser, "nengodl")
    assert parser.parse_args([]).nengodl_python is None
    assert parser.parse_args(["--nengodl-python", "x"]).nengodl_python == "x"


def test_peak_rss_of_this_process_and_of_a_child():
    assert common.peak_rss() > 1 << 20
    child = common.run_child(
        [sys.executable, "-c", "import time; x = b'1' * (50 << 20); time.sleep(0.5)"],
        poll=0.02)
    assert child.returncode == 0 and child.stdout == ""
    assert child.peak_rss >= 50 << 20
    with pytest.raises(ProcessLookupError):
        common.peak_rss(2**22 + 12345)  # above the default pid_max: no such process


def test_child_env_drops_pythonpath(monkeypatch):
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = common.child_env(OMP_WAIT_POLICY="PASSIVE")
    assert "PYTHONPATH" not in env and env["PYTHONNOUSERSITE"] == "1"
    assert env["OMP_WAIT_POLICY"] == "PASSIVE"
    assert common.child_env(pythonpath=common.ROOT)["PYTHONPATH"] == common.ROOT
    assert os.environ["PYTHONPATH"] == "/somewhere"  # ours untouched


def test_child_env_keeps_other_xla_flags_but_not_ours(monkeypatch):
    from keras_spiking import xla_flags

    monkeypatch.setenv("XLA_FLAGS", f"--xla_force_host_platform_device_count=2 {xla_flags.FLAG}")
    assert common.child_env()["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    monkeypatch.setenv("XLA_FLAGS", xla_flags.FLAG)
    assert "XLA_FLAGS" not in common.child_env()
    assert common.child_env(XLA_FLAGS="--x=1")["XLA_FLAGS"] == "--x=1"


def test_materialize_turns_nested_outputs_into_numpy():
    out = common.materialize({"a": [keras.ops.ones((2,)), (np.zeros(1),)]})
    assert isinstance(out["a"][0], np.ndarray) and isinstance(out["a"][1][0], np.ndarray)


def test_subset():
    x, y = np.arange(10), np.arange(10) * 2
    assert [a.tolist() for a in common.subset((x, y), 3)] == [[0, 1, 2], [0, 2, 4]]
    assert common.subset((x, y), None)[0] is x


def test_load_example_imports_a_script_of_examples():
    module = common.load_example("spike_time_bars")
    assert callable(module.train)


def test_main_job_model_builds_and_loads(tmp_path):
    model = common.build_main_job("relu")
    assert model.output_shape == (None, 10)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded, origin = common.main_job_model(path)
    assert origin == path
    x = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def test_compiled_forward_matches_the_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    x = np.ones((4, 3), "float32")
    forward = common.compiled_forward(model)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(forward(x)),
                               keras.ops.convert_to_numpy(model(x)), rtol=1e-6)
    assert common.compiled_forward(model) is forward  # cached per model


def test_backend_choice_and_argv_cleaning():
    own = keras.backend.backend()
    assert common.current_backend() == own
    assert common.backends(None) == [own]
    assert common.backends("both") == ["tensorflow", "jax"]
    assert common.backends("jax") == ["jax"]
    assert common.without_backend(["--a", "1", "--backend", "both", "--backend=jax", "-q"]) \
        == ["--a", "1", "-q"]
    assert common.rerun_per_backend(own, []) is False  # this process's backend: run here


def test_rerun_per_backend_runs_the_script_in_a_child(tmp_path, monkeypatch, capfd):
    """The other backend runs this script again with KERAS_BACKEND set, --backend dropped."""
    script = tmp_path / "show.py"
    script.write_text("import os, sys\nprint('child', os.environ['KERAS_BACKEND'], sys.argv[1:])\n")
    other = "jax" if keras.backend.backend() == "tensorflow" else "tensorflow"
    monkeypatch.setattr(sys, "argv", [str(script), "--x", "--backend", other])
    assert common.rerun_per_backend(other) is True
    out = capfd.readouterr().out
    assert f"child {other} ['--x']" in out
