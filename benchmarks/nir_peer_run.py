"""Run a NIR file in a peer tool's own importer (snnTorch or Norse); the peer half of
``benchmarks/nir_peers.py`` and ``tests/converters/test_nir_tools.py``.

Runs in the peer venv, not in this package's: it imports only numpy, torch, nir
and the tool::

    /work/venvs/torch/bin/python benchmarks/nir_peer_run.py TOOL GRAPH.nir IN.npy OUT.npy [...]

``TOOL`` is ``snntorch`` (``snntorch.import_nir.import_from_nir``, which
simulates at its fixed step) or ``norse`` (``norse.torch.from_nir`` with its
default ``dt``). ``IN.npy`` holds ``(batch, time, *input)`` in NIR's
channels-first layout; the whole batch goes through the imported module one
step at a time from a fresh state, and ``OUT.npy`` gets ``(batch, time,
*output)``. Several ``GRAPH IN OUT`` triples may follow one ``TOOL`` (torch is
imported once). Prints nothing on success; a failure to import or run exits 1 with
the peer's error on stderr (what the tool cannot read).
"""

import contextlib
import io
import sys

import numpy as np


def _module(tool, graph):
    """The peer's torch module of ``graph`` (its own prints are silenced)."""
    with contextlib.redirect_stdout(io.StringIO()):
        if tool == "snntorch":
            from snntorch.import_nir import import_from_nir

            return import_from_nir(graph)
        if tool == "norse":
            import warnings

            import norse.torch

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return norse.torch.from_nir(graph)
    raise SystemExit(f"nir_peer_run: unknown tool {tool!r} (snntorch, norse)")


def run(tool, path, inputs):
    """``(batch, time, *output)`` of the NIR file ``path`` on ``inputs`` in ``tool``."""
    import nir
    import torch

    module = _module(tool, nir.read(path))
    x = torch.as_tensor(np.asarray(inputs, "float32"))
    state, outputs = None, []
    with torch.no_grad():
        for t in range(x.shape[1]):
            if tool == "norse":
                out, state = module(x[:, t], state)
            else:
                out = module(x[:, t])  # snnTorch's neurons hold their own state
                if isinstance(out, tuple):
                    out, state = out
            outputs.append(np.asarray(out, "float32"))
    return np.stack(outputs, axis=1)


def main(argv):
    if len(argv) < 4 or (len(argv) - 1) % 3:
        raise SystemExit(__doc__)
    tool, rest = argv[0], argv[1:]
    for path, inputs, output in zip(rest[::3], rest[1::3], rest[2::3]):
        np.save(output, run(tool, path, np.load(inputs)))


if __name__ == "__main__":
    main(sys.argv[1:])
