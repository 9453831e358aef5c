"""Membership inference by group: the privacy side of fairness.

TF-Privacy's threshold attack runs on slices of the members and
non-members given by its ``SlicingSpec``: by class, by classification
correctness, and (custom indices) by domain, e.g. COLOR / GRAY for CIFAR-S.
Per group: AUC, attacker advantage and TPR at 1% and 0.1% FPR (from the
slice's ROC curve), the group's members and non-members, and the
distribution of the Song & Mittal risk score of its members and
non-members (mean, median, 90th percentile). Per slicing: the disparity,
max − min over groups, of AUC and of TPR at 1% FPR.

The threshold attack is a score threshold, so its slices need no
retraining; the trained attacks (MLP, RF, ...) are not sliced (their grid
search would run once per group).
"""

import os
from typing import Dict, List, Optional

import numpy as np
import pandas as pd
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import data_structures as ds  # noqa: E501 (import)
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import membership_inference_attack as tfp_mia  # noqa: E501 (import)

from prifa_tf.attacks import mia
from prifa_tf.reporting import figures

SLICINGS = ("class", "correctness", "domain")
FILE = "privacy_by_group.csv"


def _group_name(spec, domain_names):
  """(slicing, group label, the slice's value)."""
  feature = spec.feature
  if feature == ds.SlicingFeature.CLASS:
    return "class", str(int(spec.value)), int(spec.value)
  if feature == ds.SlicingFeature.CORRECTLY_CLASSIFIED:
    return ("correctness", "correct" if spec.value else "misclassified",
            bool(spec.value))
  if feature == ds.SlicingFeature.CUSTOM:
    value = int(spec.value[2])
    return "domain", (domain_names or {}).get(value, str(value)), value
  return "all", "all", None


def _masks(slicing, value, data, domains_train, domains_test):
  if slicing == "class":
    return data.labels_train == value, data.labels_test == value
  if slicing == "correctness":
    want = value
    return ((np.argmax(data.logits_train, 1) == data.labels_train) == want,
            (np.argmax(data.logits_test, 1) == data.labels_test) == want)
  if slicing == "domain":
    return domains_train == value, domains_test == value
  return (np.ones(len(data.labels_train), bool),
          np.ones(len(data.labels_test), bool))


def _risk(values):
  values = np.asarray(values, float)
  if not values.size:
    return {"mean": np.nan, "median": np.nan, "p90": np.nan}
  return {"mean": float(values.mean()), "median": float(np.median(values)),
          "p90": float(np.quantile(values, 0.9))}


def evaluate(data: mia.MembershipData, member_risk: np.ndarray,
             nonmember_risk: np.ndarray,
             domains_train: Optional[np.ndarray] = None,
             domains_test: Optional[np.ndarray] = None,
             domain_names: Optional[Dict[int, str]] = None,
             seed: int = 0) -> pd.DataFrame:
  """One row per group of every slicing (and the whole population).

  Args:
    data: members and non-members (single-label).
    member_risk, nonmember_risk: risk scores aligned with ``data``.
    domains_train, domains_test: domain of each member / non-member; the
      domain slicing is skipped without them.
    domain_names: e.g. {0: "COLOR", 1: "GRAY"}.
    seed: NumPy's global seed for TF-Privacy.
  """
  with_domain = domains_train is not None and domains_test is not None
  spec = ds.SlicingSpec(
      entire_dataset=True, by_class=True,
      by_classification_correctness=True,
      all_custom_train_indices=([np.asarray(domains_train, int)]
                                if with_domain else None),
      all_custom_test_indices=([np.asarray(domains_test, int)]
                               if with_domain else None))
  np.random.seed(seed)
  results = tfp_mia.run_attacks(
      data.attack_input(), slicing_spec=spec,
      attack_types=[ds.AttackType.THRESHOLD_ATTACK])
  rows = []
  for r in results.single_attack_results:
    slicing, group, value = _group_name(r.slice_spec, domain_names)
    in_mask, out_mask = _masks(slicing, value, data,
                               None if not with_domain else
                               np.asarray(domains_train, int),
                               None if not with_domain else
                               np.asarray(domains_test, int))
    if int(in_mask.sum()) != r.data_size.ntrain or \
        int(out_mask.sum()) != r.data_size.ntest:
      raise AssertionError(f"slice {slicing}={group}: our masks hold "
                           f"{int(in_mask.sum())}/{int(out_mask.sum())} "
                           f"examples, TF-Privacy's {r.data_size.ntrain}/"
                           f"{r.data_size.ntest}.")
    fpr, tpr = r.roc_curve.fpr, r.roc_curve.tpr
    row = {"slicing": slicing, "group": group,
           "members": int(r.data_size.ntrain),
           "non_members": int(r.data_size.ntest),
           "auc": float(r.get_auc()),
           "attacker_advantage": float(r.get_attacker_advantage()),
           "tpr_at_1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.01),
           "tpr_at_0.1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.001)}
    for who, values in (("member", member_risk[in_mask]),
                        ("nonmember", nonmember_risk[out_mask])):
      for k, v in _risk(values).items():
        row[f"{who}_risk_{k}"] = v
    rows.append(row)
  return pd.DataFrame(rows)


def disparities(df: pd.DataFrame) -> Dict[str, Dict[str, float]]:
  """Per slicing, the spread of AUC and TPR at 1% FPR over its groups.

  The spread is max − min; the groups where the AUC is highest and lowest
  are named.
  """
  out = {}
  for slicing, g in df[df["slicing"] != "all"].groupby("slicing", sort=False):
    if len(g) < 2:
      continue
    out[slicing] = {
        "auc_disparity": float(g["auc"].max() - g["auc"].min()),
        "tpr_at_1%_fpr_disparity": float(g["tpr_at_1%_fpr"].max()
                                         - g["tpr_at_1%_fpr"].min()),
        "most_exposed": str(g.loc[g["auc"].idxmax(), "group"]),
        "least_exposed": str(g.loc[g["auc"].idxmin(), "group"])}
  return out


def plot(df: pd.DataFrame, out_dir: str, title: str) -> List[str]:
  """privacy_by_group.png/.pdf: the attack's AUC per group, per slicing."""
  slicings = [s for s in SLICINGS if s in set(df["slicing"])]
  fig, axes = figures.subplots(1, len(slicings),
                               figsize=(4.2 * len(slicings), 3.4),
                               squeeze=False)
  overall = df[df["slicing"] == "all"]["auc"]
  for ax, slicing in zip(axes[0], slicings):
    g = df[df["slicing"] == slicing]
    x = np.arange(len(g))
    ax.plot(x, g["auc"], "o", label="group")
    if len(overall):
      ax.axhline(float(overall.iloc[0]), color="k", ls=":", lw=0.8,
                 label="all examples")
    ax.set_xticks(x)
    ax.set_xticklabels(g["group"], rotation=45 if len(g) > 4 else 0,
                       fontsize=7)
    ax.set_xlabel(slicing)
    ax.set_ylabel("threshold-attack AUC")
    ax.set_title(f"MIA AUC by {slicing}", fontsize=9)
    figures.legend_outside(ax)
  fig.suptitle(title, fontsize=9)
  return figures.save(fig, out_dir, os.path.splitext(FILE)[0])


def summary(df: pd.DataFrame) -> Dict[str, object]:
  """What eval.json holds: every group's row and the disparities."""
  return {"attack": "threshold (TF-Privacy, sliced by SlicingSpec)",
          "groups": df.to_dict(orient="records"),
          "disparity": disparities(df)}


def names_for(skewed: bool) -> Optional[Dict[int, str]]:
  """Domain names of CIFAR-S (0 = COLOR, 1 = GRAY); None otherwise."""
  return {0: "COLOR", 1: "GRAY"} if skewed else None
