"""White-box audit of one privatisation step: a lower bound on the run's ε.

The canary audit (``privacy/audit.py``) looks only at the trained model, so
at m canaries it can never show more than a small ε (3.1 at m=500) and every
run with a larger claimed ε passes, broken or not. This audit instead
measures the two quantities that the accountant's ε rests on, on the real
engine, model, per-example strategy and distribution strategy, and composes
what it measured:

1. **Sensitivity**, without statistics. A batch D with one empty slot and
   its neighbour D' = D plus a crafted canary (an input far out of
   distribution, whose loss gradient is much larger than C) go through the
   engine's accumulation as they would in training. ``‖sum(D') - sum(D)‖``
   is the engine's real sensitivity for that pair, which must not exceed C.
2. **Noise.** From one accumulation of D', many releases through the
   engine's own release path, each keyed as the Trainer keys a step's noise
   (``privacy.noise.step_seed(secret, step)``), over two secrets drawn
   from OS entropy and consecutive steps. It checks:

   * the std of the noise per coordinate (a chi-square interval per
     coordinate, Bonferroni over all of them: a coordinate released with
     no noise fails), per variable and pooled (within 3% of σC);
   * independence across steps (same secret, consecutive steps) and
     across secrets (same step): the correlation of two noise vectors of
     D coordinates is about N(0, 1/D) when they are independent, 1 when
     the noise repeats or ignores the secret;
   * along the unit direction u of ``sum(D') - sum(D)`` (the direction
     that matters for this pair), a one-sided chi-square upper bound on
     the noise's std at confidence 1 - α.
3. **Composition.** The pair is a Gaussian mechanism with noise multiplier
   at most ``std_upper / sensitivity``. Composed with the run's Poisson rate
   q and its T steps through dp_accounting's *optimistic* privacy-loss
   distribution, this gives a lower bound on ε at the run's δ (valid when
   the noise is Gaussian and independent of the data, and the batches are
   Poisson sampled, as the accountant assumes).

The audit fails when that bound exceeds the claimed ε, and flags a
mis-implementation when the sensitivity exceeds C, the noise is off by
more than 3% in either direction (too much noise costs accuracy, not
privacy, but it is still wrong) pooled or in any variable, any coordinate's
noise std is outside its interval, or noise repeats across steps or
secrets. The composition alone is loose (at σ = 3 the optimistic PLD ε is
5.3 against an RDP claim of 7.1, so it trips only at about 15% too little
noise): the per-variable, per-coordinate and independence checks are what
catch a partial or repeated noise.
"""

import dataclasses
import logging
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

from prifa_tf.privacy import noise as noise_lib

NOISE_TOLERANCE = 0.03
SENSITIVITY_TOLERANCE = 1e-3
# False-alarm rate of each family of noise checks (per coordinate, across
# steps, across secrets) on a sound engine: a failed audit must mean a bug.
CHECK_ALPHA = 1e-6


@dataclasses.dataclass
class StepAuditResult:
  """What the step audit measured, beside what was claimed."""
  claimed_epsilon: float
  epsilon_lower_bound: float
  variable_noise_ratios: List[float]  # per variable: std / (sigma C)
  coordinates_out_of_interval: int
  coordinate_interval: Tuple[float, float]  # allowed std / (sigma C)
  max_correlation_across_steps: float
  max_correlation_across_secrets: float
  correlation_bound: float
  l2_norm_clip: float
  measured_sensitivity: float
  noise_multiplier: float
  noise_ratio: float              # pooled noise std / (sigma C)
  directional_noise_ratio: float  # along the canary's difference
  directional_noise_ratio_upper: float  # its 1 - alpha upper bound
  effective_noise_multiplier_upper: float
  sampling_rate: float
  steps: int
  delta: float
  trials: int
  alpha: float
  problems: List[str]

  @property
  def misimplemented(self) -> bool:
    return bool(self.problems)

  @property
  def passed(self) -> bool:
    return (not self.problems
            and self.epsilon_lower_bound <= self.claimed_epsilon)

  def to_dict(self):
    return {**dataclasses.asdict(self), "passed": self.passed,
            "misimplemented": self.misimplemented}

  def summary(self) -> str:
    return (f"step audit: claimed ε = {self.claimed_epsilon:.3f}, lower "
            f"bound ε ≥ {self.epsilon_lower_bound:.3f} "
            f"({1 - self.alpha:.0%} confidence, {self.trials} trials); "
            f"sensitivity {self.measured_sensitivity / self.l2_norm_clip:.4f}"
            f"·C, noise {self.noise_ratio:.4f}× σC (along the canary "
            f"{self.directional_noise_ratio:.3f}×; per variable "
            f"{min(self.variable_noise_ratios):.3f}–"
            f"{max(self.variable_noise_ratios):.3f}×; correlation across "
            f"steps {self.max_correlation_across_steps:.3f}, secrets "
            f"{self.max_correlation_across_secrets:.3f}): "
            + ("passed" if self.passed else "FAILED")
            + ("" if not self.problems else " — " + "; ".join(self.problems)))


def epsilon_of_gaussian_steps(noise_multiplier: float, sampling_rate: float,
                              steps: int, delta: float,
                              discretization: float = 2e-4) -> float:
  """Optimistic (lower) PLD ε of T Poisson-subsampled Gaussian steps."""
  # pylint: disable=g-import-not-at-top
  from dp_accounting.pld import privacy_loss_distribution as pld_lib
  if noise_multiplier <= 0:
    return float("inf")
  previous = logging.getLogger().level
  logging.getLogger().setLevel(logging.ERROR)  # Its "connect-the-dots" note.
  try:
    pld = pld_lib.from_gaussian_mechanism(
        standard_deviation=noise_multiplier, sensitivity=1.0,
        sampling_prob=sampling_rate, pessimistic_estimate=False,
        value_discretization_interval=discretization, use_connect_dots=False)
    return float(pld.self_compose(int(steps)).get_epsilon_for_delta(delta))
  finally:
    logging.getLogger().setLevel(previous)


def _flat(arrays) -> np.ndarray:
  return np.concatenate([np.asarray(a, np.float64).ravel() for a in arrays])


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
  return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-300))


def _sum_of(engine, x, y, weights) -> np.ndarray:
  engine.reset()
  engine.accumulate(x, y, weights)
  out = _flat(engine.current_sum())
  return out


def audit_step(engine, x, y, weights, slot: int,
               canaries: Sequence[Tuple[np.ndarray, np.ndarray]],
               claimed_epsilon: float, l2_norm_clip: float,
               noise_multiplier: float, sampling_rate: float, steps: int,
               delta: float, trials: int = 2000, alpha: float = 0.05,
               seed: Optional[int] = None) -> StepAuditResult:
  """Audits the engine's privatisation of one logical batch.

  Args:
    engine: a ``GradientEngine`` (or anything with ``reset``, ``accumulate``,
      ``current_sum`` and ``noised_sum``), built as the run builds it.
    x, y, weights: one physical batch as the engine takes it: rows with K =
      ``engine.views`` contiguous views per example, one weight per example
      (0 on ``slot``).
    slot: the index of the empty example slot.
    canaries: (rows [K, ...], labels [K, ...]) pairs, each filling the slot.
    claimed_epsilon: the ε the run reports.
    l2_norm_clip, noise_multiplier: the run's claimed C and σ.
    sampling_rate, steps, delta: the run's q, T and δ.
    trials: releases of one accumulation (half under each of two secrets,
      at consecutive steps).
    alpha: 1 - confidence of the noise bounds.
    seed: seeds the two secrets (default: OS entropy).
  """
  x, y, weights = (np.array(x), np.array(y), np.array(weights, np.float32))
  k = int(getattr(engine, "views", 1))
  start, stop = slot * k, (slot + 1) * k
  if weights[slot] != 0:
    raise ValueError("the slot's weight must be 0 (an empty slot).")
  base = _sum_of(engine, x, y, weights)
  best, best_diff, best_input = -1.0, None, None
  for rows, labels in canaries:
    x1, y1, w1 = x.copy(), y.copy(), weights.copy()
    x1[start:stop], y1[start:stop], w1[slot] = rows, labels, 1.0
    diff = _sum_of(engine, x1, y1, w1) - base
    norm = float(np.linalg.norm(diff))
    if norm > best:
      best, best_diff, best_input = norm, diff, (x1, y1, w1)
  # Noise: many releases of sum(D'), from one accumulation, keyed as the
  # Trainer keys them: two secrets, consecutive steps.
  engine.reset()
  engine.accumulate(*best_input)
  total = _flat(engine.current_sum())
  sizes = [int(np.size(a)) for a in engine.current_sum()]
  direction = best_diff / best if best > 0 else None
  rng = np.random.default_rng(seed)
  secrets = [int(v) for v in rng.integers(1, 2**62, size=2)] if \
      seed is not None else [int.from_bytes(os.urandom(8), "little") >> 2
                             for _ in range(2)]
  steps_drawn = max(trials // len(secrets), 2)
  coordinate_squares = np.zeros_like(total)
  along, across_steps, across_secrets = [], [], []
  previous = [None] * len(secrets)
  for t in range(steps_drawn):
    this_step = []
    for i, secret in enumerate(secrets):
      z = _flat(engine.noised_sum(noise_lib.step_seed(secret, t))) - total
      coordinate_squares += z * z
      if direction is not None:
        along.append(float(z @ direction))
      if previous[i] is not None:
        across_steps.append(_correlation(z, previous[i]))
      previous[i] = z
      this_step.append(z)
    across_secrets.append(_correlation(this_step[0], this_step[1]))
  engine.reset()
  count = steps_drawn * len(secrets)
  std_claimed = l2_norm_clip * noise_multiplier
  variance = coordinate_squares / count / std_claimed ** 2
  ratio = float(np.sqrt(np.mean(variance)))
  bounds = np.cumsum([0] + sizes)
  variable_ratios = [float(np.sqrt(np.mean(variance[a:b])))
                     for a, b in zip(bounds[:-1], bounds[1:])]
  # Per coordinate: count * var / sigma^2 ~ chi2(count); Bonferroni.
  tail = CHECK_ALPHA / (2 * total.size)
  low = float(np.sqrt(stats.chi2.ppf(tail, count) / count))
  high = float(np.sqrt(stats.chi2.ppf(1 - tail, count) / count))
  std_ratio = np.sqrt(variance)
  outside = int(np.sum((std_ratio < low) | (std_ratio > high)))
  # Independence: corr ~ N(0, 1/D); Bonferroni over every pair checked.
  pairs = len(across_steps) + len(across_secrets)
  corr_bound = float(stats.norm.ppf(1 - CHECK_ALPHA / (2 * pairs)) /
                     np.sqrt(total.size))
  max_steps = float(np.max(np.abs(across_steps)))
  max_secrets = float(np.max(np.abs(across_secrets)))
  along = np.asarray(along)
  if along.size:
    dir_ratio = float(np.sqrt(np.mean(along ** 2))) / std_claimed
    dir_upper = dir_ratio * float(np.sqrt(
        along.size / stats.chi2.ppf(alpha, along.size)))
  else:
    dir_ratio = dir_upper = float("nan")
  problems = []
  if best > l2_norm_clip * (1 + SENSITIVITY_TOLERANCE):
    problems.append(f"sensitivity {best / l2_norm_clip:.4f}·C exceeds C "
                    "(a clipping bug)")
  elif best < l2_norm_clip * (1 - SENSITIVITY_TOLERANCE):
    problems.append(f"the canary moved the sum by only {best:.4f} < C: "
                    "over-clipping, or a canary too weak to measure C")
  if abs(ratio - 1) > NOISE_TOLERANCE:
    problems.append(f"noise std is {ratio:.4f}× the claimed σC "
                    f"(tolerance ±{NOISE_TOLERANCE:.0%})")
  for i, (r, size) in enumerate(zip(variable_ratios, sizes)):
    # A variable's ratio is known to about 1/sqrt(2 count size).
    allowed = max(NOISE_TOLERANCE, 5 / np.sqrt(2 * count * size))
    if abs(r - 1) > allowed:
      problems.append(f"variable {i} ({size} coordinates): noise std "
                      f"{r:.4f}× σC (tolerance ±{allowed:.1%})")
  if outside:
    problems.append(f"{outside} coordinates have a noise std outside "
                    f"[{low:.3f}, {high:.3f}]× σC (e.g. released without "
                    "noise)")
  if max_steps > corr_bound:
    problems.append(f"noise repeats across steps (correlation "
                    f"{max_steps:.3f} > {corr_bound:.3f})")
  if max_secrets > corr_bound:
    problems.append(f"noise does not depend on the secret seed (correlation "
                    f"across secrets {max_secrets:.3f} > {corr_bound:.3f})")
  if best <= 0:
    sigma_upper, eps_lower = float("inf"), 0.0
  else:
    sigma_upper = dir_upper * std_claimed / best
    eps_lower = epsilon_of_gaussian_steps(sigma_upper, sampling_rate, steps,
                                          delta)
  return StepAuditResult(
      claimed_epsilon=float(claimed_epsilon), epsilon_lower_bound=eps_lower,
      variable_noise_ratios=variable_ratios,
      coordinates_out_of_interval=outside, coordinate_interval=(low, high),
      max_correlation_across_steps=max_steps,
      max_correlation_across_secrets=max_secrets,
      correlation_bound=corr_bound,
      l2_norm_clip=float(l2_norm_clip), measured_sensitivity=best,
      noise_multiplier=float(noise_multiplier), noise_ratio=ratio,
      directional_noise_ratio=dir_ratio,
      directional_noise_ratio_upper=dir_upper,
      effective_noise_multiplier_upper=sigma_upper,
      sampling_rate=float(sampling_rate), steps=int(steps),
      delta=float(delta), trials=int(count), alpha=float(alpha),
      problems=problems)
