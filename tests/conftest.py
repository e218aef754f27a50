"""Shared pytest set-up: quiet TensorFlow, fresh Keras state for every test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import pytest  # noqa: E402

if keras.backend.backend() == "jax":  # float64 references need float64 arrays
    import jax

    jax.config.update("jax_enable_x64", True)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with float32 and the default dtype policy."""
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_floatx("float32")
    keras.config.set_dtype_policy("float32")
