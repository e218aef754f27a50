"""Feeding arrays to ``fit``: Keras's own pipeline against ``keras_spiking.datasets.batches``.

``model.fit(x, y)`` on arrays goes through Keras's pipeline for arrays (a parallel
map and a prefetch, both tf.data ``AUTOTUNE``); ``batches`` is a plain
``tf.data`` pipeline with tf.data's autotuning off. This trains the CSNN of
examples/surrogate_csnn.py (T = 25, batch 128, Fashion-MNIST images) for
``--epochs`` epochs of ``--batches`` batches in each of ``--processes`` fresh
processes per feed, the feeds alternating, and prints every epoch's wall clock
and CPU seconds, how many epochs took more than 1.6x the fastest epoch of their
feed ("half-speed" epochs: on 2 cores a third of Keras's, the step's work
serialised on one core), and the medians' ratio, with the load average:

    python benchmarks/input_pipeline.py [--processes 4] [--epochs 5] [--conv2-policy mixed_bfloat16]

TensorFlow only: the half-speed epochs are tf.data's, and on the other backends
Keras slices arrays without tf.data and ``batches`` is a PyDataset.
"""

import argparse
import json
import os
import sys
import tempfile
import time

import numpy as np

import common

FEEDS = ("keras arrays", "batches")
SLOW = 1.6  # an epoch this many times its feed's fastest counts as half-speed


def worker(args):
    """Train the CSNN fed one way; print one JSON list of ``[wall, cpu]`` per epoch."""
    import keras_spiking

    csnn = common.load_example("surrogate_csnn")
    data = np.load(args.data)
    x, y = data["x"], data["y"]
    model = csnn.compile_csnn(csnn.build_csnn(25, conv2_dtype=args.conv2_policy))

    def epoch():
        if args.worker == "batches":
            model.fit(keras_spiking.datasets.batches(x, y, 128), verbose=0, shuffle=False)
        else:
            model.fit(x, y, batch_size=128, verbose=0, shuffle=False)

    epoch()  # traces the step
    times = []
    for _ in range(args.epochs):
        wall, cpu = time.perf_counter(), time.process_time()
        epoch()
        times.append([time.perf_counter() - wall, time.process_time() - cpu])
    print(json.dumps(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4, help="fresh processes per feed")
    parser.add_argument("--epochs", type=int, default=5, help="timed epochs per process")
    parser.add_argument("--batches", type=int, default=10, help="batches of 128 per epoch")
    parser.add_argument("--conv2-policy", default=None, help="e.g. mixed_bfloat16")
    parser.add_argument("--worker", choices=FEEDS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)

    (x, y), _ = common.fashion_mnist(train_size=128 * args.batches, test_size=0)
    epochs = {feed: [] for feed in FEEDS}
    with common.watch_load(), tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data.npz")
        np.savez(data, x=x, y=y)
        for _ in range(args.processes):
            for feed in FEEDS:
                command = [sys.executable, os.path.abspath(__file__), "--worker", feed,
                           "--data", data, "--epochs", str(args.epochs)]
                if args.conv2_policy:
                    command += ["--conv2-policy", args.conv2_policy]
                child = common.run_child(command, env=common.child_env(pythonpath=common.ROOT))
                if child.returncode:
                    sys.exit(f"{feed} worker failed:\n{child.stderr[-2000:]}")
                times = json.loads(child.stdout.strip().splitlines()[-1])
                epochs[feed] += times
                print(f"{feed:13s} " + " ".join(f"{w:.2f}/{c:.2f}" for w, c in times)
                      + "  (wall/CPU s per epoch)", flush=True)
    medians = {}
    for feed, times in epochs.items():
        wall, cpu = np.array(times).T
        slow = int(np.sum(wall > SLOW * wall.min()))
        medians[feed] = np.median(wall), np.median(cpu)
        print(f"{feed:13s} {len(wall)} epochs of {args.batches} batches: median {medians[feed][0]:.2f} s "
              f"wall, {medians[feed][1]:.2f} s CPU; {slow} half-speed (> {SLOW}x its fastest, "
              f"{wall.min():.2f} s)")
    (kw, kc), (bw, bc) = medians["keras arrays"], medians["batches"]
    print(f"batches vs Keras's pipeline, medians: {kw / bw:.2f}x wall clock, {kc / bc:.2f}x per CPU-second")


if __name__ == "__main__":
    main()
