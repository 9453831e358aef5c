"""Empirical privacy audit with canaries (a lower bound beside the claimed ε).

Procedure (one training run):
1. ``data.canaries.make_canaries`` picks m training
   examples and gives each a wrong label (mislabelled canaries). Each joins
   training independently with probability 1/2; the others are left out.
   A config with ``audit_canaries > 0`` does this in ``training.datasets``,
   and the trainer writes the audit beside the claimed ε in
   ``results.json``.
2. After training, each canary is scored by the model's loss on its wrong
   label (``canary_scores``: minus the loss, so members score higher).
3. Two lower bounds on ε, each at confidence 1 - α/2, so that the larger
   (``epsilon_lower_bound`` of the result) holds at 1 - α:
   - ``epsilon_lower_bound`` below: the separation of inserted and left-out
     canaries through TF-Privacy's ``EpsilonLowerBound`` (Clopper-Pearson
     by default), which ignores δ;
   - ``one_run_audit``: Steinke, Nasr & Jagielski's one-run estimator,
     which the independent 1/2 inclusion makes valid, at the run's δ.

If the training really is (ε, δ)-DP, the reported bound exceeds ε only with
probability about α. ``check`` raises ``AuditFailure`` when it is above the
claimed ε: that means a bug in the DP engine or its accounting, and must
never pass silently. m canaries can never show more than
``max_attainable_bound``; above it the audit is a sanity check only (the
white-box step audit, ``prifa_tf/attacks/step_audit.py``, can fail at any ε).
"""

import dataclasses
from typing import Optional

import numpy as np
from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb

from prifa_tf.errors import AuditFailure
from prifa_tf.privacy import one_run_audit

METHODS = {"clopper-pearson": elb.BoundMethod.CLOPPER_PEARSON,
           "bailey": elb.BoundMethod.BAILEY,
           "katz-log": elb.BoundMethod.KATZ_LOG}


def canary_scores(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Minus the cross-entropy of each canary's (wrong) label."""
  z = logits - logits.max(axis=1, keepdims=True)
  log_probs = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
  return log_probs[np.arange(len(labels)), labels]


def epsilon_lower_bound(member_scores, nonmember_scores, alpha: float = 0.05,
                        method: str = "clopper-pearson") -> float:
  """Largest ε lower bound over score thresholds (members score higher).

  Only one-sided thresholds (score ≥ t means member) are used: the audit
  fixes the direction in advance. TF-Privacy bounds each threshold at
  confidence 1 - α and takes the maximum; we divide α by the number of
  (threshold, ratio) pairs it tries (Bonferroni), so that the maximum
  holds at confidence 1 - α overall and a correct engine fails the audit
  with probability at most α.
  """
  if method not in METHODS:
    raise ValueError(f"method must be one of {sorted(METHODS)}.")
  member_scores = np.asarray(member_scores, dtype=float)
  nonmember_scores = np.asarray(nonmember_scores, dtype=float)
  if not member_scores.size or not nonmember_scores.size:
    return 0.0  # Every canary on one side (chance 2^(1-m)): no evidence.
  tests = 2 * (len(np.unique(np.r_[member_scores, nonmember_scores])) + 1)
  bound = elb.EpsilonLowerBound(
      pos_scores=member_scores, neg_scores=nonmember_scores,
      alpha=alpha / tests, two_sided_threshold=False)
  values = np.asarray(bound.compute_epsilon_lower_bound(METHODS[method], k=1),
                      dtype=float)
  values = values[np.isfinite(values)]
  return float(max(values.max(), 0.0)) if values.size else 0.0


def max_attainable_bound(canaries: int, alpha: float = 0.05,
                         method: str = "clopper-pearson") -> float:
  """The largest bound ``canaries`` canaries can ever show.

  That is the bound for perfectly separated (distinct) scores. A claimed ε
  above it can
  never fail this audit, whatever the engine does: the canary audit is then
  a sanity check only (the white-box step audit, ``attacks/step_audit.py``,
  is the one that can fail there).
  """
  half = canaries - canaries // 2
  # Distinct scores, as real losses are: the Bonferroni count is then the
  # one a real audit pays.
  return epsilon_lower_bound(1.0 + np.arange(half),
                             -1.0 - np.arange(canaries // 2), alpha, method)


@dataclasses.dataclass
class AuditResult:
  """The canary audit of one run.

  ``epsilon_lower_bound`` is the larger of the Clopper-Pearson bound and the
  one-run bound, each computed at confidence 1 - alpha/2, so it holds at
  1 - alpha. ``max_attainable_bound`` is the larger of their ceilings.
  """
  epsilon_lower_bound: float
  claimed_epsilon: Optional[float]
  alpha: float
  method: str
  canaries: int
  member_mean_score: float
  nonmember_mean_score: float
  # The bound perfectly separated canaries would give (see
  # ``max_attainable_bound``): the audit cannot fail above it.
  max_attainable_bound: Optional[float] = None
  included: Optional[int] = None
  clopper_pearson_lower_bound: Optional[float] = None
  one_run_lower_bound: Optional[float] = None
  one_run_delta: Optional[float] = None
  one_run_guesses: Optional[int] = None
  one_run_correct: Optional[int] = None

  @property
  def can_fail(self) -> Optional[bool]:
    if self.claimed_epsilon is None or self.max_attainable_bound is None:
      return None
    return self.max_attainable_bound > self.claimed_epsilon

  @property
  def passed(self) -> bool:
    return (self.claimed_epsilon is None
            or self.epsilon_lower_bound <= self.claimed_epsilon)

  def to_dict(self):
    return {**dataclasses.asdict(self), "passed": self.passed,
            "can_fail": self.can_fail}


def audit(scores: np.ndarray, canaries,
          claimed_epsilon: Optional[float], alpha: float = 0.05,
          method: str = "clopper-pearson", delta: float = 0.0) -> AuditResult:
  """Audits one run from its canary scores (aligned with ``canaries``).

  ``canaries`` is anything with a boolean ``included`` array, one entry per
  score (``data.canaries.Canaries``): which canaries were inserted.

  ``delta`` is the run's claimed δ, which the one-run bound accounts for
  (Clopper-Pearson ignores it).
  """
  scores = np.asarray(scores, dtype=float)
  inc = np.asarray(canaries.included, dtype=bool)
  m = len(scores)
  cp = epsilon_lower_bound(scores[inc], scores[~inc], alpha / 2, method)
  one = one_run_audit.audit(scores, inc, delta, alpha / 2)
  return AuditResult(
      epsilon_lower_bound=max(cp, one.epsilon_lower_bound),
      claimed_epsilon=claimed_epsilon, alpha=alpha, method=method,
      canaries=m, member_mean_score=_mean(scores[inc]),
      nonmember_mean_score=_mean(scores[~inc]),
      max_attainable_bound=max(
          max_attainable_bound(m, alpha / 2, method),
          one.max_attainable_bound),
      included=int(inc.sum()), clopper_pearson_lower_bound=cp,
      one_run_lower_bound=one.epsilon_lower_bound, one_run_delta=delta,
      one_run_guesses=one.guesses, one_run_correct=one.correct)


def _mean(x: np.ndarray) -> float:
  return float(x.mean()) if x.size else float("nan")


def check(result: AuditResult) -> None:
  """Raises AuditFailure if the lower bound exceeds the claimed ε."""
  if not result.passed:
    raise AuditFailure(
        f"PRIVACY AUDIT FAILED: the empirical lower bound ε ≥ "
        f"{result.epsilon_lower_bound:.3f} (confidence {1 - result.alpha:.0%}"
        f", the larger of {result.method} and the one-run estimator, "
        f"{result.canaries} canaries) exceeds the claimed "
        f"ε = {result.claimed_epsilon:.3f}. The DP engine or its accounting "
        "is broken; do not trust this run's ε.")
