"""Compile and load the fused kernels (C++ sources in this folder).

``load(name)`` returns the TensorFlow op library of ``<name>.cc``, compiled on
first use against the installed TensorFlow's headers (``tf.sysconfig``);
``load_xla(name)`` the XLA FFI library of ``<name>_xla.cc`` for JAX, compiled
against jaxlib's FFI headers (``jax.ffi.include_dir()``, header-only) and its
handlers registered with ``jax.ffi``. Both use the C++ compiler in ``$CXX``
(default ``g++``), a few seconds, and keep the library in ``$KERAS_SPIKING_CACHE``
(default ``~/.cache/keras_spiking``) under the framework's version and a hash of
the sources (the folder's headers included), the flags and the CPU, so every
later process loads it in milliseconds. The library is written to a temporary
file and renamed into place, so processes compiling at the same time never load
a partial file. After a compile only the ``KEEP`` most recent libraries of that
kernel stay in the cache (each change of the source, the framework or the CPU
adds one).

Without a compiler, or if compiling or loading fails, ``load`` and ``load_xla``
return None after one warning that says why, and the layers use their
``keras.ops`` loop or Keras's own layer (the same numbers, slower).
``KERAS_SPIKING_FUSED=0`` in the environment turns the kernels off before
anything is compiled.
"""

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

from keras_spiking import config

HERE = Path(__file__).resolve().parent

#: compiler flags besides TensorFlow's own: this CPU's vector instructions (the
#: library is built where it runs; the cache key names the CPU), and no fused
#: multiply-adds, so that the kernels round exactly as the keras.ops loops do
FLAGS = ("-shared", "-fPIC", "-O3", "-march=native", "-ffp-contract=off",
         "-fno-trapping-math", "-w")

#: compiled libraries of one kernel kept in the cache (the newest)
KEEP = 4


def cache_dir():
    """Where compiled kernels are kept."""
    root = os.environ.get("KERAS_SPIKING_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "keras_spiking"


def enabled():
    """False if ``KERAS_SPIKING_FUSED`` is set to 0 / false / no / off."""
    return config.env_switch("KERAS_SPIKING_FUSED")


def _cpu():
    """What ``-march=native`` depends on: the machine and its CPU's feature flags."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def _sources(source):
    """The bytes a library of ``source`` is built from: it and the folder's headers."""
    return b"\0".join(path.read_bytes() for path in [HERE / source, *sorted(HERE.glob("*.h"))])


def _library_path(source, framework):
    """Where the library of ``source`` built for ``framework`` (e.g. "tf2.21.0") is cached."""
    key = hashlib.sha256(b"\0".join([_sources(source), framework.encode(),
                                      " ".join(FLAGS).encode(), _cpu().encode()]))
    return cache_dir() / f"{Path(source).stem}-{framework}-{key.hexdigest()[:12]}.so"


def _compile(source, target, flags):
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler {compiler!r} on PATH (set $CXX)")
    target.parent.mkdir(parents=True, exist_ok=True)
    stem = Path(source).stem
    fd, partial = tempfile.mkstemp(prefix=f".{stem}-", suffix=".so", dir=target.parent)
    os.close(fd)
    command = [compiler, *FLAGS, str(HERE / source), "-o", partial, *flags]
    try:
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            raise RuntimeError(f"{compiler} failed: {' '.join(errors[:3])[:600]}")
        os.replace(partial, target)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    prune(stem, keep=KEEP)


def prune(name, keep=KEEP):
    """Remove all but the ``keep`` newest compiled libraries of kernel ``name`` from
    the cache (a process that loaded a removed one keeps its mapped copy)."""
    libraries = sorted(cache_dir().glob(f"{name}-*.so"), key=_modified, reverse=True)
    for old in libraries[keep:]:
        try:
            old.unlink()
        except OSError:  # removed by another process meanwhile, or not ours to remove
            pass


def _modified(path):
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _loaded(name, source, framework, flags, load_library):
    """``load_library(path)`` of ``source``'s library for ``framework``, compiled
    with ``flags`` first if it is not cached; None (with one warning) on any failure."""
    try:
        target = _library_path(source, framework)
        if not target.exists():
            _compile(source, target, flags)
        return load_library(str(target))
    except Exception as error:  # any failure means: compute with keras.ops / Keras's layer
        warnings.warn(
            f"keras_spiking.kernels: the fused kernel {name!r} is not available "
            f"({error}); the layers run their keras.ops loop or Keras's own layer instead "
            "(same results, slower). Install a C++ compiler (apt-get install g++) to "
            "enable it, or set KERAS_SPIKING_FUSED=0 to silence this.",
            RuntimeWarning,
            stacklevel=4,
        )
        return None


@functools.lru_cache(maxsize=None)
def load(name):
    """The loaded TensorFlow op library of ``<name>.cc``, or None (with one
    warning) if it cannot be built or loaded here."""
    if not enabled():
        return None
    import tensorflow as tf

    flags = [*tf.sysconfig.get_compile_flags(), *tf.sysconfig.get_link_flags()]
    return _loaded(name, f"{name}.cc", f"tf{tf.__version__}", flags, tf.load_op_library)


@functools.lru_cache(maxsize=None)
def load_xla(name, handlers):
    """The XLA FFI library of ``<name>_xla.cc`` (a ``ctypes.CDLL``) with each of
    ``handlers`` (the names of its exported handler symbols) registered as a
    ``jax.ffi`` target of that name on CPU, or None (with one warning) if it cannot
    be built or loaded here."""
    if not enabled():
        return None
    import ctypes

    import jax
    import jaxlib

    def registered(path):
        library = ctypes.CDLL(path)
        for handler in handlers:
            jax.ffi.register_ffi_target(handler, jax.ffi.pycapsule(getattr(library, handler)),
                                        platform="cpu")
        return library

    flags = ["-std=c++17", "-pthread", f"-I{jax.ffi.include_dir()}"]
    return _loaded(name, f"{name}_xla.cc", f"jaxlib{jaxlib.__version__}", flags, registered)


@functools.lru_cache(maxsize=None)
def _no_gpu():
    """No GPU visible: the ops only have CPU kernels."""
    import tensorflow as tf

    return not tf.config.list_logical_devices("GPU")


def _in_xla():
    """The graph being built is compiled by XLA (which cannot run these ops)."""
    import tensorflow as tf

    try:
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow without the helper
        return True
    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def runs_here(name):
    """True if the op library of ``<name>.cc`` can run in the graph being built here:
    no GPU visible, not under XLA, and the library compiled and loaded."""
    return _no_gpu() and not _in_xla() and load(name) is not None


def runs_here_xla(name, handlers):
    """True if the FFI library of ``<name>_xla.cc`` can run here: JAX computes on
    the CPU, and the library compiled, loaded and registered its ``handlers``."""
    import jax

    return jax.default_backend() == "cpu" and load_xla(name, tuple(handlers)) is not None
