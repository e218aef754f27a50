"""The XLA flag keras_spiking sets for JAX on CPU, before JAX starts its backend.

jaxlib 0.10's XLA CPU compiler hands convolutions to YNNPACK ("individual
convolution" library fusions). On the tutorial CSNN's training step (JAX,
2 cores, 2026-12-06, ``benchmarks/jax_training_step.py``) that took 0.69 s
against 0.30 s with XLA's own convolution, and 0.24 GiB more peak memory;
inference was about the same (59 vs 56 ms per batch of 128). So
``import keras_spiking`` on the JAX backend appends

    --xla_cpu_experimental_ynn_fusion_type=-individual_convolution

to ``XLA_FLAGS`` (YNNPACK keeps its other fusions: dots, reductions,
elementwise), when all of these hold:

- JAX has not started a backend yet (XLA reads its flags once, at that point);
- ``XLA_FLAGS`` does not set ``xla_cpu_experimental_ynn_fusion_type`` itself;
- the installed jaxlib is one this was measured on (``JAXLIB_VERSIONS``): XLA
  aborts the process on a flag it does not know;
- ``KERAS_SPIKING_XLA_FLAGS`` is not ``0``.

Child processes inherit the variable. TensorFlow 2.21's XLA knows the flag too; an older
XLA aborts on it when it compiles ("Unknown flags in XLA_FLAGS": TensorFlow 2.15 under
``jit_compile``, seen here), so start such a child without it (the benchmarks'
``common.child_env`` drops it for the peers' venvs).
"""

import importlib.metadata
import os
import sys

from keras_spiking import config

FLAG = "--xla_cpu_experimental_ynn_fusion_type=-individual_convolution"

#: True once ``apply`` has added ``FLAG`` in this process
added = False

#: jaxlib releases (prefixes) whose XLA knows ``FLAG`` and where it was measured
JAXLIB_VERSIONS = ("0.10.",)


def _jaxlib_version():
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return None


def _backend_started():
    jax = sys.modules.get("jax")
    if jax is None:
        return False
    try:
        from jax._src import xla_bridge
    except ImportError:  # pragma: no cover - a JAX without it: assume started
        return True
    return xla_bridge.backends_are_initialized()


def apply(backend):
    """Append ``FLAG`` to ``XLA_FLAGS`` if ``backend`` is "jax" and the module
    docstring's conditions hold; returns True if it did."""
    current = os.environ.get("XLA_FLAGS", "")
    if (backend != "jax" or not config.env_switch("KERAS_SPIKING_XLA_FLAGS")
            or "xla_cpu_experimental_ynn_fusion_type" in current):
        return False
    version = _jaxlib_version()  # package metadata: only looked up on JAX
    if version is None or not version.startswith(JAXLIB_VERSIONS) or _backend_started():
        return False
    global added
    os.environ["XLA_FLAGS"] = f"{current} {FLAG}".strip()
    added = True
    return True
