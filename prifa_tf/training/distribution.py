"""tf.distribute strategies for training, and who writes files.

* ``none``: the default strategy (one device).
* ``mirrored``: MirroredStrategy over all local GPUs, or over N logical CPU
  devices with ``cpu_replicas=N`` (for tests and demonstrations).
* ``multi_worker``: MultiWorkerMirroredStrategy, configured by the TF_CONFIG
  environment variable of each worker (docs/distributed.md).

Results never depend on the number of replicas (see optim.gradient_engine).
"""

import json
import os

import numpy as np
import tensorflow as tf

from prifa_tf import errors

KINDS = ("none", "mirrored", "multi_worker")


def make_strategy(kind: str = "none", cpu_replicas: int = 0):
  """Builds the strategy ``kind``; call before any other TF work."""
  if kind not in KINDS:
    raise errors.ConfigError(
        f"distribution must be one of {KINDS}; got {kind!r}.")
  if kind == "none":
    return tf.distribute.get_strategy()
  if kind == "mirrored":
    if cpu_replicas:
      cpu = tf.config.list_physical_devices("CPU")[0]
      tf.config.set_logical_device_configuration(
          cpu, [tf.config.LogicalDeviceConfiguration()] * cpu_replicas)
      return tf.distribute.MirroredStrategy(
          [f"/cpu:{i}" for i in range(cpu_replicas)])
    return tf.distribute.MirroredStrategy()
  if "TF_CONFIG" not in os.environ:
    raise errors.ConfigError("distribution=multi_worker needs the TF_CONFIG "
                             "environment variable (cluster and this task).")
  return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy) -> bool:
  """Whether this process writes results, logs and the real checkpoints."""
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return True
  if resolver.task_type == "chief":
    return True
  cluster = json.loads(os.environ.get("TF_CONFIG", "{}")).get("cluster", {})
  return (resolver.task_type == "worker" and resolver.task_id == 0 and
          "chief" not in cluster)


def is_multi_worker(strategy) -> bool:
  """Whether ``strategy`` spans several worker processes."""
  resolver = getattr(strategy, "cluster_resolver", None)
  return bool(resolver is not None and resolver.task_type)


def broadcast_ints(strategy, values, count: int):
  """The chief's ``count`` ints in [0, 2**64) on every worker of a cluster.

  Each worker must call this at the same point. Only the process holding
  global replica 0 (the chief) passes ``values``; the others pass None. The
  ints travel as 16-bit chunks (exact in float32) through one SUM
  all-reduce, to which only replica 0 contributes.
  """
  chunks = np.zeros(4 * count, np.float32)
  if values is not None:
    for i, v in enumerate(values):
      for j in range(4):
        chunks[4 * i + j] = (int(v) >> (16 * j)) & 0xFFFF
  local = tf.constant(chunks)

  def contribution():
    ctx = tf.distribute.get_replica_context()
    first = tf.equal(ctx.replica_id_in_sync_group, 0)
    return local * tf.cast(first, tf.float32)

  total = strategy.reduce(tf.distribute.ReduceOp.SUM,
                          strategy.run(contribution), axis=None).numpy()
  return [sum(int(round(float(total[4 * i + j]))) << (16 * j)
              for j in range(4)) for i in range(count)]


def task_name(strategy) -> str:
  resolver = getattr(strategy, "cluster_resolver", None)
  if resolver is None or not resolver.task_type:
    return "local"
  return f"{resolver.task_type}{resolver.task_id}"
