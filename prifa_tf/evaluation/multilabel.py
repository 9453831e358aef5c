"""CelebA-style evaluation of a multi-label model (Table 7, Figure 7).

Per attribute: the F1-optimal threshold on the validation split, Eq. 2's
bias on the thresholded test predictions, the gender-weighted AP, the
training skewness, and membership inference on the attribute seen as a
two-class problem. Summaries: weighted mAP, mean bias, and the average MIA
AUC over attributes with skewness in [0.5, 1] and >= 0.8, as Table 7 shows.
"""

import os
from typing import Dict, Sequence

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np

from prifa_tf import attacks as attacks_lib
from prifa_tf.data import celeba
from prifa_tf.fairness import celeba_bias
from prifa_tf.reporting import figures

DEFAULT_ATTACKS = ("threshold", "threshold_entropy")
HIGH_SKEW = 0.8


def evaluated_columns(num_labels: int):
  """(columns, names): CelebA's 34 evaluated attributes, or all labels."""
  if num_labels == len(celeba.TARGET_ATTRIBUTES):
    return list(celeba.EVALUATED_COLUMNS), list(celeba.EVALUATED_ATTRIBUTES)
  return list(range(num_labels)), [f"label_{j}" for j in range(num_labels)]


def attribute_rows(members: attacks_lib.MembershipData, val_logits,
                   val_labels, test_male, train_labels, train_male,
                   attacks: Sequence[str], backend=None, seed=0, log=print):
  """One dict per evaluated attribute, plus the per-attribute outcomes.

  Args:
    members: multi-label logits of members (training set) and non-members
      (test set), with their 0/1 label matrices.
    val_logits, val_labels: the validation split, for the thresholds.
    test_male: protected attribute of the non-members (test set) rows.
    train_labels, train_male: the whole training set, for N_w and N_m.
    attacks: TF-Privacy attacks run on each attribute.
    backend, seed: as ``attacks.run``.
    log: progress printer.

  Returns:
    (rows, outcomes): ``outcomes[name]`` maps attack -> AttackOutcome.
  """
  columns, names = evaluated_columns(members.labels_train.shape[1])
  report = celeba_bias.attribute_report(
      val_logits[:, columns], val_labels[:, columns],
      members.logits_test[:, columns], members.labels_test[:, columns],
      test_male, train_labels[:, columns], train_male)
  rows, outcomes = [], {}
  for k, (col, name) in enumerate(zip(columns, names)):
    out = attacks_lib.run(members.attribute(col), attacks, backend=backend,
                          seed=seed)
    outcomes[name] = out
    row = {"attribute": name, "column": col,
           "skewness": float(report["skewness"][k]),
           "majority": str(report["majority"][k]),
           "threshold": float(report["threshold"][k]),
           "bias_eq2": float(report["bias"][k]),
           "bias_amplification": float(report["amplification"][k]),
           "weighted_ap": float(report["weighted_ap"][k])}
    for a, o in out.items():
      row[f"{a}_auc"] = o.auc
    row["max_auc"] = max(o.auc for o in out.values())
    rows.append(row)
    if (k + 1) % 10 == 0 or k + 1 == len(columns):
      log(f"  attributes attacked: {k + 1}/{len(columns)}")
  return rows, outcomes


def summarize(rows) -> Dict[str, float]:
  """Table 7's columns from the per-attribute rows."""
  skew = np.array([r["skewness"] for r in rows])
  auc = np.array([r["max_auc"] for r in rows])
  ap = np.array([r["weighted_ap"] for r in rows])
  amp = np.array([r["bias_amplification"] for r in rows])
  eq2 = np.array([r["bias_eq2"] for r in rows])
  high = skew >= HIGH_SKEW

  def mean(x):
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else float("nan")
  return {"weighted_map": mean(ap), "bias": mean(amp),
          "bias_eq2_signed_mean": mean(eq2),
          "avg_mia_auc_skew_0.5_1": mean(auc),
          "avg_mia_auc_skew_ge_0.8": mean(auc[high]),
          "attributes": len(rows), "attributes_skew_ge_0.8": int(high.sum()),
          "attributes_without_ap": int(np.sum(~np.isfinite(ap))),
          "attributes_without_bias": int(np.sum(~np.isfinite(eq2)))}


def plots(rows, out_dir):
  """MIA AUC and weighted AP of every attribute against its skewness."""
  skew = [r["skewness"] for r in rows]
  fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
  for ax, key, label in ((axes[0], "max_auc", "MIA AUC (max over attacks)"),
                         (axes[1], "weighted_ap", "gender-weighted AP")):
    ax.scatter(skew, [r[key] for r in rows], s=14)
    for r in rows:
      ax.annotate(r["attribute"], (r["skewness"], r[key]), fontsize=5)
    ax.axvline(HIGH_SKEW, color="k", ls=":", lw=0.8)
    ax.set_xlabel("skewness (majority gender's share of positives)")
    ax.set_ylabel(label)
  axes[0].set_title("Per-attribute MIA vs skewness")
  axes[1].set_title("Per-attribute AP vs skewness")
  figures.save(fig, out_dir, "attributes_vs_skewness",
               title="CelebA attributes against their gender skewness "
               "(dotted: high skew)")
