"""RMIA: the relative membership inference attack (Zarifzadeh et al. 2024).

For a target model θ and a candidate x, the likelihood ratio against the
population is

  LR(x) = Pr(x | θ) / Pr(x),    Pr(x) = mean over reference models θ' of
                                         Pr(x | θ'),

with Pr(x | θ) the model's softmax probability of x's true label. RMIA
compares x with population samples z (never trained on by any model):

  score(x) = fraction of z with LR(x) / LR(z) > γ      (γ = 1 here).

* **online**: the reference models are trained on random halves that
  include x about half of the time (LiRA's keep matrix); Pr(x) averages all
  of them.
* **offline**: only reference models that did *not* train on x count, and
  Pr(x) ≈ ((1 + a) Pr_OUT(x) + (1 − a)) / 2, which corrects for the missing
  "in" models. ``a`` is calibrated without the target: one reference model
  is attacked with another (``calibrate_offline_a``), as ML Privacy Meter
  does with a pair of reference models. If none of the chosen references
  is OUT for x (possible with one reference), Pr_OUT(x) is recovered from
  the IN references through the same relation, Pr_IN = a Pr_OUT + (1 − a).

Population samples are OUT for every reference model, so Pr(z) uses every
reference (offline: through the same a-correction).
"""

from typing import Optional, Sequence

import numpy as np
from sklearn import metrics as skm

A_GRID = tuple(np.round(np.arange(0.0, 1.01, 0.1), 2))
_TINY = 1e-30


def true_class_probs(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Softmax probability of each row's true label (float64, stable)."""
  z = np.asarray(logits, dtype=np.float64)
  z = z - z.max(axis=1, keepdims=True)
  log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
  return np.exp(log_p[np.arange(len(z)), np.asarray(labels, dtype=int)])


def _pr_x(ref_x: np.ndarray, ref_in: np.ndarray, online: bool,
          a: float) -> np.ndarray:
  """Pr(x) for every candidate from [k, n] reference probabilities."""
  if online:
    return ref_x.mean(axis=0)
  out = ~ref_in
  n_out = out.sum(axis=0)
  mean_out = np.where(n_out > 0, (ref_x * out).sum(axis=0) /
                      np.maximum(n_out, 1), 0.0)
  if (n_out == 0).any():
    if a <= 0:
      raise ValueError("offline RMIA with a = 0 cannot recover Pr_OUT from "
                       "IN references; give more references.")
    mean_in = (ref_x * ref_in).sum(axis=0) / np.maximum(ref_in.sum(axis=0),
                                                        1)
    mean_out = np.where(n_out > 0, mean_out,
                        np.clip((mean_in - (1.0 - a)) / a, 0.0, None))
  return ((1.0 + a) * mean_out + (1.0 - a)) / 2.0


def scores(target_x: np.ndarray, ref_x: np.ndarray, ref_in: np.ndarray,
           target_z: np.ndarray, ref_z: np.ndarray, online: bool = True,
           a: float = 1.0, gamma: float = 1.0) -> np.ndarray:
  """RMIA membership scores (higher = more likely a member).

  Args:
    target_x: [n] Pr(x | target) of the candidates.
    ref_x: [k, n] Pr(x | reference model) of the candidates.
    ref_in: [k, n] whether each reference model trained on each candidate.
    target_z: [m] Pr(z | target) of the population samples.
    ref_z: [k, m] Pr(z | reference model).
    online: average every reference (online) or the OUT ones (offline).
    a: the offline correction (ignored online).
    gamma: the ratio threshold.

  Returns:
    [n] scores in [0, 1].
  """
  ref_x = np.atleast_2d(np.asarray(ref_x, dtype=np.float64))
  ref_in = np.atleast_2d(np.asarray(ref_in, dtype=bool))
  ref_z = np.atleast_2d(np.asarray(ref_z, dtype=np.float64))
  if ref_x.shape != ref_in.shape or ref_x.shape[0] != ref_z.shape[0]:
    raise ValueError("reference arrays disagree: ref_x "
                     f"{ref_x.shape}, ref_in {ref_in.shape}, ref_z "
                     f"{ref_z.shape}.")
  if not 0.0 <= a <= 1.0:
    raise ValueError(f"a must be in [0, 1]; got {a}.")
  lr_x = np.asarray(target_x, np.float64) / np.maximum(
      _pr_x(ref_x, ref_in, online, a), _TINY)
  pr_z = ref_z.mean(axis=0) if online else \
      ((1.0 + a) * ref_z.mean(axis=0) + (1.0 - a)) / 2.0
  lr_z = np.asarray(target_z, np.float64) / np.maximum(pr_z, _TINY)
  # Pr_z[LR(x) / LR(z) > gamma] = Pr_z[LR(z) < LR(x) / gamma]: sort once.
  sorted_z = np.sort(lr_z)
  return np.searchsorted(sorted_z, lr_x / gamma, side="left") / len(lr_z)


def calibrate_offline_a(pair_x: np.ndarray, pair_in: np.ndarray,
                        ref_x: np.ndarray, ref_in: np.ndarray,
                        pair_z: np.ndarray, ref_z: np.ndarray,
                        grid: Sequence[float] = A_GRID) -> float:
  """The ``a`` whose offline RMIA best attacks one reference model.

  A reference model (``pair_*``, with its known membership ``pair_in``) is
  attacked with one other reference model (``ref_*``, [n] and [m]); the
  ``a`` of highest AUC wins (ties: the smaller a). The target model is not
  used.
  """
  best, best_auc = None, -1.0
  for a in grid:
    if a <= 0 and (np.asarray(ref_in, bool)).any():
      continue  # a = 0 cannot recover Pr_OUT for IN candidates.
    s = scores(pair_x, ref_x[None], np.asarray(ref_in, bool)[None], pair_z,
               ref_z[None], online=False, a=float(a))
    auc = skm.roc_auc_score(np.asarray(pair_in, bool), s)
    if auc > best_auc + 1e-12:
      best, best_auc = float(a), auc
  return best


def reference_models(target: int, num_models: int, k: int,
                     seed: Optional[int] = 0) -> np.ndarray:
  """``k`` reference models for ``target``: the others, in a seeded order."""
  others = np.array([m for m in range(num_models) if m != target])
  if k > len(others):
    raise ValueError(f"{k} reference models requested; only {len(others)} "
                     "models besides the target.")
  rng = np.random.default_rng(None if seed is None else seed + target)
  return np.sort(rng.permutation(others)[:k])
