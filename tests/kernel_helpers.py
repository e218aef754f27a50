"""Helpers for the tests of keras_spiking.kernels (TensorFlow only)."""

import pytest


def op_types(graph):
    """The op types of ``graph`` and of the functions it calls (a ``tf.cond`` branch,
    a custom gradient)."""
    types = {op.type for op in graph.get_operations()}
    for function in graph._functions.values():
        types |= {op.type for op in function.graph.get_operations()}
    return types


def library_or_skip(name):
    """The compiled op library of ``keras_spiking/kernels/<name>.cc``; skips the test
    where it cannot be built (no C++ compiler)."""
    from keras_spiking.kernels import build

    lib = build.load(name)
    if lib is None:
        pytest.skip(f"no C++ compiler here: the kernel {name!r} cannot be built")
    return lib
