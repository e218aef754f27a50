"""The main job: train an all-LIF CNN on Fashion-MNIST (and convert it to spikes).

The code lives in ``keras_spiking/demo.py`` so that the installed console
command ``keras-spiking demo`` runs the same thing; read it there.

    python examples/fashion_mnist.py --epochs 5
"""

from keras_spiking.demo import main

if __name__ == "__main__":
    main()
