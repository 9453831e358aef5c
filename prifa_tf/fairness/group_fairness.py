"""Group fairness for binary tasks with a protected attribute (seed 004)."""

import numpy as np


def _groups(protected):
  protected = np.asarray(protected).astype(bool)
  if protected.all() or (~protected).all():
    raise ValueError("both protected groups must be present.")
  return protected


def accuracy_gap(pred, labels, protected) -> float:
  """|accuracy(group 1) - accuracy(group 0)|."""
  g = _groups(protected)
  hit = np.asarray(pred) == np.asarray(labels)
  return float(abs(hit[g].mean() - hit[~g].mean()))


def demographic_parity_difference(pred, protected) -> float:
  """|P(ŷ=1 | group 1) - P(ŷ=1 | group 0)|."""
  g = _groups(protected)
  pred = np.asarray(pred).astype(bool)
  return float(abs(pred[g].mean() - pred[~g].mean()))


def equal_opportunity_difference(pred, labels, protected) -> float:
  """|TPR(group 1) - TPR(group 0)|."""
  g = _groups(protected)
  pred = np.asarray(pred).astype(bool)
  pos = np.asarray(labels).astype(bool)
  if not (pos & g).any() or not (pos & ~g).any():
    raise ValueError("each group needs positives for equal opportunity.")
  return float(abs(pred[pos & g].mean() - pred[pos & ~g].mean()))
