"""Exact spike-time learning on the Yin-Yang data set (4+bias -> 120 -> 3).

Inputs (x, y, 1-x, 1-y) become spike times in [0.15, 2] tau_syn, each layer
gets one bias spike at 0.9 tau_syn, and the class is the first output spike.
Settings follow the fast & deep paper's Yin-Yang configuration (weights
N(1.5, 0.8) / N(0.5, 0.8), Adam 0.005 decayed x0.95 every 20 epochs, batch 150,
update clipping 0.2, weight bumping).

    nice -n 10 python examples/spike_time_yin_yang.py [--epochs 300]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.datasets import yin_yang  # noqa: E402
from keras_spiking.layers import SpikeTimeDense  # noqa: E402
from keras_spiking.spike_time import encode_times  # noqa: E402


def load(size, seed):
    """Yin-Yang features as spike times (larger value = later, as in the paper)."""
    x, y = yin_yang(size, seed)
    return encode_times(x, 0.15, 2.0, large_early=False), y


def build_model(seed=0, learning_rate=0.005, steps_per_epoch=34, input_noise=0.0):
    init = keras.initializers.RandomNormal
    noise = [keras.layers.GaussianNoise(input_noise, seed=seed)] if input_noise else []
    model = keras.Sequential([
        keras.Input((4,)),
        *noise,  # optional input-time jitter during training only
        SpikeTimeDense(120, bias_times=(0.9,), max_dw_norm=0.2,
                       kernel_initializer=init(1.5, 0.8, seed=seed)),
        SpikeTimeDense(3, bias_times=(0.9,), max_dw_norm=0.2,
                       kernel_initializer=init(0.5, 0.8, seed=seed + 1)),
    ])
    schedule = keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=20 * steps_per_epoch, decay_rate=0.95,
        staircase=True)
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras_spiking.SpikeTimeCrossEntropy(),
        metrics=[keras_spiking.FirstSpikeAccuracy(name="acc")],
    )
    return model


def train(epochs=300, seed=0, verbose=2, train_size=5000):
    """Train on the paper's split sizes; returns (model, history, test acc, s)."""
    keras.utils.set_random_seed(seed)
    x_train, y_train = load(train_size, 42)
    x_val, y_val = load(1000, 41)
    x_test, y_test = load(1000, 40)
    batch = 150
    model = build_model(seed, steps_per_epoch=-(-train_size // batch))
    start = time.perf_counter()
    history = model.fit(
        x_train, y_train, batch_size=batch, epochs=epochs,
        validation_data=(x_val, y_val), validation_freq=max(1, epochs // 10),
        callbacks=[keras_spiking.WeightBumping()], verbose=verbose)
    seconds = time.perf_counter() - start
    test_acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0,
                              return_dict=True)["acc"]
    return model, history, test_acc, seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="save the model (.keras)")
    args = parser.parse_args()
    model, history, test_acc, seconds = train(args.epochs, args.seed)
    print(f"Yin-Yang test accuracy after {args.epochs} epochs: {test_acc:.2%} "
          f"(wall time {seconds:.0f} s)")
    if args.save:
        model.save(args.save)


if __name__ == "__main__":
    main()
