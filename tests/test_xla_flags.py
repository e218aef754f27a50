"""keras_spiking.xla_flags: the XLA flag added for JAX, only when it is safe."""

import importlib.util
import os
import subprocess
import sys

import pytest

from keras_spiking import xla_flags


@pytest.fixture
def clean(monkeypatch):
    """A process where the flag could be added: jaxlib 0.10, no backend started."""
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv("KERAS_SPIKING_XLA_FLAGS", raising=False)
    monkeypatch.setattr(xla_flags, "_jaxlib_version", lambda: "0.10.2")
    monkeypatch.setattr(xla_flags, "_backend_started", lambda: False)
    monkeypatch.setattr(xla_flags, "added", False)
    return monkeypatch


def test_added_on_jax_after_the_users_flags(clean):
    clean.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=2")
    assert xla_flags.apply("jax") and xla_flags.added
    assert os.environ["XLA_FLAGS"] == f"--xla_force_host_platform_device_count=2 {xla_flags.FLAG}"


@pytest.mark.parametrize("why, change", [
    ("the TensorFlow backend", lambda mp: None),
    ("the user set the flag", lambda mp: mp.setenv(
        "XLA_FLAGS", "--xla_cpu_experimental_ynn_fusion_type=dot")),
    ("turned off", lambda mp: mp.setenv("KERAS_SPIKING_XLA_FLAGS", "0")),
    ("an unmeasured jaxlib", lambda mp: mp.setattr(xla_flags, "_jaxlib_version", lambda: "0.11.0")),
    ("no jaxlib", lambda mp: mp.setattr(xla_flags, "_jaxlib_version", lambda: None)),
    ("JAX's backend already started", lambda mp: mp.setattr(
        xla_flags, "_backend_started", lambda: True)),
])
def test_left_alone(clean, why, change):
    change(clean)
    before = os.environ.get("XLA_FLAGS")
    backend = "tensorflow" if why == "the TensorFlow backend" else "jax"
    assert not xla_flags.apply(backend), why
    assert os.environ.get("XLA_FLAGS") == before and not xla_flags.added


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="needs jax")
def test_jax_accepts_it_and_convolves_right():
    """A fresh JAX process: importing keras_spiking adds the flag (on jaxlib 0.10),
    XLA parses it, and a convolution still equals a numpy one."""
    script = (
        "import os, numpy as np, keras, keras_spiking\n"
        "x = np.random.default_rng(0).random((2, 6, 6, 3)).astype('float32')\n"
        "w = np.random.default_rng(1).random((3, 3, 3, 4)).astype('float32')\n"
        "y = np.asarray(keras.ops.conv(x, w))\n"
        "ref = np.zeros((2, 4, 4, 4), 'float32')\n"
        "for i in range(4):\n"
        "    for j in range(4):\n"
        "        ref[:, i, j] = np.einsum('nabc,abco->no', x[:, i:i+3, j:j+3], w)\n"
        "print(keras_spiking.xla_flags.added, os.environ.get('XLA_FLAGS'),\n"
        "      float(np.abs(y - ref).max()))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "KERAS_SPIKING_XLA_FLAGS")}
    env["KERAS_BACKEND"] = "jax"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    added, *flags, error = done.stdout.split()
    if xla_flags._jaxlib_version().startswith(xla_flags.JAXLIB_VERSIONS):
        assert added == "True" and flags == [xla_flags.FLAG]
    assert float(error) < 1e-5
