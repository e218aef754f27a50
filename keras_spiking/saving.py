"""``load_model``: ``keras.models.load_model`` with errors that name the file.

Keras says "File not found" for a file that exists but is not a ``.keras``
archive; this checks the file first and says what is wrong with it.
"""

import os
import zipfile

import keras


def load_model(path, **kwargs):
    """Load a ``.keras`` model (the package's layers are registered), checking
    the file first: raises FileNotFoundError if ``path`` does not exist and
    ``ValueError("load_model: <path> is not a .keras file (<why>)")`` for a
    folder, an empty file, a file that is not a zip archive, or an archive
    without the model's ``config.json``. ``kwargs`` go to Keras."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: {path} does not exist.")

    def bad(why):
        return ValueError(f"load_model: {path} is not a .keras file ({why}); save one "
                          "with model.save('model.keras').")

    if os.path.isdir(path):
        raise bad("it is a folder")
    if path.endswith(".keras"):
        if os.path.getsize(path) == 0:
            raise bad("the file is empty")
        if not zipfile.is_zipfile(path):
            raise bad("it is not a zip archive, which .keras files are; it may be "
                      "truncated or another format")
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
                damaged = archive.testzip()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise bad(f"the archive is damaged: {e}") from e
        if "config.json" not in names:
            raise bad("the archive has no config.json")
        if damaged is not None:
            raise bad(f"the archive member {damaged} is damaged")
    return keras.models.load_model(path, **kwargs)
