"""Metric-based membership attacks with shadow-calibrated thresholds.

Song & Mittal's metric attacks, as seed 002 uses them: correctness, loss,
confidence, entropy and modified entropy. Each turns a model's output on
an example into a membership score (higher = member). The threshold is
the one that best separates the *shadow* model's members from its
non-members (an adaptive attacker who trained the shadow with the same
defense); it is then applied to the target. The attack advantage is
TPR - FPR on the target (Yeom et al.).
"""

from typing import Dict

import numpy as np
from sklearn import metrics as skm

METRIC_ATTACKS = ("correctness", "loss", "confidence", "entropy",
                  "modified_entropy")
_TINY = 1e-30


def _softmax(logits):
  z = logits - logits.max(axis=1, keepdims=True)
  p = np.exp(z)
  return p / p.sum(axis=1, keepdims=True)


def scores(logits: np.ndarray, labels: np.ndarray) -> Dict[str, np.ndarray]:
  """Membership score of every example under each metric attack."""
  logits = np.asarray(logits, dtype=np.float64)
  p = _softmax(logits)
  rows = np.arange(len(labels))
  p_y = p[rows, labels]
  log_p = np.log(np.maximum(p, _TINY))
  log_not_p = np.log(np.maximum(1 - p, _TINY))
  others = np.ones_like(p, dtype=bool)
  others[rows, labels] = False
  mentr = (-(1 - p_y) * log_p[rows, labels]
           - np.sum(np.where(others, p * log_not_p, 0.0), axis=1))
  return {
      "correctness": (np.argmax(p, axis=1) == labels).astype(np.float64),
      "loss": log_p[rows, labels],  # Minus the cross-entropy.
      "confidence": p_y,
      "entropy": np.sum(p * log_p, axis=1),  # Minus the entropy.
      "modified_entropy": -mentr,
  }


def best_threshold(member_scores, nonmember_scores) -> float:
  """The threshold t (member iff score >= t) maximising TPR - FPR."""
  member_scores = np.asarray(member_scores, dtype=np.float64)
  nonmember_scores = np.asarray(nonmember_scores, dtype=np.float64)
  is_member = np.r_[np.ones(len(member_scores)), np.zeros(
      len(nonmember_scores))]
  fpr, tpr, thresholds = skm.roc_curve(
      is_member, np.r_[member_scores, nonmember_scores],
      drop_intermediate=False)
  return float(thresholds[np.argmax(tpr - fpr)])


def advantage(member_scores, nonmember_scores, threshold: float) -> float:
  """TPR - FPR of the rule score >= threshold."""
  return float(np.mean(np.asarray(member_scores) >= threshold)
               - np.mean(np.asarray(nonmember_scores) >= threshold))


def attack(shadow_in, shadow_out, target_in, target_out) -> Dict[str, dict]:
  """Every metric attack, calibrated on the shadow, scored on the target.

  Each argument is ``(logits, labels)``. Returns ``{attack: {"threshold",
  "advantage", "shadow_advantage"}}``.
  """
  s_in, s_out = scores(*shadow_in), scores(*shadow_out)
  t_in, t_out = scores(*target_in), scores(*target_out)
  out = {}
  for name in METRIC_ATTACKS:
    t = best_threshold(s_in[name], s_out[name])
    out[name] = {"threshold": t,
                 "advantage": advantage(t_in[name], t_out[name], t),
                 "shadow_advantage": advantage(s_in[name], s_out[name], t)}
  return out
