"""Seed 004: data imbalance and DP-SGD, CelebA smile classification.

For each female:male ratio and each privacy level (non-DP, and noise
multipliers z ∈ {1.5, 0.7, 0.5} at clip S = 5, δ = 1e-6), one model trains
on a gender-imbalanced, smile-balanced CelebA subset (Adam, lr 5e-5, batch
32); at 70:30 the clip also takes S ∈ {1, 10}. Each run reports overall,
female and male test accuracy, their gap, ΔDemP and ΔEO, group accuracy
over training steps, and the ε our RDP accountant gives (beside the seed's
stated 1.15, 4.98 and 16.2).

Outputs in ``out``: ``runs/<name>/`` (a trainer workdir plus
``groups.json`` and ``result.json``), ``imbalance.csv`` / ``.md`` and
``imbalance_fig1..5.png``, shaped like the seed's Figures 1-5.
"""

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd

from prifa_tf.data import imbalance
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet
from prifa_tf.fairness import fairlearn_metrics
from prifa_tf.fairness import group_fairness
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from prifa_tf.training import datasets
from prifa_tf.training import evaluation
from prifa_tf.training import trainer as trainer_lib
from prifa_tf.training.config import TrainConfig

SEED_EPSILONS = {1.5: 1.15, 0.7: 4.98, 0.5: 16.2}  # As the seed states.
GROUPS_FILE = "groups.json"
RESULT_FILE = "result.json"


@dataclasses.dataclass
class ImbalanceScale:
  """Sizes of the imbalance study at one scale."""
  name: str
  train_size: int
  test_size: int
  model: str
  image_size: int
  epochs: float
  batch_size: int
  learning_rate: float
  female_fractions: Sequence[float]
  noise_multipliers: Sequence[Optional[float]]  # None: non-DP.
  clip: float
  clip_sweep: Sequence[float]
  clip_sweep_fraction: float
  delta: float
  track_points: int


PAPER = ImbalanceScale(
    name="paper", train_size=30_000, test_size=10_000, model="wrn_16_4",
    image_size=64, epochs=60, batch_size=32, learning_rate=5e-5,
    female_fractions=(0.999, 0.99, 0.9, 0.8, 0.7),
    noise_multipliers=(None, 1.5, 0.7, 0.5), clip=5.0,
    clip_sweep=(1.0, 5.0, 10.0), clip_sweep_fraction=0.7, delta=1e-6,
    track_points=30)
SMOKE = dataclasses.replace(
    PAPER, name="smoke", train_size=1000, test_size=500, model="wrn_10_1",
    image_size=32, epochs=2, learning_rate=1e-3, track_points=10)
TINY = dataclasses.replace(
    SMOKE, name="tiny", train_size=64, test_size=40, image_size=16,
    epochs=1, female_fractions=(0.9, 0.7), noise_multipliers=(None, 0.7),
    clip_sweep=(1.0, 5.0), track_points=2)
SCALES = {s.name: s for s in (PAPER, SMOKE, TINY)}


@dataclasses.dataclass
class Run:
  """One arm of the imbalance study: a gender mix and its privacy."""
  name: str
  female_fraction: float
  noise_multiplier: Optional[float]
  clip: float


def runs(scale: ImbalanceScale) -> List[Run]:
  """The imbalance grid at clip S, then the clip sweep at one ratio."""
  out = []
  for f in scale.female_fractions:
    for z in scale.noise_multipliers:
      out.append(Run(_name(f, z, scale.clip), f, z, scale.clip))
  for s in scale.clip_sweep:
    for z in scale.noise_multipliers:
      if z is None or s == scale.clip:
        continue  # Non-DP does not clip; S = clip is in the grid above.
      f = scale.clip_sweep_fraction
      out.append(Run(_name(f, z, s), f, z, s))
  return out


def _name(f, z, s):
  return (f"female{100 * f:g}/" + ("nonDP" if z is None else f"z{z:g}")
          + f"/S{s:g}")


def config(scale: ImbalanceScale, run: Run, seed: int = 0,
           pretrained: Optional[str] = None) -> TrainConfig:
  steps = max(1, int(round(scale.epochs * scale.train_size
                           / scale.batch_size)))
  private = run.noise_multiplier is not None
  return TrainConfig(
      dataset="celeb_a", image_size=scale.image_size, model=scale.model,
      normalization="group", weight_standardization=True,
      pretrained=pretrained, private=private, target_epsilon=None,
      delta=scale.delta, noise_multiplier=run.noise_multiplier or 1.0,
      l2_norm_clip=run.clip, batch_size=scale.batch_size,
      physical_batch_size=scale.batch_size, steps=steps, optimizer="adam",
      learning_rate=scale.learning_rate, momentum=0.0, augmult=0,
      ema_decay=None, eval_weights="last", seed=seed,
      eval_every=max(1, steps // 4), checkpoint_every=max(1, steps // 10),
      log_every=max(1, steps // 20)).validate()


def group_metrics(logits: np.ndarray, test: ImageSet) -> Dict[str, float]:
  """Overall, female and male accuracy, their gap, ΔDemP and ΔEO."""
  pred = np.argmax(logits, axis=1)
  male = test.domains.astype(bool)
  hit = pred == test.labels
  return {
      "accuracy": float(hit.mean()),
      "female_accuracy": float(hit[~male].mean()),
      "male_accuracy": float(hit[male].mean()),
      "accuracy_gap_female_minus_male": float(hit[~male].mean()
                                              - hit[male].mean()),
      "delta_demp": group_fairness.demographic_parity_difference(pred, male),
      "delta_eo": group_fairness.equal_opportunity_difference(
          pred, test.labels, male)}


def gap_intervals(logits: np.ndarray, test: ImageSet) -> Dict[str, float]:
  """Fairlearn's bootstrap intervals of the accuracy gap, ΔDemP and ΔEO.

  Female vs male, from ``fairness.fairlearn_metrics``.
  """
  full = fairlearn_metrics.binary_group_metrics(
      np.argmax(logits, axis=1), test.labels, test.domains.astype(int))
  return {k: v for k, v in full.items()
          if "_ci_" in k or k == "bootstrap_resamples"}


class GroupTracker:
  """Trainer step callback: group accuracies every ``every`` steps."""

  def __init__(self, test: ImageSet, every: int, path: str):
    self.test, self.every, self.path = test, every, path
    self.history = []

  def setup(self, trainer):
    if os.path.exists(self.path):
      step = int(trainer.step.numpy())
      self.history = [h for h in results_lib.read_json(self.path)
                      if h["step"] <= step]

  def __call__(self, trainer, step):
    if step % self.every and step != trainer.plan.total_steps:
      return
    logits = evaluation.predict_logits(trainer.model, self.test.images,
                                       "celeb_a")
    self.history.append({"step": step, **group_metrics(logits, self.test)})
    results_lib.write_json_atomic(self.path, self.history)


def load_data(scale: ImbalanceScale, data_dir: Optional[str]):
  """(CelebA train as the smiling task, the test subset)."""
  size = (scale.image_size, scale.image_size)
  train = imbalance.smiling_task(tfds_loader.load_split(
      "celeb_a", "train", data_dir, image_size=size))
  test = imbalance.smiling_task(tfds_loader.load_split(
      "celeb_a", "test", data_dir, image_size=size))
  rng = np.random.default_rng(0)
  keep = np.sort(rng.permutation(len(test))[:scale.test_size])
  return train, test.take(keep)


def run_one(out: str, scale: ImbalanceScale, run: Run, train: ImageSet,
            test: ImageSet, seed: int = 0, pretrained: Optional[str] = None,
            log: Callable[[str], None] = print) -> dict:
  """Trains and evaluates one run (resumable); returns its result row."""
  workdir = os.path.join(out, "runs", *run.name.split("/"))
  cfg = config(scale, run, seed, pretrained)
  result_path = os.path.join(workdir, RESULT_FILE)
  if os.path.exists(result_path):
    row = results_lib.read_json(result_path)
    if row.get("config") == cfg.to_dict():
      log(f"{run.name}: finished, skipped.")
      return row
  subset = imbalance.smile_subset(train, scale.train_size,
                                  run.female_fraction, seed)
  data = datasets.RunData(subset, None, {"test": test}, "celeb_a")
  tracker = GroupTracker(test, max(1, cfg.steps // scale.track_points),
                         os.path.join(workdir, GROUPS_FILE))
  log(f"{run.name}: {int((subset.domains == 0).sum())} female / "
      f"{int((subset.domains == 1).sum())} male training images.")
  results = trainer_lib.Trainer(cfg, workdir, data=data, step_callback=tracker,
                                log=lambda m: log(f"  [{run.name}] {m}")
                                ).run()
  model = trainer_lib.build_model(cfg, 2, test.images.shape[1:])
  model.load_weights(os.path.join(workdir, results["weights_file"]))
  logits = evaluation.predict_logits(model, test.images, "celeb_a")
  privacy = results.get("privacy") or {}
  row = {"run": run.name, "female_fraction": run.female_fraction,
         "noise_multiplier": run.noise_multiplier, "clip": run.clip,
         "epsilon": privacy.get("epsilon"),
         "epsilon_stated_by_seed": SEED_EPSILONS.get(run.noise_multiplier),
         "delta": cfg.delta if cfg.private else None,
         "steps": results["steps"], **group_metrics(logits, test),
         **gap_intervals(logits, test), "config": cfg.to_dict()}
  results_lib.write_json_atomic(result_path, row)
  return row


def run(out: str, scale: ImbalanceScale = SMOKE,
        data_dir: Optional[str] = None, seed: int = 0,
        pretrained: Optional[str] = None, data=None,
        log: Callable[[str], None] = print) -> pd.DataFrame:
  """Every run of the study (resumable), then the table and figures.

  Args:
    out: study directory.
    scale: preset.
    data_dir: TFDS directory with celeb_a.
    seed: subset, initialisation and noise seed.
    pretrained: ImageNet checkpoint for the WRN (HDF5 by layer name).
    data: prebuilt ``(train, test)`` (tests); default: loaded from TFDS.
    log: progress printer.
  """
  train, test = data or load_data(scale, data_dir)
  rows = []
  todo = runs(scale)
  for k, r in enumerate(todo, 1):
    log(f"[{k}/{len(todo)}] {r.name}")
    rows.append(run_one(out, scale, r, train, test, seed, pretrained, log))
  return report(rows, out, scale)


COLUMNS = ["female_fraction", "noise_multiplier", "clip", "epsilon",
           "epsilon_stated_by_seed", "accuracy", "female_accuracy",
           "male_accuracy", "accuracy_gap_female_minus_male", "delta_demp",
           "delta_eo"]


def _level(z):
  if z is None or (isinstance(z, float) and np.isnan(z)):
    return "non-DP"
  return f"z={z:g}"


def report(rows: List[dict], out: str, scale: ImbalanceScale) -> pd.DataFrame:
  """imbalance.csv / .md and Figures 1-5."""
  df = pd.DataFrame([{k: v for k, v in r.items() if k != "config"}
                     for r in rows])
  tables.write_csv(df, os.path.join(out, "imbalance.csv"))
  shown = df.copy()
  for gap in ("delta_demp", "delta_eo"):
    shown[f"{gap}_ci"] = [
        "–" if pd.isna(r.get(f"{gap}_ci_low")) else
        f"[{r[f'{gap}_ci_low']:.3f}, {r[f'{gap}_ci_high']:.3f}]"
        for _, r in shown.iterrows()] if f"{gap}_ci_low" in shown else "–"
  md = tables.markdown(shown, COLUMNS[:-2] + [
      "delta_demp", "delta_demp_ci", "delta_eo", "delta_eo_ci"], [
          "female share", "z", "S", "ε (ours, RDP)", "ε (seed)", "acc",
          "acc F", "acc M", "F − M", "ΔDemP", "95% CI", "ΔEO", "95% CI"],
      digits=3)
  md += ("\n\nΔDemP and ΔEO: Fairlearn 0.9.0 MetricFrame differences "
         "(female vs male); 95% percentile intervals from "
         f"{fairlearn_metrics.N_BOOT} bootstrap resamples within each "
         "group.")
  md += (f"\n\nδ = {scale.delta:g}; ε is what our accountant gives for the "
         "run's sampling rate, noise and steps (the seed's values assume "
         "its own schedule). Non-DP runs claim no ε.\n")
  tables.write_text_atomic(os.path.join(out, "imbalance.md"),
                           f"# Data imbalance and DP ({scale.name} scale)\n"
                           f"\n{md}\n")
  df["level"] = [_level(z) for z in df["noise_multiplier"]]
  grid = df[df["clip"] == scale.clip]
  _lines(grid, "female_fraction", ["accuracy_gap_female_minus_male"], out,
         "imbalance_fig1", "female share of training data",
         "accuracy gap (female − male)")
  sweep = df[(df["female_fraction"] == scale.clip_sweep_fraction)
             & df["noise_multiplier"].notna()]
  _lines(sweep, "clip", ["female_accuracy", "male_accuracy"], out,
         "imbalance_fig2", "clipping bound S", "test accuracy")
  _over_steps(out, [r for r in rows if r["clip"] == scale.clip
                    and r["female_fraction"] == scale.clip_sweep_fraction],
              "imbalance_fig3", lambda r: _level(r["noise_multiplier"]))
  middle = sorted(z for z in scale.noise_multipliers if z is not None)
  z_mid = middle[len(middle) // 2] if middle else None
  _over_steps(out, [r for r in rows if r["clip"] == scale.clip
                    and r["noise_multiplier"] == z_mid],
              "imbalance_fig4", lambda r: f"female {r['female_fraction']:g}")
  _lines(grid, "female_fraction", ["delta_demp", "delta_eo"], out,
         "imbalance_fig5", "female share of training data", "difference")
  return df


def _lines(df, x, ys, out, stem, xlabel, ylabel):
  fig, axes = figures.subplots(1, len(ys), figsize=(4.6 * len(ys), 3.4),
                               squeeze=False)
  for ax, y in zip(axes[0], ys):
    for level, g in df.groupby("level", sort=False):
      g = g.sort_values(x)
      ax.plot(g[x], g[y], marker="o", label=level)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel}: {y}" if len(ys) > 1 else ylabel)
    ax.set_title(y.replace("_", " "), fontsize=9)
    figures.legend_outside(ax)
  figures.save(fig, out, stem, title=f"Gender imbalance x DP on CelebA "
               f"({stem.split('_')[-1]}, companion study 004)")


def _over_steps(out, rows, stem, label):
  fig, axes = figures.subplots(1, 3, figsize=(12, 3.3))
  for r in rows:
    path = os.path.join(out, "runs", *r["run"].split("/"), GROUPS_FILE)
    if not os.path.exists(path):
      continue
    h = results_lib.read_json(path)
    for ax, key in zip(axes, ("accuracy", "female_accuracy",
                              "male_accuracy")):
      ax.plot([e["step"] for e in h], [e[key] for e in h], marker=".",
              label=label(r))
      ax.set_title(key.replace("_", " "), fontsize=9)
      ax.set_xlabel("training step")
      ax.set_ylabel("test accuracy")
  figures.legend_outside(axes[-1])
  figures.save(fig, out, stem, title="Accuracy by gender during training "
               f"({stem.split('_')[-1]}, companion study 004)")
