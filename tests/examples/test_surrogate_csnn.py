"""The example CSNN (examples/surrogate_csnn.py) builds, trains a step, and round-trips."""

import keras
import numpy as np


def test_example_csnn_trains_and_round_trips(tmp_path, load_example):
    example = load_example("surrogate_csnn")
    keras.utils.set_random_seed(0)
    model = example.compile_csnn(example.build_csnn(steps=3))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 28, 28, 1), dtype=np.uint8)
    y = rng.integers(0, 10, 16)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    out = model.predict(x, verbose=0)
    assert out.shape == (16, 3, 10) and set(np.unique(out)) <= {0.0, 1.0}
    # the time-invariant first convolution runs once, before the time axis exists
    assert model.get_layer("pool1").output.shape == (None, 12, 12, 12)
    path = str(tmp_path / "csnn.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), out)


def test_example_csnn_conv2_policy_alone(tmp_path, load_example):
    """``conv2_dtype`` puts only the second convolution under its policy; the
    neurons still get float32 currents; the model saves and loads with it."""
    example = load_example("surrogate_csnn")
    keras.utils.set_random_seed(0)
    model = example.compile_csnn(example.build_csnn(steps=2, conv2_dtype="mixed_bfloat16"))
    conv2 = model.get_layer("conv2").layer
    assert (conv2.compute_dtype, conv2.variable_dtype) == ("bfloat16", "float32")
    assert model.get_layer("fc").compute_dtype == "float32"
    assert model.get_layer("lif2").output.dtype == "float32"
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
    history = model.fit(x, rng.integers(0, 10, 8), batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    out = model.predict(x, verbose=0)
    path = str(tmp_path / "csnn_bf16_conv2.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.get_layer("conv2").layer.compute_dtype == "bfloat16"
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), out)
