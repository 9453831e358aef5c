"""White-box audit of one privatisation step: a lower bound on the run's ε.

The canary audit (``attacks/audit.py``) looks only at the trained model, so
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
2. **Noise.** From one accumulation of D', many fresh-noise releases
   (``GradientEngine.noised_sum``). Along the unit direction u of
   ``sum(D') - sum(D)`` (the direction that matters for this pair), the
   noise's std gets a one-sided chi-square upper bound at confidence 1 - α.
   The pooled per-coordinate std is reported beside it (it is precise:
   millions of samples).
3. **Composition.** The pair is a Gaussian mechanism with noise multiplier
   at most ``std_upper / sensitivity``. Composed with the run's Poisson rate
   q and its T steps through dp_accounting's *optimistic* privacy-loss
   distribution, this gives a lower bound on ε at the run's δ (valid when
   the noise is Gaussian and independent of the data, and the batches are
   Poisson sampled, as the accountant assumes).

The audit fails when that bound exceeds the claimed ε, and flags a
mis-implementation when the sensitivity exceeds C, or the noise is off by
more than 3% in either direction (too much noise costs accuracy, not
privacy, but it is still wrong).
"""

import dataclasses
import logging
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np
from scipy import stats

NOISE_TOLERANCE = 0.03
SENSITIVITY_TOLERANCE = 1e-3


@dataclasses.dataclass
class StepAuditResult:
  """What the step audit measured, beside what was claimed."""
  claimed_epsilon: float
  epsilon_lower_bound: float
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
            f"{self.directional_noise_ratio:.3f}×): "
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
    trials: fresh-noise releases of one accumulation.
    alpha: 1 - confidence of the noise bound.
    seed: noise seed of the trials (default: OS entropy).
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
  # Noise: many releases of sum(D'), from one accumulation.
  engine.reset()
  engine.accumulate(*best_input)
  total = _flat(engine.current_sum())
  direction = best_diff / best if best > 0 else None
  if seed is None:
    seed = int.from_bytes(os.urandom(7), "little")
  squares, count, along = 0.0, 0, []
  for t in range(trials):
    z = _flat(engine.noised_sum((seed, t))) - total
    squares += float(z @ z)
    count += z.size
    if direction is not None:
      along.append(float(z @ direction))
  engine.reset()
  std_claimed = l2_norm_clip * noise_multiplier
  ratio = float(np.sqrt(squares / count)) / std_claimed
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
  if best <= 0:
    sigma_upper, eps_lower = float("inf"), 0.0
  else:
    sigma_upper = dir_upper * std_claimed / best
    eps_lower = epsilon_of_gaussian_steps(sigma_upper, sampling_rate, steps,
                                          delta)
  return StepAuditResult(
      claimed_epsilon=float(claimed_epsilon), epsilon_lower_bound=eps_lower,
      l2_norm_clip=float(l2_norm_clip), measured_sensitivity=best,
      noise_multiplier=float(noise_multiplier), noise_ratio=ratio,
      directional_noise_ratio=dir_ratio,
      directional_noise_ratio_upper=dir_upper,
      effective_noise_multiplier_upper=sigma_upper,
      sampling_rate=float(sampling_rate), steps=int(steps),
      delta=float(delta), trials=int(trials), alpha=float(alpha),
      problems=problems)
