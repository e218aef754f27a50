"""Data sets: Fashion-MNIST through tensorflow-datasets, with an offline route.

``load_fashion_mnist`` looks for the data in this order, cheapest and surest
first, and hands back the same structures from every source (uint8 images of
shape (28, 28, 1), int64 labels; 60 000 train / 10 000 test):

1. ``"tfds"``: an already prepared tensorflow-datasets ``data_dir`` (no network).
2. ``"debian"``: the IDX files of the Debian package ``dataset-fashion-mnist``
   (``/usr/share/datasets/fashion-mnist``), accepted only if their decompressed
   content has the published SHA-256; a mismatch is an error.
3. ``"download"``: ``tfds.load`` with download. Without a network this retries
   for minutes before failing, so it comes last, and ``source`` can exclude it.

``batches`` feeds arrays to ``fit``/``evaluate``/``predict``: through a
``tf.data`` pipeline with tf.data's autotuning off on the TensorFlow backend (see
its docstring for why), as an ``ArrayBatches`` PyDataset on the others.
"""

import glob
import gzip
import hashlib
import os
import zlib

import keras
import numpy as np

#: Where the Debian package ``dataset-fashion-mnist`` installs the IDX files.
DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"

#: SHA-256 of the decompressed IDX files (identical to those tfds downloads).
FASHION_MNIST_SHA256 = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

_IDX_PREFIX = {"train": "train", "test": "t10k"}
SOURCES = ("auto", "tfds", "debian", "download")


class DataNotFoundError(RuntimeError):
    """No source could provide the data set; the message says how to get it."""


class DataIntegrityError(RuntimeError):
    """Local data files exist but their content is not the published one."""


def read_idx(path, expected_sha256=None):
    """Read a (possibly gzipped) IDX file into a numpy array.

    If ``expected_sha256`` is given, the decompressed bytes must match it.
    """
    opener = gzip.open if path.endswith(".gz") else open
    if not os.path.isfile(path):
        raise DataNotFoundError(f"{path}: no such IDX file.")
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:  # not gzip, truncated, damaged
        raise DataIntegrityError(f"{path}: cannot be read ({type(e).__name__}: {e}); "
                                 "the file is corrupt or truncated.") from e
    if expected_sha256 is not None:
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected_sha256:
            raise DataIntegrityError(
                f"{path}: decompressed content has SHA-256 {digest}, expected "
                f"{expected_sha256}. The file is corrupt or not Fashion-MNIST; "
                "reinstall it (apt-get install --reinstall dataset-fashion-mnist) "
                "or choose another source."
            )
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataIntegrityError(f"{path}: not an IDX file of unsigned bytes.")
    ndim = data[3]
    if len(data) < 4 + 4 * ndim:
        raise DataIntegrityError(f"{path}: truncated IDX header ({len(data)} bytes).")
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataIntegrityError(
            f"{path}: header says shape {shape} but holds {array.size} values."
        )
    return array.reshape(shape)


def _debian_split(split, directory):
    prefix = _IDX_PREFIX[split]
    arrays = []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        name = f"{prefix}-{kind}"
        path = os.path.join(directory, name + ".gz")
        if not os.path.exists(path):
            path = os.path.join(directory, name)
        arrays.append(read_idx(path, FASHION_MNIST_SHA256[name]))
    images, labels = arrays
    return images[..., None], labels.astype(np.int64)


def _debian_available(directory):
    return all(
        os.path.exists(os.path.join(directory, name + ".gz"))
        or os.path.exists(os.path.join(directory, name))
        for name in FASHION_MNIST_SHA256
    )


def _tfds_split(split, data_dir, download, as_numpy):
    import tensorflow_datasets as tfds

    ds = tfds.load(
        "fashion_mnist",
        split=split,
        as_supervised=True,
        data_dir=data_dir,
        download=download,
    )
    if not as_numpy:
        return ds
    images, labels = next(iter(tfds.as_numpy(ds.batch(1 << 30))))
    return images, labels.astype(np.int64)


def _tfds_may_be_prepared(data_dir):
    """Cheap check before importing tensorflow-datasets (~1 s, ~15 MiB): a
    local data_dir can hold a prepared fashion_mnist only if one of its
    versions has the ``dataset_info.json`` that tfds writes when preparing."""
    if data_dir is not None and "://" in str(data_dir):
        return True  # remote storage (gs://, ...): only tfds can tell
    root = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join(
        os.path.expanduser("~"), "tensorflow_datasets"
    )
    base = os.path.join(root, "fashion_mnist")
    return any(
        glob.glob(os.path.join(base, *(["*"] * depth), "dataset_info.json"))
        for depth in (1, 2)  # <version>/ or <config>/<version>/
    )


def _tfds_prepared(data_dir):
    import tensorflow_datasets as tfds

    try:
        return tfds.builder("fashion_mnist", data_dir=data_dir).is_prepared()
    except Exception:  # an unreadable data_dir counts as not prepared
        return False


def _require_tensorflow(feature, alternative):
    from keras_spiking import optional

    return optional.require("tensorflow", feature, "cpu", alternative)


def _to_dataset(images, labels):
    tf = _require_tensorflow("load_fashion_mnist(as_numpy=False), which returns "
                             "tf.data datasets,", "pass as_numpy=True for NumPy arrays")

    return tf.data.Dataset.from_tensor_slices((images, labels))


def load_fashion_mnist(
    split=("train", "test"),
    *,
    as_numpy=False,
    source="auto",
    data_dir=None,
    debian_dir=DEBIAN_DIR,
):
    """Load Fashion-MNIST as ``tf.data`` datasets of ``(image, label)`` pairs.

    Args:
        split: ``"train"``, ``"test"``, or a tuple of them; a tuple returns a
            tuple in the same order.
        as_numpy: return ``(images, labels)`` numpy arrays instead of datasets.
        source: ``"auto"`` (the order in the module docstring), or one of
            ``"tfds"``, ``"debian"``, ``"download"`` to force a source.
        data_dir: the tensorflow-datasets data directory (tfds' default if None).
        debian_dir: where to find the Debian package's IDX files.
    """
    if source not in SOURCES:
        raise ValueError(f"load_fashion_mnist: source must be one of {SOURCES}, got {source!r}.")
    splits = (split,) if isinstance(split, str) else tuple(split)
    for s in splits:
        if s not in _IDX_PREFIX:
            raise ValueError(
                f"load_fashion_mnist: split must be 'train' or 'test', got {s!r}."
            )

    if source == "auto":
        if _tfds_may_be_prepared(data_dir) and _tfds_prepared(data_dir):
            source = "tfds"
        elif _debian_available(debian_dir):
            source = "debian"
        else:
            source = "download"

    if source == "debian":
        if not _debian_available(debian_dir):
            raise DataNotFoundError(_how_to_get_data(f"no IDX files in {debian_dir}"))
        result = []
        for s in splits:
            images, labels = _debian_split(s, debian_dir)
            result.append((images, labels) if as_numpy else _to_dataset(images, labels))
    else:
        if source == "tfds" and not _tfds_prepared(data_dir):
            raise DataNotFoundError(
                _how_to_get_data(f"fashion_mnist is not prepared in data_dir={data_dir!r}")
            )
        _require_tensorflow(f"load_fashion_mnist(source={source!r}) (tensorflow-datasets)",
                            "pass source='debian' and as_numpy=True to read the Debian "
                            "package's files")
        try:
            result = [_tfds_split(s, data_dir, source == "download", as_numpy) for s in splits]
        except Exception as e:
            if source != "download":
                raise
            raise DataNotFoundError(_how_to_get_data(f"tfds download failed: {e}")) from e
    return result[0] if isinstance(split, str) else tuple(result)


def batches(x, y=None, batch_size=32, *, shuffle=False, seed=None):
    """Arrays as batches for ``model.fit``, ``evaluate`` or ``predict``: on the
    TensorFlow backend a ``tf.data.Dataset`` with tf.data's autotuning turned
    off, on the other backends an :class:`ArrayBatches` (a ``keras.utils.PyDataset``
    that needs no TensorFlow).

    ``model.fit(x, y)`` on arrays feeds them, on the TensorFlow backend, through
    Keras's own tf.data pipeline (a parallel map and a prefetch, both
    ``AUTOTUNE``). On a 2-core machine many epochs fed that way ran at half speed,
    the training step's work serialised on one core; fed by this pipeline, none
    did (the CSNN of ``examples/surrogate_csnn.py``: ``benchmarks/input_pipeline.py``).
    The other backends slice arrays without tf.data, and importing TensorFlow
    there only to feed them would cost ~0.5 GiB of memory.

    Args:
        x: an array, or a tuple/dict of arrays, with the samples on axis 0.
        y: the targets (same number of samples), or None for ``predict``.
        batch_size: samples per batch (the last batch may be smaller).
        shuffle: draw a new order of the samples for every epoch.
        seed: the shuffle's seed (None: a different order in every run).

    Shuffle here, not in ``fit``: Keras ignores ``fit(shuffle=True)`` for a
    dataset and warns about it, so pass ``shuffle=False`` to ``fit``.
    """
    data, n, batch_size, shuffle = _check_batches("batches", x, y, batch_size, shuffle, seed)
    if keras.backend.backend() != "tensorflow":
        return ArrayBatches(x, y, batch_size, shuffle=shuffle, seed=seed)
    import tensorflow as tf

    order = tf.data.Dataset.range(n)
    if shuffle:
        order = order.shuffle(n, seed=seed, reshuffle_each_iteration=True)
    tensors = tf.nest.map_structure(tf.convert_to_tensor, data)
    dataset = order.batch(batch_size).map(
        lambda i: tf.nest.map_structure(lambda a: tf.gather(a, i), tensors)
    )
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def _check_batches(name, x, y, batch_size, shuffle, seed):
    """``(data, samples, batch_size, shuffle)`` after checking the arguments of
    ``batches`` / ``ArrayBatches``."""
    from keras_spiking import validation

    batch_size = validation.check_positive_integer(name, "batch_size", batch_size)
    shuffle = validation.check_bool(name, "shuffle", shuffle)
    validation.check_seed(name, seed)
    data = x if y is None else (x, y)
    arrays = keras.tree.flatten(data)
    lengths = [np.shape(a)[0] if np.ndim(a) else None for a in arrays]
    if not arrays or None in lengths or len(set(lengths)) != 1:
        raise ValueError(
            f"{name}: x and y must be arrays with the same number of samples on axis 0, "
            f"got shapes {[np.shape(a) for a in arrays]}. Pass e.g. {name}(x_train, "
            "y_train, batch_size=128)."
        )
    return data, lengths[0], batch_size, shuffle


class ArrayBatches(keras.utils.PyDataset):
    """Arrays in batches as a ``keras.utils.PyDataset``, on any backend and without
    TensorFlow: batch ``i`` is samples ``order[i*b:(i+1)*b]``, where ``order`` is
    ``0..n-1``, or with ``shuffle`` a new permutation every epoch (drawn from a
    NumPy generator seeded once with ``seed``). The arguments are those of
    :func:`batches`; the batches are sliced in the calling thread."""

    def __init__(self, x, y=None, batch_size=32, *, shuffle=False, seed=None):
        data, n, batch_size, shuffle = _check_batches(
            "ArrayBatches", x, y, batch_size, shuffle, seed
        )
        super().__init__()
        self.data = keras.tree.map_structure(np.asarray, data)
        self.samples, self.batch_size, self.shuffle = n, batch_size, shuffle
        self._rng = np.random.default_rng(seed)
        self.order = self._rng.permutation(n) if shuffle else np.arange(n)

    def __len__(self):
        return -(-self.samples // self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(
                f"ArrayBatches: batch index {index} is out of range: there are "
                f"{len(self)} batches of {self.batch_size}."
            )
        rows = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        return keras.tree.map_structure(lambda a: a[rows], self.data)

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self._rng.permutation(self.samples)


def _how_to_get_data(reason):
    return (
        f"Fashion-MNIST is not available ({reason}). Get it in one of two ways: "
        "with a network, tensorflow-datasets downloads it on first use "
        "(load_fashion_mnist(source='download')); offline, install the Debian "
        "package: apt-get install -y dataset-fashion-mnist."
    )


# --- generated data sets for spike-time learning (no files, seeded) ---------


def bars_3x3(samples_per_class=10, noise=0.01, t_early=0.05, t_late=0.5, seed=0):
    """The 3x3 bars data set as input spike times (Göltz, Kriener et al. 2021).

    Class 0: one of 3 horizontal bars, 1: one of 3 vertical bars, 2: one of the
    2 diagonals, cycled through ``samples_per_class`` samples each. Bar pixels
    spike at ``t_early``, the others at ``t_late`` (units of tau_syn), plus
    uniform noise in ``[0, noise)``.

    Returns:
        ``(times, labels)``: float32 ``(3 * samples_per_class, 9)`` and int32.
    """
    patterns = {0: [], 1: [], 2: []}
    for i in range(3):
        bar = np.zeros((3, 3))
        bar[i] = 1
        patterns[0].append(bar)
        patterns[1].append(bar.T)
    patterns[2] = [np.eye(3), np.eye(3)[::-1]]
    rng = np.random.default_rng(seed)
    times, labels = [], []
    for label in (0, 1, 2):
        for k in range(samples_per_class):
            on = patterns[label][k % len(patterns[label])].ravel()
            times.append(np.where(on > 0, t_early, t_late) + noise * rng.random(9))
            labels.append(label)
    return np.asarray(times, "float32"), np.asarray(labels, "int32")


def yin_yang(size=1000, seed=42, r_small=0.1, r_big=0.5):
    """The Yin-Yang data set (Kriener, Göltz & Petrovici 2021), generated.

    Points ``(x, y)`` uniform in the disc of radius ``r_big`` centred at
    ``(r_big, r_big)``; classes 0 = yin, 1 = yang, 2 = dots. Each sample picks
    its class uniformly at random first and is drawn by rejection sampling, so
    the classes are balanced in expectation. Features are ``(x, y, 1 - x,
    1 - y)`` with ``x, y`` in ``[0, 1]`` (the mirrored pair lets neurons
    without a bias see every direction). The paper's splits were train 5000,
    validation 1000, test 1000; use different seeds for each. Reference
    accuracies: a 4-120-3 ANN 98.7 +- 0.3 %, a linear classifier 64.3 %.

    Returns:
        ``(features, labels)``: float32 ``(size, 4)`` and int32 ``(size,)``.
    """
    rng = np.random.default_rng(seed)
    features = np.empty((size, 4), "float64")
    labels = np.empty(size, "int32")
    for n in range(size):
        goal = rng.integers(3)
        while True:
            x, y = rng.random(2) * 2.0 * r_big
            if np.hypot(x - r_big, y - r_big) > r_big:
                continue
            if _yin_yang_class(x, y, r_small, r_big) == goal:
                break
        features[n] = (x, y, 1.0 - x, 1.0 - y)
        labels[n] = goal
    return features.astype("float32"), labels


def _yin_yang_class(x, y, r_small, r_big):
    d_right = np.hypot(x - 1.5 * r_big, y - r_big)
    d_left = np.hypot(x - 0.5 * r_big, y - r_big)
    if d_right < r_small or d_left < r_small:
        return 2
    is_yin = (
        d_right <= r_small
        or r_small < d_left <= 0.5 * r_big
        or (y > r_big and d_right > 0.5 * r_big)
    )
    return int(is_yin)
