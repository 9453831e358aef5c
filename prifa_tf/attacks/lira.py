"""Likelihood-ratio membership inference (LiRA, Carlini et al. 2022).

N models are trained on random halves of a candidate pool. Carlini et al.'s
code draws a balanced keep matrix (every example in exactly half of the
models, ``keep_matrix``); attacking each model with the *others* as
references (leave-one-out) then ties the references' in/out counts to the
target's membership (a member is in N/2 - 1 of the others, a non-member in
N/2), which biases the scores at few models. ``independent_keep`` draws
every entry independently, so the references say nothing about the
target's membership; a candidate without an "in" (online) or "out"
reference is then left unscored (NaN), and since that depends on the
references alone, leaving it out biases nothing. For a target
model, each example's statistic (the logit-scaled confidence of its true
label, for each query augmentation) is compared with the statistics of the
shadow models that did and did not train on it (TF-Privacy's
``advanced_mia.calculate_statistic`` and ``compute_score_lira``):

- online: Gaussians fitted to both the "in" and "out" shadow statistics;
- offline: the "out" Gaussian alone, by default with Carlini et al.'s
  one-sided test (their Algorithm 1: Λ = Pr[Z ≤ observed], Z ~ the "out"
  Gaussian, so only a confidence *above* the out mean points to a member).
  ``offline_test="two_sided"`` is what the original LiRA code and
  TF-Privacy compute (the density of the out Gaussian, negated), which also
  scores a confidence far *below* the out mean as a member; it is kept for
  comparison with numbers published from that code;
- per-example or global (``fix_variance``) variance.
"""

import warnings
from typing import Dict, Sequence

import numpy as np
from scipy import stats as scipy_stats
from sklearn import metrics as skm
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import advanced_mia as amia  # noqa: E501 (import)

from prifa_tf.attacks import mia


def keep_matrix(num_models: int, n: int, seed: int = 0) -> np.ndarray:
  """[num_models, n] booleans; each column has exactly num_models // 2 True."""
  if num_models < 2 or num_models % 2:
    raise ValueError(f"num_models must be even and >= 2; got {num_models}.")
  rng = np.random.default_rng(seed)
  order = np.argsort(rng.random((num_models, n)), axis=0)
  return order < num_models // 2


def independent_keep(num_models: int, n: int, seed: int = 0) -> np.ndarray:
  """[num_models, n] booleans, each True with probability 1/2 on its own."""
  if num_models < 2:
    raise ValueError(f"num_models must be >= 2; got {num_models}.")
  return np.random.default_rng(seed).random((num_models, n)) < 0.5


def statistics(logits_per_query: Sequence[np.ndarray],
               labels: np.ndarray) -> np.ndarray:
  """[n, k] logit-scaled confidences, one column per query augmentation."""
  return np.stack([amia.calculate_statistic(np.array(z, dtype=np.float64),
                                            labels, is_logits=True,
                                            option="logit")
                   for z in logits_per_query], axis=1)


OFFLINE_TESTS = ("one_sided", "two_sided")


def one_sided_offline(stat_target: np.ndarray, stat_out: Sequence[np.ndarray],
                      fix_variance: bool = False) -> np.ndarray:
  """Carlini et al.'s offline test: mean over queries of log Pr[Z ≤ x].

  The out Gaussian is fitted as TF-Privacy's ``compute_score_lira`` fits it
  (median over shadows, std per example or, with ``fix_variance``, over all
  examples; NaN replaced by the column mean). Higher = more likely a
  member. A zero fitted std (a single out reference) is replaced by the
  column mean of the others'; where no spread can be fitted at all, the
  score is NaN: unscored.
  """
  avg = np.array([np.nanmedian(s, axis=0) for s in stat_out])
  amia.replace_nan_with_column_mean(avg)
  # A zero std (a single out reference: no spread to fit) is no fit: per
  # example it takes the column mean of the others' (as TF-Privacy treats a
  # NaN); where no spread can be fitted at all (one reference, or every
  # candidate with one) the test is undefined: NaN, unscored.
  if fix_variance:
    std = np.nanstd(np.concatenate([s - m[np.newaxis]
                                    for s, m in zip(stat_out, avg)]))
    std = std if std > 0 else np.nan
  else:
    std = np.array([np.nanstd(s, axis=0) for s in stat_out])
    std[std == 0] = np.nan
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
      warnings.simplefilter("ignore", RuntimeWarning)  # All-NaN columns.
      amia.replace_nan_with_column_mean(std)
  return scipy_stats.norm.logcdf(np.asarray(stat_target), avg,
                                 std).mean(axis=1)


def scores(stats: np.ndarray, keep: np.ndarray, target: int,
           online: bool = True, fix_variance: bool = False,
           offline_test: str = "one_sided") -> np.ndarray:
  """Membership scores of every pool example for model ``target``.

  Args:
    stats: [num_models, n, k] statistics of every model.
    keep: [num_models, n] keep matrix.
    target: the attacked model; the others are its shadows.
    online: fit "in" and "out" Gaussians (else "out" only).
    fix_variance: one variance for all scored examples.
    offline_test: "one_sided" (Carlini et al.'s Algorithm 1, the default)
      or "two_sided" (the original code's and TF-Privacy's density score).

  Returns:
    [n] scores, higher = more likely a member; NaN for an example without
    an "out" shadow (or, online, an "in" one).
  """
  if offline_test not in OFFLINE_TESTS:
    raise ValueError(f"offline_test must be one of {OFFLINE_TESTS}; got "
                     f"{offline_test!r}.")
  shadows = np.array([m for m in range(stats.shape[0]) if m != target])
  ins = keep[shadows].sum(axis=0)
  scored = ins < len(shadows)
  if online:
    scored &= ins > 0
  out = np.full(stats.shape[1], np.nan)
  idx = np.flatnonzero(scored)
  if not len(idx):
    return out
  stat_in = [stats[shadows[keep[shadows, i]], i] for i in idx]
  stat_out = [stats[shadows[~keep[shadows, i]], i] for i in idx]
  if not online and offline_test == "one_sided":
    out[idx] = one_sided_offline(stats[target][idx], stat_out, fix_variance)
    return out
  raw = amia.compute_score_lira(stats[target][idx], stat_in, stat_out,
                                option="both" if online else "out",
                                fix_variance=fix_variance)
  out[idx] = -raw  # TF-Privacy: members get small values.
  return out


def metrics(is_member: np.ndarray, scores_: np.ndarray) -> Dict[str, float]:
  """AUC, balanced accuracy, TPR at 0.1% and 1% FPR, and the scored share.

  Examples with a NaN score (no reference to score them) are left out;
  ``scored`` is the share kept. All NaN, or one class only: NaN metrics.
  """
  is_member = np.asarray(is_member, dtype=bool)
  scores_ = np.asarray(scores_, dtype=np.float64)
  ok = np.isfinite(scores_)
  nan = float("nan")
  if not ok.any() or is_member[ok].all() or not is_member[ok].any():
    return {"auc": nan, "balanced_accuracy": nan, "tpr_at_0.1%_fpr": nan,
            "tpr_at_1%_fpr": nan, "scored": float(ok.mean())}
  fpr, tpr, _ = skm.roc_curve(is_member[ok], scores_[ok])
  return {"auc": float(skm.roc_auc_score(is_member[ok], scores_[ok])),
          "balanced_accuracy": float(np.max(1 - (fpr + (1 - tpr)) / 2)),
          "tpr_at_0.1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.001),
          "tpr_at_1%_fpr": mia.tpr_at_fpr(fpr, tpr, 0.01),
          "scored": float(ok.mean())}
