"""Membership inference through TF-Privacy's ``membership_inference_attack``.

Members are the examples a model was trained on (after any removal),
non-members held-out examples. Every attack is run separately so that each
reports its wall time; TF-Privacy's trained attacks (LR, MLP, RF, KNN)
grid-search scikit-learn models and dominate the cost, so a joblib backend
(``backend="loky"`` or ``"threading"``) parallelises them and
``max_examples`` bounds the sets they see.

``backend="pooled"`` runs the trained attacks through ``pooled`` instead:
the same procedure with every fit in one process pool and the random
forest's grid read off shared forests (2.9x faster than TF-Privacy with
loky at paper scale on 2 cores; see that module and
``benchmarks/attack_suite.py``).

TF-Privacy draws its attacker splits from NumPy's global RNG: ``run`` seeds
it, so results are reproducible (with a joblib backend, its MLP and forest
draw from the workers' unseeded RNGs and are not; ``pooled`` seeds them).
"""

import dataclasses
import sys
import time
from typing import Dict, Optional, Sequence

import numpy as np
import tqdm
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import data_structures as ds  # noqa: E501 (import)
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import membership_inference_attack as mia  # noqa: E501 (import)

from prifa_tf import errors
from prifa_tf.attacks import pooled

ATTACKS = {
    "threshold": ds.AttackType.THRESHOLD_ATTACK,
    "threshold_entropy": ds.AttackType.THRESHOLD_ENTROPY_ATTACK,
    "lr": ds.AttackType.LOGISTIC_REGRESSION,
    "mlp": ds.AttackType.MULTI_LAYERED_PERCEPTRON,
    "rf": ds.AttackType.RANDOM_FOREST,
    "knn": ds.AttackType.K_NEAREST_NEIGHBORS,
}
ALL_ATTACKS = tuple(ATTACKS)
# joblib backends TF-Privacy takes, and our pooled engine.
BACKENDS = ("loky", "threading", "multiprocessing", "pooled")
BACKEND_HELP = ("Trained attacks: a joblib backend for TF-Privacy's, or "
                "'pooled' (the same procedure, every fit in one pool; the fast "
                "choice at paper scale). Default: TF-Privacy, one thread.")


@dataclasses.dataclass
class MembershipData:
  """Model outputs on members and non-members, with their example ids."""
  logits_train: np.ndarray
  labels_train: np.ndarray
  ids_train: np.ndarray
  logits_test: np.ndarray
  labels_test: np.ndarray
  ids_test: np.ndarray

  def subsample(self, max_examples: Optional[int], seed: int,
                balanced: bool = False):
    """At most ``max_examples`` members and non-members each (seeded).

    Args:
      max_examples: bound on each side (None or 0: no bound).
      seed: which examples are kept.
      balanced: also cut the larger side to the smaller side's size, so
        members and non-members are equally many.
    """
    limit = max_examples or None
    if balanced:
      smaller = min(len(self.ids_train), len(self.ids_test))
      limit = min(limit, smaller) if limit else smaller
    if not limit:
      return self
    rng = np.random.default_rng(seed)

    def pick(n):
      return np.sort(rng.choice(n, min(n, limit), replace=False))
    a, b = pick(len(self.ids_train)), pick(len(self.ids_test))
    return MembershipData(self.logits_train[a], self.labels_train[a],
                          self.ids_train[a], self.logits_test[b],
                          self.labels_test[b], self.ids_test[b])

  def attribute(self, column: int) -> "MembershipData":
    """One label of multi-label data as a two-class problem.

    The logit z of the label becomes the pair [0, z], whose softmax is
    (1 - sigmoid(z), sigmoid(z)): TF-Privacy then sees the model's real
    probabilities and the attribute's 0/1 label.
    """
    if self.labels_train.ndim != 2:
      raise ValueError("attribute() needs multi-label data.")
    def pair(z):
      z = np.asarray(z)[:, column]
      return np.stack([np.zeros_like(z), z], axis=-1)
    return MembershipData(pair(self.logits_train),
                          self.labels_train[:, column], self.ids_train,
                          pair(self.logits_test), self.labels_test[:, column],
                          self.ids_test)

  def attack_input(self) -> ds.AttackInputData:
    return ds.AttackInputData(
        logits_train=self.logits_train, logits_test=self.logits_test,
        labels_train=self.labels_train.astype(np.int64),
        labels_test=self.labels_test.astype(np.int64))


@dataclasses.dataclass
class AttackOutcome:
  """One attack's figures on one model (see ``run``)."""
  name: str
  auc: float
  attacker_advantage: float
  ppv: float
  epsilon_lower_bound: float
  wall_time_s: float
  # Membership score of every member, aligned with MembershipData.ids_train,
  # and of every non-member, aligned with ids_test.
  member_scores: np.ndarray
  nonmember_scores: np.ndarray
  # TF-Privacy's ROC curve of the attack (the one its AUC is computed on:
  # the attacker's held-out split for the trained attacks), and the number
  # of non-members in it (an FPR below 1 / that is read at FPR 0).
  roc_fpr: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
  roc_tpr: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0))
  roc_nonmembers: int = 0

  def tpr_at_fpr(self, target: float) -> float:
    """Highest TPR on the ROC curve at an FPR of at most ``target``."""
    return tpr_at_fpr(self.roc_fpr, self.roc_tpr, target)

  def row(self) -> Dict[str, float]:
    return {"attack": self.name, "auc": self.auc,
            "tpr_at_0.1%_fpr": self.tpr_at_fpr(0.001),
            "tpr_at_1%_fpr": self.tpr_at_fpr(0.01),
            "roc_nonmembers": self.roc_nonmembers,
            "attacker_advantage": self.attacker_advantage, "ppv": self.ppv,
            "epsilon_lower_bound": self.epsilon_lower_bound,
            "wall_time_s": self.wall_time_s}


def tpr_at_fpr(fpr, tpr, target: float) -> float:
  """Max TPR over the points of a ROC curve with FPR <= ``target``."""
  fpr, tpr = np.asarray(fpr, float), np.asarray(tpr, float)
  ok = fpr <= target
  return float(tpr[ok].max()) if ok.any() else 0.0


def _epsilon_lower_bound(result) -> float:
  bounds = result.get_epsilon_lower_bound()
  values = np.asarray(bounds, dtype=float).ravel() if bounds is not None \
      else np.array([])
  values = values[np.isfinite(values)]
  return float(values.max()) if values.size else 0.0


def _roc_negatives(result) -> int:
  """Non-members in TF-Privacy's ROC: 1 / the smallest nonzero FPR step."""
  fpr = np.unique(np.asarray(result.roc_curve.fpr, dtype=float))
  steps = np.diff(fpr)
  steps = steps[steps > 0]
  return int(round(1.0 / steps.min())) if steps.size else 0


def run(data: MembershipData, attacks: Sequence[str] = ALL_ATTACKS,
        backend: Optional[str] = None, seed: int = 0,
        balance: bool = True) -> Dict[str, AttackOutcome]:
  """Runs the named attacks; returns an outcome per attack.

  Args:
    data: model outputs on members and non-members.
    attacks: names from ``ALL_ATTACKS``.
    backend: joblib backend for TF-Privacy's trained attacks (None: one
      thread), or "pooled": ``pooled.run`` on every core. Pooled outcomes
      share one wall time, that of all trained attacks together.
    seed: seeds NumPy's global RNG, which TF-Privacy uses.
    balance: balance the attacker's member/non-member training sets.

  Raises:
    ValueError: unknown attack name or backend.
  """
  unknown = [a for a in attacks if a not in ATTACKS]
  if unknown:
    raise errors.BadInputError(
        f"Unknown attacks {unknown}; choose from {ALL_ATTACKS}.")
  if backend is not None and backend not in BACKENDS:
    raise errors.BadInputError(
        f"Unknown backend {backend!r}; choose from {BACKENDS}.")
  attack_input = data.attack_input()
  requested, out = list(attacks), {}
  if backend == "pooled":
    trained = [a for a in attacks if a in pooled.TRAINED]
    t0 = time.perf_counter()
    results = pooled.run(attack_input, trained, seed=seed, balance=balance)
    elapsed = time.perf_counter() - t0
    for name in trained:
      out[name] = _outcome(name, results[name], elapsed, data)
    attacks = [a for a in attacks if a not in trained]
    backend = None
  # On a terminal: which attack runs, and for how long (the trained ones
  # take minutes); elsewhere each outcome carries its wall time.
  bar = tqdm.tqdm(attacks, desc="membership inference", unit="attack",
                  file=sys.stderr, disable=None, leave=False)
  for name in bar:
    bar.set_postfix_str(name)
    np.random.seed(seed)
    t0 = time.perf_counter()
    results = mia.run_attacks(attack_input, attack_types=[ATTACKS[name]],
                              balance_attacker_training=balance,
                              backend=backend)
    elapsed = time.perf_counter() - t0
    if not results.single_attack_results:
      raise ValueError(f"Attack {name} could not run (too few examples).")
    out[name] = _outcome(name, results.single_attack_results[0], elapsed,
                         data)
  return {name: out[name] for name in requested}


def _outcome(name, r, elapsed, data) -> AttackOutcome:
  scores = np.asarray(r.membership_scores_train, dtype=float)
  if len(scores) != len(data.ids_train):
    raise AssertionError("TF-Privacy returned member scores of another "
                         "length; ids would be misaligned.")
  return AttackOutcome(
      name=name, auc=float(r.get_auc()),
      attacker_advantage=float(r.get_attacker_advantage()),
      ppv=float(r.get_ppv()),
      epsilon_lower_bound=_epsilon_lower_bound(r),
      wall_time_s=elapsed, member_scores=scores,
      nonmember_scores=np.asarray(r.membership_scores_test, dtype=float),
      roc_fpr=np.asarray(r.roc_curve.fpr, dtype=float),
      roc_tpr=np.asarray(r.roc_curve.tpr, dtype=float),
      roc_nonmembers=_roc_negatives(r))


def membership_probabilities(data: MembershipData):
  """Song & Mittal privacy risk scores.

  Returns:
    (scores of members in ids_train order, of non-members in ids_test order).
  """
  res = mia.run_membership_probability_analysis(data.attack_input())
  r = res.membership_prob_results[0]
  return (np.asarray(r.train_membership_probs),
          np.asarray(r.test_membership_probs))


def top_risk_ids(ids: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
  """The ``k`` ids with the highest risk score (ties: smaller id first)."""
  order = np.lexsort((ids, -np.asarray(scores)))
  return np.asarray(ids)[order[:k]]


def headline(outcomes: Dict[str, AttackOutcome]) -> Dict[str, float]:
  """The paper's figures: MLP AUC and the maximum AUC over attacks."""
  out = {"max_auc": max(o.auc for o in outcomes.values()),
         "max_auc_attack": max(outcomes.values(), key=lambda o: o.auc).name,
         # The strongest attack at low FPR (Carlini et al. 2022).
         "max_tpr_at_1%_fpr": max(o.tpr_at_fpr(0.01)
                                  for o in outcomes.values()),
         "max_tpr_at_0.1%_fpr": max(o.tpr_at_fpr(0.001)
                                    for o in outcomes.values())}
  if "mlp" in outcomes:
    out["mlp_auc"] = outcomes["mlp"].auc
  return out
