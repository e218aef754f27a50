"""The ``keras-spiking`` command.

    keras-spiking demo [--epochs 5] [--quick]   the Fashion-MNIST main job
"""

import argparse
import sys


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(
        prog="keras-spiking", description="Spiking neural networks in Keras 3."
    )
    parser.add_argument(
        "command",
        choices=["demo"],
        help="demo: train an all-LIF CNN on Fashion-MNIST (the main job)",
    )
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from keras_spiking import demo

        demo.main(rest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
