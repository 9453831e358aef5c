"""CelebA-style evaluation of a multi-label model (Table 7, Figure 7).

Per attribute: the F1-optimal threshold on the validation split, Eq. 2's
bias on the thresholded test predictions, the gender-weighted AP, the
training skewness, and membership inference on the attribute seen as a
two-class problem. Summaries: weighted mAP, mean bias, and the average MIA
AUC over attributes with skewness in [0.5, 1] and >= 0.8, as Table 7 shows.
"""

from typing import Dict, Optional, Sequence

import numpy as np

from prifa_tf import attacks as attacks_lib
from prifa_tf.data import celeba
from prifa_tf.evaluation import privacy_by_group
from prifa_tf.fairness import fairlearn_metrics
from prifa_tf.fairness import celeba_bias
from prifa_tf.reporting import figures

DEFAULT_ATTACKS = ("threshold", "threshold_entropy")
GENDERS = {0: "female", 1: "male"}
# Bootstrap resamples per attribute.
ATTRIBUTE_BOOTSTRAP = 1000
HIGH_SKEW = 0.8


def evaluated_columns(num_labels: int):
  """(columns, names): CelebA's 34 evaluated attributes, or all labels."""
  if num_labels == len(celeba.TARGET_ATTRIBUTES):
    return list(celeba.EVALUATED_COLUMNS), list(celeba.EVALUATED_ATTRIBUTES)
  return list(range(num_labels)), [f"label_{j}" for j in range(num_labels)]


def attribute_rows(members: attacks_lib.MembershipData, val_logits,
                   val_labels, test_male, train_labels, train_male,
                   attacks: Sequence[str], backend=None, seed=0, log=print,
                   member_male: Optional[np.ndarray] = None):
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
    member_male: protected attribute of the members' rows; with it, each
      attribute's threshold attack is also sliced by gender
      (``privacy_by_group``): ``mia_auc_female``, ``mia_auc_male`` and their
      gap.

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
    row.update(_group_fairness(members.logits_test[:, col] >=
                               report["threshold"][k],
                               members.labels_test[:, col], test_male, seed))
    if member_male is not None:
      row.update(_by_gender(members.attribute(col), member_male, test_male,
                            seed))
    rows.append(row)
    if (k + 1) % 10 == 0 or k + 1 == len(columns):
      log(f"  attributes attacked: {k + 1}/{len(columns)}")
  return rows, outcomes


def _group_fairness(pred, labels, test_male, seed):
  """Fairlearn's ΔDemP and ΔEO by gender of the thresholded predictions.

  On the test set, with bootstrap intervals (NaN where a gender has no
  positives).
  """
  keys = ("delta_demp", "delta_eo")
  try:
    full = fairlearn_metrics.binary_group_metrics(
        pred, labels, np.asarray(test_male, int), n_boot=ATTRIBUTE_BOOTSTRAP,
        seed=seed)
  except ValueError:
    return {f"{k}{s}": np.nan for k in keys for s in ("", "_ci_low",
                                                      "_ci_high")}
  return {f"{k}{s}": full[f"{k}{s}"] for k in keys
          for s in ("", "_ci_low", "_ci_high")}


def _by_gender(data, member_male, test_male, seed):
  """Threshold-attack AUC of female and male rows, and the gap."""
  try:
    df = privacy_by_group.evaluate(
        data, np.zeros(len(data.ids_train)), np.zeros(len(data.ids_test)),
        np.asarray(member_male, int), np.asarray(test_male, int),
        GENDERS, seed=seed)
  except ValueError:  # A gender absent from members or non-members.
    return {"mia_auc_female": np.nan, "mia_auc_male": np.nan,
            "mia_auc_gender_gap": np.nan}
  auc = df[df["slicing"] == "domain"].set_index("group")["auc"]
  female, male = auc.get("female", np.nan), auc.get("male", np.nan)
  return {"mia_auc_female": float(female), "mia_auc_male": float(male),
          "mia_auc_gender_gap": float(abs(male - female))}


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
  gaps = np.array([r.get("mia_auc_gender_gap", np.nan) for r in rows],
                  dtype=float)
  demp = np.array([r.get("delta_demp", np.nan) for r in rows], dtype=float)
  eo = np.array([r.get("delta_eo", np.nan) for r in rows], dtype=float)
  return {"weighted_map": mean(ap), "bias": mean(amp),
          "mean_mia_auc_gender_gap": mean(gaps),
          "mean_delta_demp": mean(demp), "mean_delta_eo": mean(eo),
          "bias_eq2_signed_mean": mean(eq2),
          "avg_mia_auc_skew_0.5_1": mean(auc),
          "avg_mia_auc_skew_ge_0.8": mean(auc[high]),
          "attributes": len(rows), "attributes_skew_ge_0.8": int(high.sum()),
          "attributes_without_ap": int(np.sum(~np.isfinite(ap))),
          "attributes_without_bias": int(np.sum(~np.isfinite(eq2)))}


def plots(rows, out_dir):
  """MIA AUC and weighted AP of every attribute against its skewness."""
  skew = [r["skewness"] for r in rows]
  fig, axes = figures.subplots(1, 2, figsize=(9, 3.6))
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
