"""Exact spike-time learning on the 3x3 bars data set (9-11-3, first-spike code).

Each input pixel spikes once (bar pixels early, 0.05 tau_syn; others late,
0.5 tau_syn); the class is the output neuron that spikes first. Trained with
``model.fit`` and exact gradients of spike times (Göltz, Kriener et al. 2021).

    python examples/spike_time_bars.py [--epochs 400] [--seed 0] [--tau-ratio 1]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

import keras_spiking  # noqa: E402
from keras_spiking.datasets import bars_3x3  # noqa: E402
from keras_spiking.layers import SpikeTimeDense  # noqa: E402


def build_model(seed=0, tau_ratio=1, learning_rate=0.02):
    """The 9-11-3 network with one bias spike per layer."""
    init = keras.initializers.RandomNormal
    model = keras.Sequential([
        keras.Input((9,)),
        SpikeTimeDense(11, tau_ratio=tau_ratio, bias_times=(0.0,),
                       kernel_initializer=init(1.5, 0.8, seed=seed), max_dw_norm=0.2),
        SpikeTimeDense(3, tau_ratio=tau_ratio, bias_times=(0.0,),
                       kernel_initializer=init(0.5, 0.8, seed=seed + 1), max_dw_norm=0.2),
    ])
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras_spiking.SpikeTimeCrossEntropy(),
        metrics=[keras_spiking.FirstSpikeAccuracy(name="acc")],
    )
    return model


class FirstPerfectEpoch(keras.callbacks.Callback):
    """Records the first epoch with 100 % validation accuracy (and may stop)."""

    def __init__(self, stop=False):
        super().__init__()
        self.epoch = None
        self.stop = stop

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch is None and logs.get("val_acc", 0.0) >= 1.0:
            self.epoch = epoch + 1
            self.model.stop_training = self.stop


def train(epochs=400, seed=0, verbose=0, stop_at_perfect=False, tau_ratio=1):
    """Train; returns (model, history, first epoch at 100 % validation, seconds)."""
    keras.utils.set_random_seed(seed)
    x_train, y_train = bars_3x3(seed=seed)
    x_val, y_val = bars_3x3(seed=seed + 1000)
    model = build_model(seed, tau_ratio=tau_ratio)
    perfect = FirstPerfectEpoch(stop=stop_at_perfect)
    callbacks = [keras_spiking.WeightBumping(), perfect]
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=30, epochs=epochs,
                        validation_data=(x_val, y_val), shuffle=True,
                        callbacks=callbacks, verbose=verbose)
    return model, history, perfect.epoch, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tau-ratio", type=int, default=1, choices=(1, 2),
                        help="tau_mem / tau_syn")
    args = parser.parse_args()
    model, history, epoch, seconds = train(args.epochs, args.seed, verbose=0,
                                           tau_ratio=args.tau_ratio)
    val = history.history["val_acc"]
    print(f"validation accuracy: epoch 1 {val[0]:.1%}, final {val[-1]:.1%}")
    print(f"first epoch with 100 % validation accuracy: {epoch} "
          f"(of {args.epochs}); wall time {seconds:.1f} s")


if __name__ == "__main__":
    main()
