r"""Throughput of one physical batch: non-private vs DP strategies, side by side.

  PYTHONPATH=. .venv/bin/python benchmarks/per_example_throughput.py \
      --model=wrn_10_1 --batch=32 --repeats=3

Measures examples/s of GradientEngine.accumulate for non-private training and
for the private `loop` and `vectorized` per-example strategies, interleaved
in one process (this machine is noisy), and prints ratios to non-private.
A benchmark, not a test: nothing here asserts a speed.
"""

import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.optim import gradient_engine
from prifa_tf.training import losses

_MODEL = flags.DEFINE_string("model", "wrn_10_1", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 32, "Physical batch size.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed rounds per variant.")
_VARIANTS = flags.DEFINE_list("variants", ["nonprivate", "loop", "vectorized"],
                              "Which variants to time.")


def make_engine(variant, model):
  private = variant != "nonprivate"
  return gradient_engine.GradientEngine(
      model, losses.softmax_cross_entropy, views=1, private=private,
      l2_norm_clip=1.0, noise_multiplier=1.0,
      strategy=variant if private else "loop")


def main(argv):
  del argv
  tf.keras.utils.set_random_seed(0)
  model = models.build_wide_resnet(models.named_config(_MODEL.value),
                                   private=True)
  b = _BATCH.value
  x = tf.constant(np.random.default_rng(0).normal(
      size=(b, 32, 32, 3)).astype(np.float32))
  y = tf.constant(np.arange(b, dtype=np.int32) % 10)
  w = tf.ones([b])
  engines = {v: make_engine(v, model) for v in _VARIANTS.value}
  for v, e in engines.items():  # Compile / warm up.
    e.accumulate(x, y, w)
    e.reset()
  times = {v: [] for v in engines}
  for _ in range(_REPEATS.value):
    for v, e in engines.items():  # Interleaved rounds.
      t0 = time.perf_counter()
      e.accumulate(x, y, w)
      _ = float(e.examples.numpy())
      times[v].append(time.perf_counter() - t0)
      e.reset()
  base = b / np.median(times["nonprivate"]) if "nonprivate" in times else None
  print(f"model={_MODEL.value} params={model.count_params()} batch={b} "
        f"device={'GPU' if tf.config.list_physical_devices('GPU') else 'CPU'}")
  for v in engines:
    rate = b / np.median(times[v])
    ratio = f"  {base / rate:6.1f}x slower than non-private" if base else ""
    print(f"{v:>11}: {rate:8.1f} examples/s{ratio}")


if __name__ == "__main__":
  app.run(main)
