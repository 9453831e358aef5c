"""Seed 002: privacy-aware sparsity tuning (PAST) against membership attacks.

Pipeline (``run``):
1. Pool the dataset's train and test splits and cut six disjoint parts:
   target train/test/inference and shadow train/test/inference.
2. Train a base model on each train part (the standard phase, λ = 0).
3. Tune each base model per arm: L1 and L2 at several λ, PAST at λ with
   a grid of α, and PAST on top of the first L2 arm. The shadow gets
   the same treatment (an adaptive attacker who knows the defense).
4. Attack each target: the five metric attacks with thresholds fitted on
   its shadow, and TF-Privacy's MLP attack. Report test accuracy, the
   attack advantage (max over attacks) and the P1 score.

PAST tunes on member data without noise: it is a non-private defense and
no ε is claimed for any of its models.

Outputs in ``out``: ``base/<role>/``, ``arms/<arm>/<role>/`` (history.json,
weights.h5, checkpoints), ``arms/<arm>/result.json``, ``past.csv``,
``past.md``, ``past_tradeoff.png`` (privacy-utility curve over α) and
``past_tuning.png`` (loss gap and Gini sparsity over tuning epochs).
"""

import dataclasses
import os
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd
import tensorflow as tf

from prifa_tf import errors
from prifa_tf import attacks as attacks_lib
from prifa_tf import models
from prifa_tf.attacks import metric_attacks
from prifa_tf.data import splits
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet
from prifa_tf.defenses import tuning
from prifa_tf.metrics import combined
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from prifa_tf.training import evaluation

NO_EPSILON = ("none: PAST tunes on member data without noise, so it is a "
              "non-private defense and no ε is claimed for its models.")


@dataclasses.dataclass
class PastScale:
  """Sizes of one preset (docs/companion/past.md)."""
  name: str
  part_size: int
  model: str
  image_size: Optional[int]
  base_epochs: int
  tune_epochs: int
  batch_size: int
  learning_rate: float
  weight_decay: float
  alphas: Tuple[float, ...]
  l1_lams: Tuple[float, ...]
  l2_lams: Tuple[float, ...]
  past_lam: Dict[str, float]
  combined_alpha: float
  eval_size: int


PAPER = PastScale(
    name="paper", part_size=10_000, model="wrn_16_4", image_size=None,
    base_epochs=100, tune_epochs=50, batch_size=128, learning_rate=0.01,
    weight_decay=5e-4, alphas=(0.5, 1.0, 1.5, 2.0, 2.5, 3.0),
    l1_lams=(1e-4, 5e-4, 1e-3), l2_lams=(1e-3, 5e-3, 1e-2),
    past_lam={"cifar10": 1e-3, "cifar100": 1e-4}, combined_alpha=1.5,
    eval_size=10_000)
SMOKE = dataclasses.replace(
    PAPER, name="smoke", part_size=1500, model="wrn_10_1", base_epochs=30,
    tune_epochs=5, batch_size=64, learning_rate=0.05,
    alphas=(0.5, 1.5, 2.5), l1_lams=(1e-3,), l2_lams=(1e-2,),
    eval_size=1500)
TINY = dataclasses.replace(
    SMOKE, name="tiny", part_size=40, image_size=16, base_epochs=1,
    tune_epochs=1, batch_size=20, alphas=(1.0,), eval_size=40)
SCALES = {s.name: s for s in (PAPER, SMOKE, TINY)}


@dataclasses.dataclass
class Arm:
  """One defense setting: ``method`` with λ and α, tuned from ``start``."""
  name: str
  method: str
  lam: float = 0.0
  alpha: float = 0.0
  start: str = "base"  # "base" or another arm's name.


def arms(scale: PastScale, dataset: str,
         alphas: Optional[Sequence[float]] = None) -> List[Arm]:
  """vanilla, L1 and L2 over λ, PAST over α, and L2 then PAST."""
  lam = scale.past_lam[dataset]
  out = [Arm("vanilla", "none")]
  out += [Arm(f"L1_lam{x:g}", "l1", x) for x in scale.l1_lams]
  out += [Arm(f"L2_lam{x:g}", "l2", x) for x in scale.l2_lams]
  out += [Arm(f"PAST_alpha{a:g}", "past", lam, a)
          for a in (alphas or scale.alphas)]
  l2_first = f"L2_lam{scale.l2_lams[0]:g}"
  out.append(Arm(f"L2+PAST_alpha{scale.combined_alpha:g}", "past", lam,
                 scale.combined_alpha, start=l2_first))
  return out


def load_parts(dataset: str, scale: PastScale, data_dir: Optional[str],
               seed: int = 0) -> Dict[str, ImageSet]:
  """The six disjoint parts of the pooled train and test splits."""
  size = (scale.image_size, scale.image_size) if scale.image_size else None
  train = tfds_loader.load_split(dataset, "train", data_dir, image_size=size)
  test = tfds_loader.load_split(dataset, "test", data_dir, image_size=size)
  return splits.six_way(splits.pool(train, test), scale.part_size, seed)


def _model(scale, parts, seed):
  tf.keras.utils.set_random_seed(seed)
  train = parts["target_train"]
  cfg = models.named_config(scale.model, num_classes=train.num_classes,
                            input_shape=train.images.shape[1:])
  return models.build_wide_resnet(cfg)


def _train(out, scale, parts, role, arm: Optional[Arm], seed, dataset, log):
  """Base model (arm None) or an arm's tuned model for one role."""
  model = _model(scale, parts, seed)
  if arm is None:
    phase = tuning.Phase("none", epochs=scale.base_epochs,
                         batch_size=scale.batch_size,
                         learning_rate=scale.learning_rate,
                         weight_decay=scale.weight_decay, seed=seed)
    workdir = os.path.join(out, "base", role)
  else:
    start = (os.path.join(out, "base", role) if arm.start == "base"
             else os.path.join(out, "arms", arm.start, role))
    model.load_weights(os.path.join(start, tuning.WEIGHTS_FILE))
    workdir = os.path.join(out, "arms", arm.name, role)
    if arm.method == "none":
      return model, []
    phase = tuning.Phase(arm.method, arm.lam, arm.alpha, scale.tune_epochs,
                         scale.batch_size, scale.learning_rate, 0.0, seed)
  history = tuning.train_phase(
      model, phase, workdir, parts[f"{role}_train"],
      parts[f"{role}_inference"], parts[f"{role}_test"], dataset,
      log=lambda m: log(f"[{role} {arm.name if arm else 'base'}] {m}"))
  return model, history


def _outputs(model, s: ImageSet, limit, dataset):
  s = s.take(np.arange(min(limit, len(s))))
  return evaluation.predict_logits(model, s.images, dataset), s.labels, s.ids


def evaluate_arm(target, shadow, parts, scale, dataset, seed) -> dict:
  """Accuracy, every attack's advantage, the max and P1, on the target."""
  lim = scale.eval_size
  t_in = _outputs(target, parts["target_train"], lim, dataset)
  t_out = _outputs(target, parts["target_test"], lim, dataset)
  s_in = _outputs(shadow, parts["shadow_train"], lim, dataset)
  s_out = _outputs(shadow, parts["shadow_test"], lim, dataset)
  metric = metric_attacks.attack(s_in[:2], s_out[:2], t_in[:2], t_out[:2])
  nn = attacks_lib.run(attacks_lib.MembershipData(*t_in, *t_out), ("mlp",),
                       seed=seed)["mlp"]
  advantages = {f"{k}_advantage": v["advantage"] for k, v in metric.items()}
  advantages["nn_advantage"] = float(nn.attacker_advantage)
  test_acc = evaluation.accuracy(t_out[0], t_out[1])
  max_adv = max(advantages.values())
  return {"test_accuracy": test_acc,
          "train_accuracy": evaluation.accuracy(t_in[0], t_in[1]),
          **advantages, "max_advantage": max_adv,
          "mean_advantage": float(np.mean(list(advantages.values()))),
          "p1_score": combined.p1_score(test_acc, max(max_adv, 0.0)),
          "epsilon": None, "privacy": NO_EPSILON}


def run(out: str, dataset: str = "cifar10", scale: PastScale = SMOKE,
        data_dir: Optional[str] = None, seed: int = 0,
        alphas: Optional[Sequence[float]] = None,
        parts: Optional[Dict[str, ImageSet]] = None,
        log: Callable[[str], None] = print) -> pd.DataFrame:
  """Runs (or resumes) the whole study; returns the result table."""
  if dataset not in scale.past_lam:
    raise errors.BadInputError(
        f"dataset must be one of {sorted(scale.past_lam)}.")
  os.makedirs(out, exist_ok=True)
  parts = parts or load_parts(dataset, scale, data_dir, seed)
  log(f"PAST study on {dataset} ({scale.name}): six parts of "
      f"{len(parts['target_train'])} examples. {NO_EPSILON}")
  for role in ("target", "shadow"):
    _train(out, scale, parts, role, None, seed + (role == "shadow"), dataset,
           log)
  rows = []
  for arm in arms(scale, dataset, alphas):
    result_path = os.path.join(out, "arms", arm.name, "result.json")
    if os.path.exists(result_path):
      rows.append(results_lib.read_json(result_path))
      log(f"{arm.name}: finished, skipped.")
      continue
    trained = {}
    for role in ("target", "shadow"):
      trained[role] = _train(out, scale, parts, role, arm,
                             seed + (role == "shadow"), dataset, log)
    row = {"arm": arm.name, "method": arm.method, "lam": arm.lam,
           "alpha": arm.alpha, "start": arm.start,
           **evaluate_arm(trained["target"][0], trained["shadow"][0], parts,
                          scale, dataset, seed),
           "history": trained["target"][1]}
    os.makedirs(os.path.dirname(result_path), exist_ok=True)
    results_lib.write_json_atomic(result_path, row)
    log(f"{arm.name}: test acc {row['test_accuracy']:.4f}, max advantage "
        f"{row['max_advantage']:.4f}, P1 {row['p1_score']:.4f}")
    rows.append(row)
  return report(rows, out, dataset, scale)


COLUMNS = ["arm", "test_accuracy", "correctness_advantage", "loss_advantage",
           "confidence_advantage", "entropy_advantage",
           "modified_entropy_advantage", "nn_advantage", "max_advantage",
           "p1_score"]


def report(rows: List[dict], out: str, dataset: str,
           scale: PastScale) -> pd.DataFrame:
  """past.csv, past.md and the two figures."""
  df = pd.DataFrame([{k: v for k, v in r.items() if k != "history"}
                     for r in rows])
  tables.write_csv(df, os.path.join(out, "past.csv"))
  md = tables.markdown(df, COLUMNS, ["arm", "test acc", "correct.", "loss",
                                     "conf.", "entr.", "m-entr.", "NN",
                                     "max adv.", "P1"], digits=3)
  md += (f"\n\nAttack advantage = TPR - FPR on the target's members and "
         f"non-members; metric thresholds fitted on the shadow. Privacy: "
         f"{NO_EPSILON}\n")
  tables.write_text_atomic(os.path.join(out, "past.md"),
                           f"# PAST on {dataset} ({scale.name} scale)\n\n"
                           f"{md}\n")
  _tradeoff_figure(df, out, dataset)
  _tuning_figure(rows, out)
  return df


def _tradeoff_figure(df, out, dataset):
  fig, ax = figures.subplots(figsize=(6.8, 4))
  # PAST from the base model over its α grid is one line; every other arm
  # (vanilla, L1, L2, PAST on top of L2) is its own point. Hollow markers
  # of different shapes and sizes keep coinciding points visible.
  from_base = (df["method"] == "past") & (df["start"] == "base")
  line = df[from_base].sort_values("alpha")
  if len(line):
    ax.plot(line["test_accuracy"], line["max_advantage"], marker="o",
            color="tab:red", alpha=0.8, label="PAST (α grid, from base)")
    for _, r in line.iterrows():
      ax.annotate(f"α={r['alpha']:g}", (r["test_accuracy"],
                                        r["max_advantage"]), fontsize=7,
                  xytext=(4, 4), textcoords="offset points")
  shapes = iter(["s", "D", "^", "v", "P", "X", "<", ">"] * 4)
  for k, (_, r) in enumerate(df[~from_base].iterrows()):
    name = {"none": "vanilla"}.get(r["method"], r["arm"])
    if r["method"] == "past":
      name = f"{r['arm']} (PAST on {r['start']})"
    ax.plot([r["test_accuracy"]], [r["max_advantage"]], ls="none",
            marker=next(shapes), markersize=11 - k % 4 * 2,
            markerfacecolor="none", markeredgewidth=1.5, label=name)
  ax.set_xlabel("test accuracy")
  ax.set_ylabel("attack advantage (max over attacks)")
  ax.set_title(f"Privacy-utility trade-off, {dataset}", fontsize=9)
  figures.legend_outside(ax)
  figures.save(fig, out, "past_tradeoff",
               title="PAST against L1 / L2 (companion study 002)")


def _tuning_figure(rows, out):
  fig, axes = figures.subplots(1, 2, figsize=(9, 3.4))
  for r in rows:
    h = r.get("history") or []
    if not h:
      continue
    epochs = [e["epoch"] for e in h]
    for ax, key in zip(axes, ("loss_gap", "gini")):
      ax.plot(epochs, [e[key] for e in h], marker=".", label=r["arm"])
  axes[0].set_ylabel("loss gap (members vs inference set)")
  axes[1].set_ylabel("Gini index of |θ|")
  axes[0].set_title("Loss gap while tuning", fontsize=9)
  axes[1].set_title("Sparsity while tuning", fontsize=9)
  for ax in axes:
    ax.set_xlabel("tuning epoch")
  figures.legend_outside(axes[1])
  figures.save(fig, out, "past_tuning", title="Tuning phases per arm")
