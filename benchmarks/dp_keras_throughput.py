r"""``model.fit`` step time: our DP-Keras optimizers against TF-Privacy's.

  .venv/bin/python benchmarks/dp_keras_throughput.py --model=wrn_10_1 \
      --batch=16 --rounds=5

One process, the variants interleaved round by round (this machine is
noisy): plain Keras SGD (non-private), TF-Privacy's
``VectorizedDPKerasSGDOptimizer``, our ``DPSGDKerasSGDOptimizer`` and
``DPSATKerasSGDOptimizer``. Each round times ``--steps`` calls of
``train_on_batch`` per variant after a warm-up; the median over rounds is
printed with its ratio to non-private and ours to TF-Privacy's. Both DP
optimizers take per-example gradients from ``tape.jacobian`` (the only
thing an optimizer sees), so the ratio shows the cost of the toolkit's
accumulation, single noise draw and replica-exact aggregation on top.
A benchmark, not a test: nothing here asserts a speed.
"""

import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized as tfp_vec  # noqa: E501 (import)

from prifa_tf import models
from prifa_tf.optim import dp_keras

_MODEL = flags.DEFINE_string("model", "wrn_10_1", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 16, "Examples per step.")
_SIZE = flags.DEFINE_integer("image_size", 32, "Input height and width.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved timed rounds.")
_STEPS = flags.DEFINE_integer("steps", 3, "Steps per variant per round.")


def _variants():
  lr = 0.1
  return {
      "non-private (Keras SGD)": lambda: tf.keras.optimizers.SGD(lr),
      "TF-Privacy VectorizedDPKerasSGD": lambda: (
          tfp_vec.VectorizedDPKerasSGDOptimizer(1.0, 1.0, None,
                                                learning_rate=lr)),
      "ours DPSGDKerasSGD": lambda: dp_keras.DPSGDKerasSGDOptimizer(
          1.0, 1.0, None, learning_rate=lr),
      "ours DPSATKerasSGD": lambda: dp_keras.DPSATKerasSGDOptimizer(
          1.0, 1.0, None, rho=0.05, learning_rate=lr),
  }


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  x = rng.normal(size=(_BATCH.value, _SIZE.value, _SIZE.value, 3)).astype(
      np.float32)
  y = rng.integers(0, 10, _BATCH.value).astype(np.int32)
  loss = tf.keras.losses.SparseCategoricalCrossentropy(
      from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
  built = {}
  for name, make in _variants().items():
    model = models.build_wide_resnet(models.named_config(
        _MODEL.value, input_shape=(_SIZE.value, _SIZE.value, 3)),
                                     private=True)
    opt = make()
    if isinstance(opt, dp_keras.DPSATKerasSGDOptimizer):
      opt.set_managed(True)  # A timing loop: no evaluation in between.
    model.compile(optimizer=opt, loss=loss)
    for _ in range(2):  # Warm-up: tracing.
      model.train_on_batch(x, y)
    built[name] = model
  times = {name: [] for name in built}
  for _ in range(_ROUNDS.value):
    for name, model in built.items():
      start = time.perf_counter()
      for _ in range(_STEPS.value):
        model.train_on_batch(x, y)
      times[name].append((time.perf_counter() - start) / _STEPS.value)
  base = float(np.median(times["non-private (Keras SGD)"]))
  theirs = float(np.median(times["TF-Privacy VectorizedDPKerasSGD"]))
  print(f"{_MODEL.value}, batch {_BATCH.value}, {_SIZE.value}x{_SIZE.value}"
        f", {_ROUNDS.value} rounds x {_STEPS.value} steps, median per step:")
  for name, t in times.items():
    m = float(np.median(t))
    line = (f"  {name:34s} {1e3 * m:9.1f} ms/step  x{m / base:6.2f} of "
            "non-private")
    if name.startswith("ours"):
      line += f"  x{m / theirs:5.2f} of TF-Privacy's"
    print(line)


if __name__ == "__main__":
  app.run(main)
