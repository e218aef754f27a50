"""Fashion-MNIST loading: IDX parsing, content checks, source order, mock tfds."""

import gzip
import hashlib

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_spiking import datasets


def write_idx(path, array, compress=True):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_debian(tmp_path, monkeypatch):
    """Small IDX files in Debian's layout, with their hashes registered."""
    rng = np.random.default_rng(0)
    sizes = {"train": 12, "t10k": 5}
    hashes = {}
    arrays = {}
    for prefix, n in sizes.items():
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=(n,), dtype=np.uint8)
        for kind, arr in (("images-idx3-ubyte", images), ("labels-idx1-ubyte", labels)):
            name = f"{prefix}-{kind}"
            hashes[name] = write_idx(tmp_path / (name + ".gz"), arr)
        arrays[prefix] = (images, labels)
    monkeypatch.setattr(datasets, "FASHION_MNIST_SHA256", hashes)
    return tmp_path, arrays


def test_read_idx_round_trip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    digest = write_idx(tmp_path / "a.idx", arr, compress=False)
    np.testing.assert_array_equal(datasets.read_idx(str(tmp_path / "a.idx"), digest), arr)


def test_read_idx_rejects_wrong_content(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((2, 2), np.uint8))
    with pytest.raises(datasets.DataIntegrityError, match="expected 00"):
        datasets.read_idx(str(tmp_path / "a.gz"), "00" * 32)


def test_debian_source_numpy_and_dataset(fake_debian, tmp_path):
    directory, arrays = fake_debian
    (x_tr, y_tr), (x_te, y_te) = datasets.load_fashion_mnist(
        as_numpy=True, source="debian", debian_dir=str(directory)
    )
    assert x_tr.shape == (12, 28, 28, 1) and x_tr.dtype == np.uint8
    assert y_tr.dtype == np.int64 and x_te.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(x_tr[..., 0], arrays["train"][0])
    np.testing.assert_array_equal(y_te, arrays["t10k"][1])

    try:
        import tensorflow  # noqa: F401
    except ImportError:  # a JAX install without TensorFlow: datasets need it, and say so
        with pytest.raises(ImportError, match=r"as_numpy=False.*needs the tensorflow package"
                                              r".*pass as_numpy=True"):
            datasets.load_fashion_mnist("test", source="debian", debian_dir=str(directory))
        return
    ds = datasets.load_fashion_mnist("test", source="debian", debian_dir=str(directory))
    images, labels = next(iter(ds.batch(100)))
    np.testing.assert_array_equal(images.numpy(), x_te)
    assert labels.dtype.name == "int64"


def test_auto_prefers_prepared_tfds_then_debian(fake_debian, tmp_path):
    directory, _ = fake_debian
    empty = tmp_path / "tfds"
    (x_te, _) = datasets.load_fashion_mnist(
        "test", as_numpy=True, data_dir=str(empty), debian_dir=str(directory)
    )
    assert x_te.shape == (5, 28, 28, 1)


def test_auto_asks_tfds_only_if_a_prepared_copy_can_exist(fake_debian, tmp_path, monkeypatch):
    """No dataset_info.json under data_dir: tensorflow-datasets is not even imported."""
    directory, _ = fake_debian
    asked = []
    monkeypatch.setattr(datasets, "_tfds_prepared", lambda d: asked.append(d) or False)
    tfds_dir = tmp_path / "tfds"
    (tfds_dir / "fashion_mnist" / "3.0.1").mkdir(parents=True)  # unprepared leftover
    load = dict(as_numpy=True, data_dir=str(tfds_dir), debian_dir=str(directory))
    datasets.load_fashion_mnist("test", **load)
    assert asked == []
    (tfds_dir / "fashion_mnist" / "3.0.1" / "dataset_info.json").write_text("{}")
    datasets.load_fashion_mnist("test", **load)
    assert asked == [str(tfds_dir)]


def test_corrupt_debian_file_is_an_error(fake_debian, monkeypatch):
    directory, _ = fake_debian
    monkeypatch.setitem(datasets.FASHION_MNIST_SHA256, "t10k-labels-idx1-ubyte", "ab" * 32)
    with pytest.raises(datasets.DataIntegrityError, match="t10k-labels"):
        datasets.load_fashion_mnist("test", source="debian", debian_dir=str(directory))


def test_tfds_source_with_mock_data(tmp_path):
    pytest.importorskip("tensorflow", reason="tfds.load builds tf.data datasets")
    with tfds.testing.mock_data(num_examples=7):
        ds = datasets.load_fashion_mnist("train", source="download", data_dir=str(tmp_path))
        images, labels = next(iter(ds.batch(7)))
    assert images.shape == (7, 28, 28, 1) and images.dtype.name == "uint8"
    assert labels.dtype.name == "int64"


def test_no_source_explains_how_to_get_data(tmp_path):
    with pytest.raises(datasets.DataNotFoundError, match="apt-get install -y dataset-fashion-mnist"):
        datasets.load_fashion_mnist(source="debian", debian_dir=str(tmp_path))
    with pytest.raises(datasets.DataNotFoundError, match="not prepared"):
        datasets.load_fashion_mnist(source="tfds", data_dir=str(tmp_path))


def test_bad_arguments():
    with pytest.raises(ValueError, match="source must be one of"):
        datasets.load_fashion_mnist(source="web")
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        datasets.load_fashion_mnist("validation")


@pytest.mark.parametrize("name, content, match", [
    ("bad.gz", b"not gzip at all", r"bad\.gz: cannot be read \(BadGzipFile"),
    ("cut.gz", None, r"cut\.gz: cannot be read \(EOFError"),
    ("head.idx", bytes([0, 0, 8, 3, 0, 0]), r"head\.idx: truncated IDX header"),
    ("empty.idx", b"", r"empty\.idx: not an IDX file"),
])
def test_corrupt_idx_files_name_the_file(tmp_path, name, content, match):
    path = tmp_path / name
    if content is None:  # a gzip cut in the middle
        write_idx(path, np.zeros((20, 20), np.uint8))
        path.write_bytes(path.read_bytes()[:20])
    else:
        path.write_bytes(content)
    with pytest.raises(datasets.DataIntegrityError, match=match):
        datasets.read_idx(str(path))


def test_missing_idx_file_names_the_file(tmp_path):
    with pytest.raises(datasets.DataNotFoundError, match=r"nothere\.gz: no such IDX file"):
        datasets.read_idx(str(tmp_path / "nothere.gz"))


#: the two feeds: whatever ``batches`` gives on this backend, and the PyDataset
FEEDS = [datasets.batches, datasets.ArrayBatches]


def epoch(feed):
    """One epoch's batches as NumPy, as ``fit`` draws them from either kind."""
    if isinstance(feed, keras.utils.PyDataset):
        got = [keras.tree.map_structure(np.asarray, feed[i]) for i in range(len(feed))]
        feed.on_epoch_end()
        return got
    return list(feed.as_numpy_iterator())


def test_batches_is_tf_data_on_tensorflow_and_a_py_dataset_elsewhere():
    feed = datasets.batches(np.ones((6, 2)), np.ones(6), batch_size=4)
    if keras.backend.backend() == "tensorflow":
        assert feed.options().autotune.enabled is False
    else:
        assert isinstance(feed, datasets.ArrayBatches) and len(feed) == 2


@pytest.mark.parametrize("make", FEEDS)
def test_batches_in_order_with_a_short_last_batch(make):
    x = np.arange(10 * 3, dtype="float32").reshape(10, 3)
    y = np.arange(10)
    got = epoch(make(x, y, batch_size=4))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in got]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), y)


@pytest.mark.parametrize("make", FEEDS)
def test_batches_shuffle_is_a_new_permutation_every_epoch_and_seeded(make):
    x = np.arange(50)
    ds = make(x, x * 2, batch_size=7, shuffle=True, seed=3)
    epochs = [np.concatenate([b[0] for b in epoch(ds)]) for _ in range(2)]
    for order in epochs:
        np.testing.assert_array_equal(np.sort(order), x)
    assert not np.array_equal(epochs[0], epochs[1])
    assert not np.array_equal(epochs[0], x)
    again = make(x, x * 2, batch_size=7, shuffle=True, seed=3)
    np.testing.assert_array_equal(np.concatenate([b[0] for b in epoch(again)]), epochs[0])
    for bx, by in epoch(ds):  # pairs stay together
        np.testing.assert_array_equal(by, bx * 2)


@pytest.mark.parametrize("make", FEEDS)
def test_batches_structures_and_predict_input(make):
    x = {"a": np.ones((5, 2)), "b": np.zeros((5,))}
    (first,) = epoch(make(x, batch_size=5))
    assert first["a"].shape == (5, 2) and first["b"].shape == (5,)


@pytest.mark.parametrize("make", FEEDS)
def test_batches_train_a_model_as_arrays_do(make):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = rng.integers(0, 3, size=40)

    def trained(feed):
        keras.utils.set_random_seed(1)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        feed(model)
        return model.get_weights()

    ours = trained(lambda m: m.fit(make(x, y, batch_size=8), epochs=2, shuffle=False, verbose=0))
    plain = trained(lambda m: m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0))
    for a, b in zip(ours, plain):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_array_batches_index_out_of_range_names_the_count():
    feed = datasets.ArrayBatches(np.ones(5), batch_size=2)
    with pytest.raises(IndexError, match=r"ArrayBatches: batch index 3 .* 3 batches of 2"):
        feed[3]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(x=np.ones((4, 2)), y=np.ones(3)), ValueError, "same number of samples"),
        (dict(x=np.float32(1.0)), ValueError, "same number of samples"),
        (dict(x=np.ones(4), batch_size=0), ValueError, "batch_size must be an integer >= 1"),
        (dict(x=np.ones(4), batch_size=2.0), TypeError, "batch_size"),
        (dict(x=np.ones(4), shuffle=1), TypeError, "shuffle must be True or False"),
        (dict(x=np.ones(4), seed=1.5), TypeError, "seed must be None or an integer"),
    ],
)
@pytest.mark.parametrize("make", FEEDS)
def test_batches_bad_input(make, kwargs, error, match):
    with pytest.raises(error, match=f"[Bb]atches: .*{match}|{match}"):
        make(**kwargs)
