"""Data-parallel training across processes, on the engines Keras already has.

Nothing here is a new engine: TensorFlow's ``MultiWorkerMirroredStrategy`` and
JAX's ``keras.distribution.DataParallel`` (over devices, and over processes
after ``keras.distribution.initialize``) do the work. This module holds what a
Keras 3 user needs on top of them:

* ``multi_worker_strategy()``: ``tf.distribute.MultiWorkerMirroredStrategy``
  that ``model.fit`` / ``evaluate`` / ``predict`` of Keras 3.15 can use with more
  than one worker. Keras reduces a *tuple* of per-replica batches (to build the
  model) and scalar logs with ``axis=0``; the plain strategy refuses both once
  there are two workers ("Attempt to convert a value (PerReplica ...)",
  "Invalid reduction dimension 0 for input with 0 dimensions"; keras-team/keras
  issue 20585). The subclass reduces each element of a structure, scalars
  without an axis and dtypes the collective ops lack (``uint8`` images) in
  float32, and is otherwise the same strategy.
* ``local_cluster(n)``: ``TF_CONFIG`` values for ``n`` workers on free ports of
  this machine (tests, benchmarks, trying it out); ``free_port()`` for a JAX
  coordinator.
* ``process_shard(arrays, batch_size, index, count)``: one process's part of
  every global batch, for JAX processes fed by hand
  (``DataParallel.auto_shard_dataset = False``): the global batches the
  processes assemble are exactly the batches one process would have used.

``examples/distributed_training.py`` runs all three ways; README "Training on
many machines" has the commands.
"""

import json
import socket

import numpy as np

from keras_spiking.validation import check_positive_integer

_STRATEGY_CLASS = None
#: The dtypes TensorFlow's collective all-reduce takes (others go through float32).
_COLLECTIVE_DTYPES = ("bfloat16", "float16", "float32", "float64", "int32", "int64")


def _strategy_class():
    """The ``MultiWorkerMirroredStrategy`` subclass, built on first use (so that
    importing this module does not import TensorFlow)."""
    global _STRATEGY_CLASS
    if _STRATEGY_CLASS is None:
        import tensorflow as tf

        class KerasMultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
            """``MultiWorkerMirroredStrategy`` whose ``reduce`` takes what Keras 3 passes."""

            def reduce(self, reduce_op, value, axis):
                if not isinstance(value, tf.distribute.DistributedValues) and tf.nest.is_nested(
                        value):
                    return tf.nest.map_structure(
                        lambda v: self.reduce(reduce_op, v, axis), value)
                local = self.experimental_local_results(value)[0]
                if getattr(local, "shape", None) is None:  # a Python number
                    return super().reduce(reduce_op, value, axis)
                if axis is not None and local.shape.rank == 0:
                    axis = None  # a scalar per replica: reduce across replicas only
                if local.dtype not in _COLLECTIVE_DTYPES:  # e.g. a batch of uint8 images
                    as_float = self.run(lambda v: tf.cast(v, tf.float32), args=(value,))
                    return tf.cast(super().reduce(reduce_op, as_float, axis), local.dtype)
                return super().reduce(reduce_op, value, axis)

        _STRATEGY_CLASS = KerasMultiWorkerMirroredStrategy
    return _STRATEGY_CLASS


def multi_worker_strategy(cluster_resolver=None, communication_options=None):
    """``tf.distribute.MultiWorkerMirroredStrategy`` that Keras 3's ``fit`` can use.

    Create it at the start of the program, before any TensorFlow op runs
    (``TF_CONFIG`` names the workers and this process's index), build and
    compile the model inside ``strategy.scope()``, then ``fit`` as usual with
    the *global* batch size: each of the N workers computes ``batch_size / N``
    samples of every batch and the gradients are summed across workers, so the
    weights follow the one-worker run with the same batch size.

    Example (run on every worker, with its own ``TF_CONFIG``)::

        strategy = keras_spiking.distributed.multi_worker_strategy()
        with strategy.scope():
            model = build(); model.compile(...)
        model.fit(x, y, batch_size=128)
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise ValueError(
            "multi_worker_strategy: needs the TensorFlow backend, got "
            f"KERAS_BACKEND={keras.backend.backend()!r}; set KERAS_BACKEND=tensorflow, or on "
            "JAX use keras.distribution.initialize(...) with keras.distribution.DataParallel().")
    return _strategy_class()(
        cluster_resolver=cluster_resolver, communication_options=communication_options)


def free_port(host="localhost"):
    """A TCP port of ``host`` that nothing listens on now (for a coordinator)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def local_cluster(workers, host="localhost"):
    """``TF_CONFIG`` JSON strings for ``workers`` processes on this machine.

    Element ``i`` is worker ``i``'s value (the same cluster of free ports, its
    own task index); start one process per element with ``TF_CONFIG`` set to it.
    """
    check_positive_integer("local_cluster", "workers", workers)
    addresses = [f"{host}:{free_port(host)}" for _ in range(workers)]
    return [json.dumps({"cluster": {"worker": addresses},
                        "task": {"type": "worker", "index": i}}) for i in range(workers)]


def process_shard(arrays, batch_size, process_index, process_count):
    """Process ``process_index``'s part of every global batch of ``arrays``.

    ``arrays`` (one array or a list/tuple of arrays with the same first axis)
    is cut into global batches of ``batch_size``; each is split into
    ``process_count`` equal parts in order, and part ``process_index`` of every
    batch is returned, concatenated. Fed with ``batch_size // process_count``
    per process to a model under ``keras.distribution.DataParallel`` (with
    ``auto_shard_dataset = False``), the processes assemble exactly the global
    batches that one process given ``arrays`` and ``batch_size`` would use.
    """
    owner = "process_shard"
    check_positive_integer(owner, "batch_size", batch_size)
    check_positive_integer(owner, "process_count", process_count)
    if not isinstance(process_index, (int, np.integer)) or not 0 <= process_index < process_count:
        raise ValueError(
            f"{owner}: process_index must be an integer in [0, {process_count}), "
            f"got {process_index!r}.")
    if batch_size % process_count:
        raise ValueError(
            f"{owner}: batch_size={batch_size} must be a multiple of "
            f"process_count={process_count}, so that every process gets the same share.")
    kind = type(arrays) if isinstance(arrays, (list, tuple)) else None
    arrays = [np.asarray(a) for a in (arrays if kind else [arrays])]
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        raise ValueError(f"{owner}: the arrays have different lengths {sorted(lengths)}.")
    n = lengths.pop()
    if n % batch_size:
        raise ValueError(
            f"{owner}: {n} samples are not a whole number of batches of {batch_size}; "
            f"use the first {n - n % batch_size} (a shorter last batch cannot be split "
            "evenly across processes).")
    local = batch_size // process_count
    parts = [a.reshape((n // batch_size, process_count, local) + a.shape[1:])[:, process_index]
             .reshape((n // process_count,) + a.shape[1:]) for a in arrays]
    return kind(parts) if kind else parts[0]
