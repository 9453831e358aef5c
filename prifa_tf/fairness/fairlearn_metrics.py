"""Group metrics of binary tasks through Fairlearn, with bootstrap CIs.

Fairlearn's ``MetricFrame`` computes accuracy, selection rate and true
positive rate per group; the gaps are its ``difference()`` (max − min over
groups), i.e. the accuracy gap, ΔDemP and ΔEO of seed 004 for two groups.
Fairlearn 0.9.0 (the version that fits TF-Privacy's pandas and
scikit-learn pins) has no ``n_boot``, so the confidence intervals come from
resampling the examples with replacement *within each group* (the group
sizes stay fixed) and recomputing the MetricFrame: percentile intervals.

``group_fairness`` keeps the same three quantities written out in NumPy;
the tests check one against the other on the same predictions.
"""

from typing import Dict, Optional

import numpy as np
from fairlearn import metrics as fm
from sklearn import metrics as skm

METRICS = {"accuracy": skm.accuracy_score,
           "selection_rate": fm.selection_rate,
           "true_positive_rate": fm.true_positive_rate}
# Name of each gap in the toolkit's tables.
GAPS = {"accuracy": "accuracy_gap", "selection_rate": "delta_demp",
        "true_positive_rate": "delta_eo"}
N_BOOT = 200


def metric_frame(pred, labels, groups) -> fm.MetricFrame:
  """Fairlearn's MetricFrame of accuracy, selection rate and TPR."""
  pred = np.asarray(pred).astype(int)
  labels = np.asarray(labels).astype(int)
  groups = np.asarray(groups)
  if len(np.unique(groups)) < 2:
    raise ValueError("at least two groups must be present.")
  for g in np.unique(groups):
    if not (labels[groups == g] == 1).any():
      raise ValueError(f"group {g!r} has no positives: its true positive "
                       "rate (and ΔEO) is undefined.")
  return fm.MetricFrame(metrics=METRICS, y_true=labels, y_pred=pred,
                        sensitive_features=groups)


def _gaps(frame) -> Dict[str, float]:
  diff = frame.difference()
  return {GAPS[m]: float(diff[m]) for m in METRICS}


def binary_group_metrics(pred, labels, groups, n_boot: int = N_BOOT,
                         confidence: float = 0.95,
                         seed: Optional[int] = 0) -> Dict[str, float]:
  """Per-group metrics, the three gaps, and bootstrap intervals of the gaps.

  Args:
    pred: [n] 0/1 predictions.
    labels: [n] 0/1 labels.
    groups: [n] group of each example (e.g. 1 = male).
    n_boot: bootstrap resamples (0: no intervals).
    confidence: interval coverage.
    seed: resampling seed.

  Returns:
    ``{metric}_{group}`` per group, ``accuracy_gap``, ``delta_demp``,
    ``delta_eo``, and ``{gap}_ci_low`` / ``{gap}_ci_high``, with
    ``bootstrap_resamples``.
  """
  pred = np.asarray(pred).astype(int)
  labels = np.asarray(labels).astype(int)
  groups = np.asarray(groups)
  frame = metric_frame(pred, labels, groups)
  out = {f"{m}_{g}": float(v) for g, row in frame.by_group.iterrows()
         for m, v in row.items()}
  out.update(_gaps(frame))
  if n_boot:
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    draws = {gap: [] for gap in GAPS.values()}
    for _ in range(int(n_boot)):
      idx = np.concatenate([rng.choice(m, len(m), replace=True)
                            for m in members])
      try:
        gaps = _gaps(metric_frame(pred[idx], labels[idx], groups[idx]))
      except ValueError:
        continue  # A resample without positives in a group: skip it.
      for k, v in gaps.items():
        draws[k].append(v)
    tail = (1.0 - confidence) / 2.0
    for k, values in draws.items():
      out[f"{k}_ci_low"] = float(np.quantile(values, tail))
      out[f"{k}_ci_high"] = float(np.quantile(values, 1.0 - tail))
    out["bootstrap_resamples"] = len(draws["accuracy_gap"])
  return out
