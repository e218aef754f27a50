"""Training under tf.distribute.MirroredStrategy (two logical CPU devices) gives
the same result as one device.

Logical devices must be configured before TensorFlow runs any op, so the
training runs in a fresh subprocess; it asserts that the strategy really has two
replicas (if configuration fails, MirroredStrategy silently uses one).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json
    import numpy as np
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import keras_spiking
    from keras_spiking.layers import Leaky, RepeatTime

    def build():
        keras.utils.set_random_seed(1)
        inp = keras.Input((8,))
        x = RepeatTime(6)(inp)
        x = keras.layers.Dense(16)(x)
        x = Leaky(beta=0.8, surrogate="fast_sigmoid", learn_beta=True,
                  activity_regularizer=keras_spiking.regularizers.FiringRate(
                      l1=1e-2, min_rate=0.05))(x)
        x = keras.layers.Dense(4)(x)
        out = Leaky(beta=0.5, surrogate="fast_sigmoid", learn_threshold=True)(x)
        model = keras.Model(inp, out)
        model.compile(
            optimizer=keras.optimizers.Adam(1e-2),
            loss=keras_spiking.losses.CECount(),
            metrics=[keras_spiking.metrics.RateAccuracy()],
        )
        return model

    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, (32, 8)).astype("float32")
    y = rng.integers(0, 4, 32)

    def train(model):
        history = model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        return history.history, [w.tolist() for w in model.get_weights()]

    single = build()
    initial = single.get_weights()
    one = train(single)

    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    with strategy.scope():
        mirrored = build()
        mirrored.set_weights(initial)
    two = train(mirrored)
    print(json.dumps(dict(replicas=strategy.num_replicas_in_sync, one=one, two=two)))
    """
)


def test_mirrored_strategy_matches_one_device():
    pytest.importorskip("tensorflow")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", KERAS_BACKEND="tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0 and lines, result.stderr[-3000:]
    out = json.loads(lines[-1])
    assert out["replicas"] == 2
    (hist1, weights1), (hist2, weights2) = out["one"], out["two"]
    np.testing.assert_allclose(hist2["loss"], hist1["loss"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hist2["rate_accuracy"], hist1["rate_accuracy"], atol=1e-6)
    assert hist1["loss"][-1] < hist1["loss"][0]  # it did train
    for w1, w2 in zip(weights1, weights2):
        np.testing.assert_allclose(np.array(w2), np.array(w1), rtol=1e-3, atol=1e-5)


# ------------------------------------------------ keras_spiking.distributed helpers
# (the multi-process runs themselves: tests/examples/test_distributed_training.py)

from keras_spiking import distributed  # noqa: E402


def test_process_shard_reassembles_every_global_batch():
    x = np.arange(24 * 2).reshape(24, 2)
    y = np.arange(24)
    parts = [distributed.process_shard((x, y), 8, i, 4) for i in range(4)]
    assert all(isinstance(p, tuple) and p[0].shape == (6, 2) for p in parts)
    for batch in range(3):  # local batches of 2, in process order, make the global batch
        got = np.concatenate([p[1][2 * batch: 2 * batch + 2] for p in parts])
        np.testing.assert_array_equal(got, y[8 * batch: 8 * batch + 8])
    np.testing.assert_array_equal(distributed.process_shard(x, 8, 0, 1), x)  # one array


@pytest.mark.parametrize("args, match", [
    ((np.zeros(10), 4, 0, 2), "not a whole number of batches of 4; use the first 8"),
    ((np.zeros(12), 6, 0, 4), "multiple of process_count=4"),
    ((np.zeros(8), 4, 2, 2), r"process_index must be an integer in \[0, 2\)"),
    (([np.zeros(8), np.zeros(6)], 2, 0, 2), "different lengths"),
])
def test_process_shard_refuses_uneven_shares(args, match):
    with pytest.raises(ValueError, match=match):
        distributed.process_shard(*args)


def test_local_cluster_gives_each_worker_its_index_on_free_ports():
    configs = [json.loads(c) for c in distributed.local_cluster(3)]
    workers = configs[0]["cluster"]["worker"]
    assert len(set(workers)) == 3 and all(w.startswith("localhost:") for w in workers)
    assert [c["task"] for c in configs] == [{"type": "worker", "index": i} for i in range(3)]
    assert all(c["cluster"]["worker"] == workers for c in configs)
    with pytest.raises(ValueError, match="local_cluster: workers must be an integer >= 1"):
        distributed.local_cluster(0)


def test_multi_worker_strategy_needs_tensorflow():
    import keras

    if keras.backend.backend() == "tensorflow":
        pytest.skip("creating the strategy here would start TensorFlow's collectives")
    with pytest.raises(ValueError, match="needs the TensorFlow backend.*DataParallel"):
        distributed.multi_worker_strategy()
