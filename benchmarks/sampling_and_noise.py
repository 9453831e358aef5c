r"""Poisson vs shuffled batches, and secure vs seeded noise: step-time ratios.

  .venv/bin/python benchmarks/sampling_and_noise.py
  .venv/bin/python benchmarks/sampling_and_noise.py \
      --model=wrn_16_4 --augmult=1,16 --rounds=5

For each K in --augmult, three private Trainers on the same synthetic
CIFAR-shaped data run logical steps interleaved in one process (this
machine is noisy): shuffled batches with the seeded noise (the reference),
Poisson batches (the default) with the seeded noise, and Poisson with
secure noise (OS CSPRNG, 4-sum mitigation). It prints ms per logical step
and the ratio of each to the reference per round (median [quartiles]).

Poisson's only extra work is padding: a batch of X ~ Binomial(n, B/n)
examples fills ceil(X/b) physical batches instead of B/b. The expected
ratio E[ceil(X/b)] / (B/b) is printed beside the measurement, for the
measured setting and for the paper's (n=50,000, B=4,096, b=64).
A benchmark, not a test: nothing here asserts a speed.
"""

import time

from absl import app
from absl import flags
import numpy as np
from scipy import stats

from prifa_tf.data.image_set import ImageSet
from prifa_tf.training import datasets
from prifa_tf.training import trainer as trainer_lib
from prifa_tf.training.config import TrainConfig

_MODEL = flags.DEFINE_string("model", "wrn_10_1", "Named WRN.")
_AUGMULT = flags.DEFINE_list("augmult", ["1", "16"], "K values to measure.")
_N = flags.DEFINE_integer("n", 512, "Training examples (synthetic).")
_BATCH = flags.DEFINE_integer("batch", 64, "Logical batch B (expected).")
_PHYSICAL = flags.DEFINE_integer("physical", 16, "Physical batch b.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Interleaved timed rounds.")
_STEPS = flags.DEFINE_integer("steps_per_round", 3,
                              "Logical steps per variant per round.")

VARIANTS = (("shuffle, seeded noise", dict(sampling="shuffle")),
            ("poisson, seeded noise", dict(sampling="poisson")),
            ("poisson, secure noise", dict(sampling="poisson",
                                           secure_noise=True)))


def expected_padding_ratio(n, batch, physical):
  """E[ceil(X / b)] / (B / b) for X ~ Binomial(n, B / n)."""
  x = np.arange(n + 1)
  pmf = stats.binom.pmf(x, n, batch / n)
  return float(np.sum(pmf * np.maximum(np.ceil(x / physical), 1)) /
               (batch / physical))


def synthetic(n, seed=0):
  rng = np.random.default_rng(seed)
  images = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
  labels = rng.integers(0, 10, n).astype(np.int32)
  train = ImageSet(images, labels, np.arange(n, dtype=np.int64), 10)
  test = ImageSet(images[:64], labels[:64],
                  np.arange(n, n + 64, dtype=np.int64), 10)
  return datasets.RunData(train=train, validation=None,
                          evaluation={"test": test}, dataset="cifar10")


def make_trainer(workdir, k, data, **overrides):
  cfg = TrainConfig(
      dataset="cifar10", model=_MODEL.value, private=True,
      target_epsilon=None, steps=10_000, batch_size=_BATCH.value,
      physical_batch_size=_PHYSICAL.value, noise_multiplier=3.0,
      augmult=k, ema_decay=None, eval_weights="last", eval_every=10_000,
      checkpoint_every=10_000, log_every=10_000, **overrides)
  return trainer_lib.Trainer(cfg, workdir, data=data,
                             log=lambda _: None).build()


def main(argv):
  del argv
  import tempfile  # pylint: disable=g-import-not-at-top
  data = synthetic(_N.value)
  print(f"model={_MODEL.value}, n={_N.value}, B={_BATCH.value}, "
        f"b={_PHYSICAL.value}; ms per logical step, ratio to "
        f"'{VARIANTS[0][0]}' per round: median [quartiles]")
  for k in (int(v) for v in _AUGMULT.value):
    trainers = [make_trainer(tempfile.mkdtemp(), k, data, **kw)
                for _, kw in VARIANTS]
    for t in trainers:  # Trace outside the timing.
      t.logical_step(0)
    times = np.zeros((_ROUNDS.value, len(VARIANTS)))
    step = 1
    for r in range(_ROUNDS.value):
      for i, t in enumerate(trainers):
        start = time.perf_counter()
        for s in range(_STEPS.value):
          t.logical_step(step + s)
        times[r, i] = (time.perf_counter() - start) / _STEPS.value
      step += _STEPS.value
    print(f"\nK={k}")
    for i, (name, _) in enumerate(VARIANTS):
      ratio = times[:, i] / times[:, 0]
      q1, med, q3 = np.percentile(ratio, [25, 50, 75])
      print(f"  {name:24s} {1000 * times[:, i].mean():9.1f} ms | ratio "
            f"{med:.3f} [{q1:.3f}, {q3:.3f}]")
  print("\nExpected Poisson padding ratio (physical batches per step vs "
        "shuffle): this setting "
        f"{expected_padding_ratio(_N.value, _BATCH.value, _PHYSICAL.value):.3f}"
        f"; the paper's (n=50,000, B=4,096, b=64) "
        f"{expected_padding_ratio(50_000, 4096, 64):.3f}")


if __name__ == "__main__":
  app.run(main)
