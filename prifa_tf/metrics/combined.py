"""Combined metrics: Harmonic Score (Eq. 3), generalization gap, P1."""

import numpy as np


def scale_auc(auc: float) -> float:
  """MIA AUC in [0.5, 1] -> [0, 1]; below 0.5 counts as 0 (no leakage)."""
  return float(np.clip((auc - 0.5) / 0.5, 0.0, 1.0))


def scale_bias(bias: float) -> float:
  """Eq. 1 bias in [0, 0.5] -> [0, 1], clipped."""
  return float(np.clip(bias / 0.5, 0.0, 1.0))


def harmonic_score(accuracy: float, auc: float, bias: float) -> float:
  """HS = 3 / (1/Acc + 1/(1 - AUC_scaled) + 1/(1 - Bias_scaled)).

  Edge cases: if any of the three terms is 0 (accuracy 0, AUC 1, or bias at
  its maximum 0.5), HS is 0, the limit of the harmonic mean. AUC below 0.5
  and negative bias are clipped to "no leakage" / "no bias".
  """
  if not 0.0 <= accuracy <= 1.0:
    raise ValueError(f"accuracy must be in [0, 1]; got {accuracy}.")
  terms = (accuracy, 1.0 - scale_auc(auc), 1.0 - scale_bias(bias))
  if min(terms) <= 0.0:
    return 0.0
  return 3.0 / sum(1.0 / t for t in terms)


def harmonic_score_from_terms(accuracy, privacy, fairness) -> float:
  """HS from already-scaled terms (each in [0, 1], higher is better)."""
  terms = (accuracy, privacy, fairness)
  if min(terms) <= 0.0:
    return 0.0
  return 3.0 / sum(1.0 / t for t in terms)


def generalization_gap(train_accuracy: float, test_accuracy: float) -> float:
  return float(train_accuracy - test_accuracy)


def p1_score(accuracy: float, advantage: float) -> float:
  """Seed 002's P1: harmonic mean of accuracy and 1 - attacker advantage."""
  privacy = 1.0 - advantage
  if accuracy + privacy <= 0:
    return 0.0
  return 2.0 * accuracy * privacy / (accuracy + privacy)
