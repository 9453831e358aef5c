"""Seed 003: DP-SGD's feature-to-noise ratio, disparate impact, robustness.

Arms, trained on the same synthetic patch data (``fnr.SyntheticTask``):
- ``nonprivate``: SGD;
- ``dp``: DP-SGD (per-example clipping to C, Gaussian noise z·C once per
  batch, our ``privacy`` modules);
- ``dp_aug``: DP-SGD with K views per example (fresh noise patches), the
  per-example gradient averaged over views before clipping;
- ``dp_public``: the first layer pre-trained non-privately on public data
  drawn from the same task, then DP-SGD;
- ``dp_public_frozen``: the same with the first layer frozen (DP-SGD on
  the head only).

Per arm: test accuracy of the majority and minority groups, the FNR per
class and group (``fnr.fnr``) over epochs, adversarial test loss under
FGSM and PGD (L2, radius ``eps_adv``), and the ε of the DP arms (RDP).
The CIFAR-10 variant trains the same two-layer CNN on 8x8 patches of
CIFAR-10 with classes 5-9 as the minority (10% of their images); it has no
known features, so it reports accuracy and adversarial loss, not FNR.
"""

import dataclasses
import os
from typing import Callable, List, Optional

import numpy as np
import pandas as pd
import tensorflow as tf

from prifa_tf import errors
from prifa_tf.companion import fnr as fnr_lib
from prifa_tf.data import preprocess
from prifa_tf.data import tfds_loader
from prifa_tf.privacy import accounting
from prifa_tf.privacy import noise as noise_lib
from prifa_tf.privacy import per_example
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables

ARMS = ("nonprivate", "dp", "dp_aug", "dp_public", "dp_public_frozen")
CIFAR_LR = {True: 0.05, False: 0.002}  # Keyed by private.


@dataclasses.dataclass
class FnrScale:
  """Sizes of the FNR study at one scale."""
  name: str
  task: fnr_lib.SyntheticTask
  train_size: int
  test_size: int
  public_size: int
  filters: int
  epochs: int
  batch_size: int
  learning_rate: float
  noise_multiplier: float
  l2_norm_clip: float
  augmult: int
  eps_adv: float
  pgd_steps: int
  delta: float
  cifar_train_size: int


PAPER = FnrScale(
    name="paper", task=fnr_lib.SyntheticTask(classes=2, patches=8, dim=256),
    train_size=20_000, test_size=5000, public_size=5000, filters=20,
    epochs=20, batch_size=256, learning_rate=0.5, noise_multiplier=1.0,
    l2_norm_clip=1.0, augmult=8, eps_adv=1.0, pgd_steps=10, delta=1e-5,
    cifar_train_size=50_000)
SMOKE = dataclasses.replace(
    PAPER, name="smoke", task=fnr_lib.SyntheticTask(classes=2, patches=4,
                                                    dim=64),
    train_size=4000, test_size=2000, public_size=2000, filters=10,
    epochs=10, batch_size=200, augmult=4, cifar_train_size=5000)
TINY = dataclasses.replace(
    SMOKE, name="tiny", train_size=200, test_size=100, public_size=100,
    filters=4, epochs=2, batch_size=50, augmult=2, pgd_steps=3,
    cifar_train_size=0)
SCALES = {s.name: s for s in (PAPER, SMOKE, TINY)}


def _loss(y, logits):
  return tf.keras.losses.sparse_categorical_crossentropy(
      y, logits, from_logits=True)


def train(model, views: List[fnr_lib.PatchData], scale: FnrScale,
          private: bool, frozen_first: bool = False, seed: int = 0,
          on_epoch: Optional[Callable[[int, int], None]] = None) -> int:
  """SGD or DP-SGD over ``views`` (K views of the same examples).

  Returns the number of steps taken.
  """
  k = len(views)
  n = len(views[0].y)
  b = scale.batch_size
  variables = ([model.get_layer("head").kernel] if frozen_first
               else model.trainable_variables)
  lr = scale.learning_rate
  x_all = np.stack([v.x for v in views], axis=1)  # [n, K, P, d]
  y_all = np.asarray(views[0].y)

  @tf.function
  def dp_step(x, y, step):
    # Contiguous views per example: rows i*K .. i*K+K-1.
    clipped, _, _, _ = per_example.clipped_sum_vectorized(
        _Sub(model, variables), _loss, x, y, tf.ones(tf.shape(y)[0] // k), k,
        scale.l2_norm_clip)
    noised = noise_lib.add_gaussian_noise(
        clipped, scale.l2_norm_clip, scale.noise_multiplier,
        tf.stack([tf.constant(seed, tf.int64), step]))
    for v, g in zip(variables, noised):
      v.assign_sub(lr * g / b)

  @tf.function
  def sgd_step(x, y):
    with tf.GradientTape() as tape:
      loss = tf.reduce_mean(_loss(y, model(x)))
    for v, g in zip(variables, tape.gradient(loss, variables)):
      v.assign_sub(lr * g)

  step = 0
  for epoch in range(scale.epochs):
    order = np.random.default_rng([seed, epoch]).permutation(n)
    for s in range(n // b):
      rows = order[s * b:(s + 1) * b]
      x = tf.constant(x_all[rows].reshape((-1,) + x_all.shape[2:]))
      y = tf.constant(np.repeat(y_all[rows], k))
      if private:
        dp_step(x, y, tf.constant(step, tf.int64))
      else:
        sgd_step(x, y)
      step += 1
    if not all(np.isfinite(v.numpy()).all() for v in variables):
      raise errors.TrainingDivergedError(
          f"Non-finite weights after epoch {epoch + 1} (learning rate "
          f"{lr:g}, {'DP-SGD' if private else 'SGD'}); lower the learning "
          "rate.")
    if on_epoch:
      on_epoch(epoch + 1, step)
  return step


class _Sub:
  """A model whose trainable_variables are a chosen subset (freezing)."""

  def __init__(self, model, variables):
    self._model, self.trainable_variables = model, variables

  def __call__(self, x, training=False):
    return self._model(x, training=training)


def adversarial_loss(model, x, y, eps: float, steps: int) -> float:
  """Mean test loss under an L2 attack of radius eps (steps=1: FGSM)."""
  x = tf.constant(x)
  y = tf.constant(y)
  delta = tf.zeros_like(x)
  step_size = eps if steps == 1 else 2.5 * eps / steps
  axes = list(range(1, len(x.shape)))
  for _ in range(steps):
    with tf.GradientTape() as tape:
      tape.watch(delta)
      loss = tf.reduce_sum(_loss(y, model(x + delta)))
    g = tape.gradient(loss, delta)
    g = g / tf.maximum(tf.norm(g, axis=axes, keepdims=True), 1e-12)
    delta = delta + step_size * g
    norm = tf.norm(delta, axis=axes, keepdims=True)
    delta = delta * tf.minimum(1.0, eps / tf.maximum(norm, 1e-12))
  return float(tf.reduce_mean(_loss(y, model(x + delta))))


def _group_accuracy(model, data: fnr_lib.PatchData):
  pred = np.argmax(model(tf.constant(data.x)).numpy(), axis=1)
  hit = pred == data.y
  return {"accuracy": float(hit.mean()),
          "majority_accuracy": float(hit[data.group == 0].mean()),
          "minority_accuracy": float(hit[data.group == 1].mean())
          if (data.group == 1).any() else None}


def run_arm(arm: str, scale: FnrScale, seed: int = 0) -> dict:
  """Trains one arm on the synthetic task; returns its result row."""
  if arm not in ARMS:
    raise errors.BadInputError(f"arm must be one of {ARMS}.")
  task = scale.task
  train_set = task.sample(scale.train_size, seed)
  test = task.sample(scale.test_size, seed + 1)
  feats = task.features()
  model = fnr_lib.two_layer_cnn(task.classes, scale.filters, task.patches,
                                task.dim, seed)
  if arm.startswith("dp_public"):
    public = task.sample(scale.public_size, seed + 2)
    train(model, [public], scale, private=False, seed=seed + 2)
  views = [train_set]
  if arm == "dp_aug":
    views += [task.resample_noise(train_set, seed + 10 + v)
              for v in range(scale.augmult - 1)]
  private = arm != "nonprivate"
  frozen = arm == "dp_public_frozen"
  history = []
  start_norms = fnr_lib.feature_norms(model, feats, scale.filters)

  def on_epoch(epoch, steps):
    sigma = (0.0 if not private or frozen else fnr_lib.noise_level(
        scale.learning_rate, scale.noise_multiplier, scale.l2_norm_clip,
        steps, scale.batch_size, scale.filters))
    history.append({"epoch": epoch, "sigma_n": sigma,
                    **fnr_lib.fnr(model, feats, scale.filters, sigma),
                    **_group_accuracy(model, test)})
  steps = train(model, views, scale, private, frozen, seed, on_epoch)
  last = history[-1]
  eps = (accounting.epsilon(scale.train_size, scale.batch_size,
                            scale.noise_multiplier, steps, scale.delta)
         if private else None)
  fnr_values = np.asarray(last["fnr"]) if last["fnr"] else None
  return {
      "arm": arm, "epsilon": eps, "delta": scale.delta if private else None,
      "steps": steps, **_group_accuracy(model, test),
      "fnr_majority": (float(fnr_values[:, 0].mean())
                       if fnr_values is not None else None),
      "fnr_minority": (float(fnr_values[:, 1].mean())
                       if fnr_values is not None else None),
      "feature_norm_majority": float(np.mean(
          np.asarray(last["feature_norm"])[:, 0])),
      "feature_norm_minority": float(np.mean(
          np.asarray(last["feature_norm"])[:, 1])),
      "feature_norm_at_start_minority": float(start_norms[:, 1].mean()),
      "clean_test_loss": adversarial_loss(model, test.x, test.y, 0.0, 1),
      "fgsm_test_loss": adversarial_loss(model, test.x, test.y,
                                         scale.eps_adv, 1),
      "pgd_test_loss": adversarial_loss(model, test.x, test.y,
                                        scale.eps_adv, scale.pgd_steps),
      "history": history}


def cifar_patches(images: np.ndarray, size: int = 8) -> np.ndarray:
  """[n, 32, 32, 3] uint8 -> [n, (32/size)², size²·3] standardised."""
  x = preprocess.standardize(tf.constant(images), "cifar10").numpy()
  n, h, w, c = x.shape
  x = x.reshape(n, h // size, size, w // size, size, c)
  return x.transpose(0, 1, 3, 2, 4, 5).reshape(n, -1, size * size * c)


def cifar_task(scale: FnrScale, data_dir, seed=0):
  """(train, test) PatchData: classes 5-9 keep 10% of their images."""
  train = tfds_loader.load_split("cifar10", "train", data_dir)
  test = tfds_loader.load_split("cifar10", "test", data_dir)
  rng = np.random.default_rng(seed)
  minority = train.labels >= 5
  keep = ~minority | (rng.random(len(train)) < 0.1)
  idx = rng.permutation(np.flatnonzero(keep))[:scale.cifar_train_size]

  def as_patches(s, rows):
    return fnr_lib.PatchData(cifar_patches(s.images[rows]),
                             s.labels[rows].astype(np.int32),
                             (s.labels[rows] >= 5).astype(np.int32))
  return as_patches(train, idx), as_patches(test, np.arange(len(test)))


def run_cifar(arm: str, scale: FnrScale, data_dir, seed=0) -> dict:
  """Non-private vs DP two-layer CNN on CIFAR-10 patches."""
  train_set, test = cifar_task(scale, data_dir, seed)
  model = fnr_lib.two_layer_cnn(10, scale.filters, train_set.x.shape[1],
                                train_set.x.shape[2], seed)
  views = [train_set]
  if arm == "dp_aug":  # Horizontal flips are not patch-local; skip views.
    raise errors.BadInputError("dp_aug is synthetic-only.")
  private = arm != "nonprivate"
  # SGD on raw CIFAR patches diverges at the DP rate (unclipped gradients).
  cifar_scale = dataclasses.replace(scale, train_size=len(train_set.y),
                                    learning_rate=CIFAR_LR[private])
  steps = train(model, views, cifar_scale, private, False, seed)
  sub = np.arange(min(2000, len(test.y)))
  return {"arm": arm, "data": "cifar10", "steps": steps,
          "epsilon": accounting.epsilon(len(train_set.y), scale.batch_size,
                                        scale.noise_multiplier, steps,
                                        scale.delta) if private else None,
          **_group_accuracy(model, test),
          "clean_test_loss": adversarial_loss(model, test.x[sub],
                                              test.y[sub], 0.0, 1),
          "fgsm_test_loss": adversarial_loss(model, test.x[sub], test.y[sub],
                                             scale.eps_adv, 1),
          "pgd_test_loss": adversarial_loss(model, test.x[sub], test.y[sub],
                                            scale.eps_adv, scale.pgd_steps)}


COLUMNS = ["arm", "epsilon", "accuracy", "majority_accuracy",
           "minority_accuracy", "fnr_majority", "fnr_minority",
           "clean_test_loss", "fgsm_test_loss", "pgd_test_loss"]


def run(out: str, scale: FnrScale = SMOKE, data_dir: Optional[str] = None,
        seed: int = 0, log: Callable[[str], None] = print) -> pd.DataFrame:
  """Every arm (resumable per arm), the CIFAR-10 variant, table, figures."""
  os.makedirs(os.path.join(out, "arms"), exist_ok=True)
  rows = []
  jobs = [("synthetic", a) for a in ARMS]
  if scale.cifar_train_size:
    jobs += [("cifar10", a) for a in ("nonprivate", "dp")]
  for data, arm in jobs:
    path = os.path.join(out, "arms", f"{data}_{arm}.json")
    if os.path.exists(path):
      rows.append(results_lib.read_json(path))
      log(f"{data}/{arm}: finished, skipped.")
      continue
    log(f"{data}/{arm}: training")
    row = (run_arm(arm, scale, seed) if data == "synthetic"
           else run_cifar(arm, scale, data_dir, seed))
    row["data"] = data
    results_lib.write_json_atomic(path, row)
    rows.append(row)
    log(f"{data}/{arm}: acc {row['accuracy']:.3f}, PGD loss "
        f"{row['pgd_test_loss']:.3f}"
        + (f", ε {row['epsilon']:.2f}" if row.get("epsilon") else ""))
  return report(rows, out, scale)


def report(rows, out, scale) -> pd.DataFrame:
  df = pd.DataFrame([{k: v for k, v in r.items() if k != "history"}
                     for r in rows])
  tables.write_csv(df, os.path.join(out, "fnr.csv"))
  md = ""
  for data, g in df.groupby("data", sort=False):
    md += f"\n\n## {data}\n\n" + tables.markdown(g, COLUMNS, [
        "arm", "ε", "acc", "acc majority", "acc minority", "FNR majority",
        "FNR minority", "clean loss", "FGSM loss", "PGD loss"], digits=3)
  md += (f"\n\nFNR = ‖u‖₂ / σ_n (see prifa_tf/companion/fnr.py); empty where "
         f"no noise reaches the first layer. Adversarial losses: L2 radius "
         f"{scale.eps_adv:g}, PGD {scale.pgd_steps} steps. CIFAR-10 has no "
         "known features, so no FNR; its minority is classes 5-9.\n")
  tables.write_text_atomic(os.path.join(out, "fnr.md"),
                           f"# Feature-to-noise ratio ({scale.name} scale)"
                           f"{md}\n")
  _figures(rows, out)
  return df


def _figures(rows, out):
  synth = [r for r in rows if r.get("data") == "synthetic"]
  fig, axes = figures.subplots(1, 3, figsize=(13, 3.4))
  for r in synth:
    h = r.get("history") or []
    if h and h[-1]["fnr"]:
      for j, ls in ((0, "-"), (1, "--")):
        axes[0].plot([e["epoch"] for e in h],
                     [np.mean(np.asarray(e["fnr"])[:, j]) for e in h], ls,
                     label=f"{r['arm']} {'majority' if j == 0 else 'minority'}")
  axes[0].set_xlabel("epoch")
  axes[0].set_ylabel("FNR (mean over classes)")
  axes[0].set_yscale("log")
  axes[0].set_title("FNR during training", fontsize=9)
  figures.legend_outside(axes[0], fontsize=6)
  names = [r["arm"] for r in synth]
  x = np.arange(len(names))
  axes[1].bar(x - 0.2, [r["majority_accuracy"] for r in synth], 0.4,
              label="majority")
  axes[1].bar(x + 0.2, [r["minority_accuracy"] or 0 for r in synth], 0.4,
              label="minority")
  axes[1].set_ylabel("test accuracy")
  axes[2].bar(x - 0.2, [r["clean_test_loss"] for r in synth], 0.4,
              label="clean")
  axes[2].bar(x + 0.2, [r["pgd_test_loss"] for r in synth], 0.4,
              label="PGD")
  axes[2].set_ylabel("test loss")
  axes[1].set_title("Accuracy by group", fontsize=9)
  axes[2].set_title("Clean vs PGD loss", fontsize=9)
  for ax in axes[1:]:
    ax.set_xticks(x)
    ax.set_xticklabels(names, fontsize=7, rotation=20)
    ax.set_xlabel("arm")
    figures.legend_outside(ax)
  figures.save(fig, out, "fnr", title="Feature-to-noise: FNR, accuracy "
               "and robustness by arm (companion study 003)")
