"""Likelihood-ratio membership inference (LiRA, Carlini et al. 2022).

N models are trained on random halves of a candidate pool, with a balanced
keep matrix: every example is in exactly half of the models. For a target
model, each example's statistic (the logit-scaled confidence of its true
label, for each query augmentation) is compared with the statistics of the
shadow models that did and did not train on it (TF-Privacy's
``advanced_mia.calculate_statistic`` and ``compute_score_lira``):

- online: Gaussians fitted to both the "in" and "out" shadow statistics;
- offline: the "out" Gaussian alone;
- per-example or global (``fix_variance``) variance.
"""

import dataclasses
import os
from typing import Dict, Sequence

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
from sklearn import metrics as skm
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import advanced_mia as amia

from prifa_tf.attacks import mia
from prifa_tf.reporting import figures


def keep_matrix(num_models: int, n: int, seed: int = 0) -> np.ndarray:
  """[num_models, n] booleans; each column has exactly num_models // 2 True."""
  if num_models < 2 or num_models % 2:
    raise ValueError(f"num_models must be even and >= 2; got {num_models}.")
  rng = np.random.default_rng(seed)
  order = np.argsort(rng.random((num_models, n)), axis=0)
  return order < num_models // 2


def statistics(logits_per_query: Sequence[np.ndarray],
               labels: np.ndarray) -> np.ndarray:
  """[n, k] logit-scaled confidences, one column per query augmentation."""
  return np.stack([amia.calculate_statistic(np.array(z, dtype=np.float64),
                                            labels, is_logits=True,
                                            option="logit")
                   for z in logits_per_query], axis=1)


def scores(stats: np.ndarray, keep: np.ndarray, target: int,
           online: bool = True, fix_variance: bool = False) -> np.ndarray:
  """Membership scores of every pool example for model ``target``.

  Args:
    stats: [num_models, n, k] statistics of every model.
    keep: [num_models, n] keep matrix.
    target: the attacked model; the others are its shadows.
    online: fit "in" and "out" Gaussians (else "out" only).
    fix_variance: one variance for all examples.

  Returns:
    [n] scores, higher = more likely a member.
  """
  shadows = [m for m in range(stats.shape[0]) if m != target]
  stat_in = [stats[[m for m in shadows if keep[m, i]], i]
             for i in range(stats.shape[1])]
  stat_out = [stats[[m for m in shadows if not keep[m, i]], i]
              for i in range(stats.shape[1])]
  raw = amia.compute_score_lira(stats[target], stat_in, stat_out,
                                option="both" if online else "out",
                                fix_variance=fix_variance)
  return -raw  # TF-Privacy: members get small values.


def metrics(is_member: np.ndarray, scores_: np.ndarray) -> Dict[str, float]:
  """AUC, balanced accuracy and TPR at 0.1% and 1% FPR."""
  fpr, tpr, _ = skm.roc_curve(is_member, scores_)
  return {"auc": float(skm.roc_auc_score(is_member, scores_)),
          "balanced_accuracy": float(np.max(1 - (fpr + (1 - tpr)) / 2)),
          "tpr_at_0.1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.001),
          "tpr_at_1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.01)}


@dataclasses.dataclass
class Curve:
  name: str
  is_member: np.ndarray
  scores: np.ndarray


def plot_roc(curves: Sequence[Curve], path: str, title: str) -> None:
  """Log-log ROC curves (the low-FPR regime is what matters)."""
  fig, ax = plt.subplots(figsize=(4.6, 4.4))
  for c in curves:
    fpr, tpr, _ = skm.roc_curve(c.is_member, c.scores)
    auc = skm.roc_auc_score(c.is_member, c.scores)
    ax.plot(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5),
            label=f"{c.name} (AUC {auc:.3f})")
  ax.plot([1e-5, 1], [1e-5, 1], "k:", lw=0.8)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlim(1e-4, 1)
  ax.set_ylim(1e-4, 1)
  ax.set_xlabel("false positive rate")
  ax.set_ylabel("true positive rate")
  ax.set_title(title, fontsize=9)
  figures.legend_outside(ax)
  out_dir, name = os.path.split(path)
  figures.save(fig, out_dir, os.path.splitext(name)[0])
