r"""Private vs non-private training throughput, measured side by side.

  .venv/bin/python benchmarks/per_example_throughput.py
  .venv/bin/python benchmarks/per_example_throughput.py \
      --model=wrn_16_4 --batch=32 --augmult=1,16 --repeats=3

For each K in --augmult it times, interleaved in one process (this machine is
noisy): non-private training, DP-SGD with each per-example strategy, and
DP-SAT (DP-SGD plus a perturbation and restore of the weights). Each is
split into the work of one physical batch (the clipped or plain gradient
sum) and the work done once per logical batch (noise, optimizer update,
perturbation), and throughput is printed with an update after every
physical batch and with the paper's logical batch of 4,096 examples. It
ends with a projection of the paper's CIFAR-10 eps=8 recipe (2,500 steps x
4,096 examples x K=16) at the measured rate of DP-SGD with the strategy that
per_example=auto picks for K=16 on this device.
A benchmark, not a test: nothing here asserts a speed.
"""

import functools
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.optim import gradient_engine
from prifa_tf.optim import optimizers
from prifa_tf.optim import sharpness
from prifa_tf.privacy import per_example
from prifa_tf.privacy import per_layer
from prifa_tf.training import losses

_MODEL = flags.DEFINE_string("model", "wrn_16_4", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 16, "Examples per physical batch.")
_AUGMULT = flags.DEFINE_list("augmult", ["1", "16"], "K values to measure.")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed rounds per variant.")
_STRATEGIES = flags.DEFINE_list(
    "strategies", ["per_layer", "loop", "vectorized"],
    "Per-example strategies to time; per_layer:patches and "
    "per_layer:unstacked force per_layer's kernel-gradient route (plain "
    "per_layer lets it choose by batch size and device).")
_RECIPE_STEPS, _RECIPE_BATCH, _RECIPE_K = 2500, 4096, 16


class Variant:
  """One way of producing a training step on a physical batch."""

  def __init__(self, name, model, views, private, strategy="loop", rho=0.0):
    self.name, self.model, self.rho = name, model, rho
    strategy, _, route = strategy.partition(":")
    self.engine = gradient_engine.GradientEngine(
        model, losses.softmax_cross_entropy, views=views, private=private,
        l2_norm_clip=1.0, noise_multiplier=1.0, strategy=strategy)
    if route:  # Benchmark-only: pin per_layer's instantiation route.
      self.engine._clipped_sum = functools.partial(  # pylint: disable=protected-access
          per_layer.clipped_sum_per_layer, instantiate=route)
    self.opt = optimizers.make_optimizer("sgd", 0.0)  # lr 0: weights fixed.
    self.opt.build(model.trainable_variables)
    self.perturbation = sharpness.WeightPerturbation(
        model.trainable_variables)
    self.direction = [tf.ones_like(v) for v in model.trainable_variables]

  def accumulate(self, x, y, w):
    """Once per physical batch: the gradient (sum) of the batch."""
    self.engine.accumulate(x, y, w)
    self.engine.examples.numpy()  # Waits for the step.

  def update(self, b):
    """Once per logical batch: noise, update, DP-SAT perturb and restore."""
    grads, _ = self.engine.finalize(float(b), seed=(0, 0))
    if self.rho:
      self.perturbation.perturb(self.direction, self.rho)
      self.perturbation.restore()
    self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
    self.model.trainable_variables[0].numpy()


def measure(model, k, b, repeats):
  """Median seconds per physical batch and per logical-batch update."""
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
  for v in variants:  # Compile / warm up.
    v.accumulate(x, y, w)
    v.update(b)
  acc = {v.name: [] for v in variants}
  upd = {v.name: [] for v in variants}
  for _ in range(repeats):
    for v in variants:  # Interleaved rounds.
      t0 = time.perf_counter()
      v.accumulate(x, y, w)
      t1 = time.perf_counter()
      v.update(b)
      acc[v.name].append(t1 - t0)
      upd[v.name].append(time.perf_counter() - t1)
  medians = {n: (float(np.median(acc[n])), float(np.median(upd[n])))
             for n in acc}
  # Per round, each variant's throughput relative to the non-private run
  # timed just before it: robust to the machine's drifting speed.
  base = "non-private"
  rounds = {n: [throughput((a, u), b, _RECIPE_BATCH) /
                throughput((acc[base][r], upd[base][r]), b, _RECIPE_BATCH)
                for r, (a, u) in enumerate(zip(acc[n], upd[n]))]
            for n in acc}
  return medians, rounds


def throughput(times, b, logical):
  """Examples/s when ``logical`` examples share one update."""
  acc, upd = times
  return logical / (logical / b * acc + upd)


def main(argv):
  del argv
  tf.keras.utils.set_random_seed(0)
  model = models.build_wide_resnet(models.named_config(_MODEL.value),
                                   private=True)
  device = "GPU" if tf.config.list_physical_devices("GPU") else "CPU"
  b = _BATCH.value
  print(f"model={_MODEL.value} ({model.count_params():,} params) "
        f"physical batch={b} examples, device={device}")
  print("Columns: ms per physical batch (gradient) | ms per update (noise, "
        "optimizer, DP-SAT perturbation; once per logical batch) | "
        f"examples/s and ratio to non-private with logical batch = {b} "
        f"(an update every physical batch) and = {_RECIPE_BATCH} (the "
        "paper's; updates amortised) | that L=4096 ratio per interleaved "
        "round: median [quartiles].")
  projection = None
  for k in (int(v) for v in _AUGMULT.value):
    times, rounds = measure(model, k, b, _REPEATS.value)
    views = max(k, 1)
    small = {n: throughput(t, b, b) for n, t in times.items()}
    large = {n: throughput(t, b, _RECIPE_BATCH) for n, t in times.items()}
    print(f"\nK={k} ({views} views/example)")
    for name, (acc, upd) in times.items():
      print(f"  {name:>20}: {acc * 1e3:7.1f} ms | {upd * 1e3:6.1f} ms | "
            f"L={b}: {small[name]:7.2f} ex/s "
            f"{small[name] / small['non-private']:5.2f}x"
            f" | L={_RECIPE_BATCH}: {large[name]:7.2f} ex/s "
            f"({large[name] * views:7.1f} views/s) "
            f"{large[name] / large['non-private']:5.2f}x | per-round "
            f"ratio median {np.median(rounds[name]):.2f} "
            f"[{np.percentile(rounds[name], 25):.2f}, "
            f"{np.percentile(rounds[name], 75):.2f}]")
    first = _STRATEGIES.value[0]
    sgd, sat = times[f"DP-SGD {first}"], times[f"DP-SAT {first}"]
    per_batch = _RECIPE_BATCH / b
    ratio = (per_batch * sat[0] + sat[1]) / (per_batch * sgd[0] + sgd[1])
    print(f"  DP-SAT / DP-SGD time per logical batch of {_RECIPE_BATCH}: "
          f"{ratio:.3f}"
          f"; per update alone: {sat[1] / sgd[1]:.3f}")
    if k == _RECIPE_K:
      # The recipe is DP-SGD with the strategy per_example=auto takes here.
      auto = per_example.resolve("auto", model, views)
      name = f"DP-SGD {auto}"
      if name not in large:
        name = max((n for n in large if n.startswith("DP-SGD")),
                   key=large.get)
      projection = (name, large[name])
  if projection:
    name, rate = projection
    hours = _RECIPE_STEPS * _RECIPE_BATCH / rate / 3600
    print(f"\nProjection, CIFAR-10 eps=8 recipe ({_RECIPE_STEPS} steps x "
          f"{_RECIPE_BATCH} x K={_RECIPE_K}) with {name} at {rate:.2f} ex/s: "
          f"{hours:,.0f} hours on this {device}.")


if __name__ == "__main__":
  app.run(main)
