r"""Private vs non-private training throughput, measured side by side.

  PYTHONPATH=. .venv/bin/python benchmarks/per_example_throughput.py
  PYTHONPATH=. .venv/bin/python benchmarks/per_example_throughput.py \
      --model=wrn_16_4 --batch=32 --augmult=1,16 --repeats=3

For each K in --augmult it times, interleaved in one process (this machine is
noisy): a non-private step, DP-SGD with each per-example strategy, and
DP-SAT (perturb + restore around the same DP-SGD step), then prints
throughput and ratios. It ends with a projection of the paper's CIFAR-10
eps=8 recipe (2,500 steps x 4,096 examples x K=16) at the measured rate.
A benchmark, not a test: nothing here asserts a speed.
"""

import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.optim import gradient_engine
from prifa_tf.optim import optimizers
from prifa_tf.optim import sharpness
from prifa_tf.training import losses

_MODEL = flags.DEFINE_string("model", "wrn_16_4", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 16, "Examples per physical batch.")
_AUGMULT = flags.DEFINE_list("augmult", ["1", "16"], "K values to measure.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed rounds per variant.")
_STRATEGIES = flags.DEFINE_list("strategies", ["loop", "vectorized"],
                                "Per-example strategies to time.")
_RECIPE_STEPS, _RECIPE_BATCH, _RECIPE_K = 2500, 4096, 16


class Variant:
  """One way of producing a training step on a physical batch."""

  def __init__(self, name, model, views, private, strategy="loop", rho=0.0):
    self.name, self.model, self.rho = name, model, rho
    self.engine = gradient_engine.GradientEngine(
        model, losses.softmax_cross_entropy, views=views, private=private,
        l2_norm_clip=1.0, noise_multiplier=1.0, strategy=strategy)
    self.opt = optimizers.make_optimizer("sgd", 0.0)  # lr 0: weights fixed.
    self.opt.build(model.trainable_variables)
    self.perturbation = sharpness.WeightPerturbation(
        model.trainable_variables)
    self.direction = [tf.ones_like(v) for v in model.trainable_variables]

  def step(self, x, y, w):
    if self.rho:
      self.perturbation.perturb(self.direction, self.rho)
    self.engine.accumulate(x, y, w)
    grads, _ = self.engine.finalize(float(w.shape[0]), seed=(0, 0))
    self.perturbation.restore()
    self.opt.apply_gradients(zip(grads, self.model.trainable_variables))


def measure(model, k, b, repeats):
  views = max(k, 1)
  rng = np.random.default_rng(0)
  x = tf.constant(rng.normal(size=(b * views, 32, 32, 3)).astype(np.float32))
  y = tf.constant(np.repeat(np.arange(b) % 10, views).astype(np.int32))
  w = tf.ones([b])
  variants = [Variant("non-private", model, views, False)]
  for s in _STRATEGIES.value:
    variants.append(Variant(f"DP-SGD {s}", model, views, True, s))
  variants.append(Variant(f"DP-SAT {_STRATEGIES.value[0]}", model, views,
                          True, _STRATEGIES.value[0], rho=0.05))
  for v in variants:
    v.step(x, y, w)  # Compile / warm up.
  times = {v.name: [] for v in variants}
  for _ in range(repeats):
    for v in variants:  # Interleaved rounds.
      t0 = time.perf_counter()
      v.step(x, y, w)
      times[v.name].append(time.perf_counter() - t0)
  return {name: b / float(np.median(t)) for name, t in times.items()}


def main(argv):
  del argv
  tf.keras.utils.set_random_seed(0)
  model = models.build_wide_resnet(models.named_config(_MODEL.value),
                                   private=True)
  device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
  print(f"model={_MODEL.value} ({model.count_params():,} params) "
        f"physical batch={_BATCH.value} examples, device={device}")
  best_k16 = None
  for k in (int(v) for v in _AUGMULT.value):
    rates = measure(model, k, _BATCH.value, _REPEATS.value)
    base = rates["non-private"]
    print(f"\nK={k} ({max(k, 1)} views/example): examples/s, "
          "(views/s), ratio to non-private")
    for name, rate in rates.items():
      print(f"  {name:>20}: {rate:8.2f} ex/s ({rate * max(k, 1):8.1f} "
            f"views/s)  {rate / base:5.2f}x")
    sgd = rates[f"DP-SGD {_STRATEGIES.value[0]}"]
    sat = rates[f"DP-SAT {_STRATEGIES.value[0]}"]
    print(f"  DP-SAT step time / DP-SGD step time: {sgd / sat:.3f}")
    if k == _RECIPE_K:
      best_k16 = max(r for n, r in rates.items() if n.startswith("DP-"))
  if best_k16:
    hours = _RECIPE_STEPS * _RECIPE_BATCH / best_k16 / 3600
    print(f"\nProjection, CIFAR-10 eps=8 recipe ({_RECIPE_STEPS} steps x "
          f"{_RECIPE_BATCH} x K={_RECIPE_K}) at {best_k16:.2f} ex/s: "
          f"{hours:,.0f} hours on this {device}.")


if __name__ == "__main__":
  app.run(main)
