"""Reading and writing ``.nir`` files (NIR's HDF5 format), with errors that name the path.

``write`` is atomic: the graph goes into a new file in the same folder, which
then replaces ``path`` in one step (``os.replace``), so ``path`` is always
either the old file, untouched, or the complete new one; a failed write
leaves nothing behind. ``read`` says which file is not a NIR file and why
(missing, a folder, empty, not HDF5, truncated or damaged, no NIR graph in
it) instead of h5py's bare "file signature not found".
"""

import os
import stat
import uuid

from .library import load_nir

nir = load_nir()


def write(graph, path):
    """Write the NIR ``graph`` to ``path`` atomically (see the module docstring).

    A new file gets the permissions the umask gives; a replaced one keeps its own.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"export_nir: {path} is a folder; pass a file path, e.g. "
                                f"{os.path.join(path, 'model.nir')}.")
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"export_nir: cannot write {path}: the folder {folder} "
                                "does not exist.")
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # mode from the umask
    try:
        if os.path.exists(path):
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        nir.write(tmp, graph)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def read(path):
    """The ``nir.NIRGraph`` in the file ``path``.

    Raises FileNotFoundError if there is no such file, and
    ``ValueError("import_nir: <path> is not a NIR file (<why>)")`` for a
    folder, an empty file, a file that is not HDF5, a truncated or damaged
    one, or an HDF5 file without a NIR graph.
    """
    import h5py  # a dependency of nir, which reads the file with it

    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"import_nir: {path} does not exist.")
    if os.path.isdir(path):
        raise _not_nir(path, "it is a folder")
    if os.path.getsize(path) == 0:
        raise _not_nir(path, "the file is empty")
    if not h5py.is_hdf5(path):
        raise _not_nir(path, "it is not an HDF5 file, which NIR files are")
    try:
        return nir.read(path)
    except OSError as e:
        raise _not_nir(path, f"it is truncated or damaged; h5py says: {e}") from e
    except KeyError as e:
        raise _not_nir(path, f"an HDF5 file without a NIR graph in it; h5py says: {e}") from e


def _not_nir(path, why):
    """The ValueError for a ``path`` that holds no readable NIR graph."""
    return ValueError(f"import_nir: {path} is not a NIR file ({why}).")
