"""The one-run audit of Steinke, Nasr & Jagielski (NeurIPS 2023).

"Privacy Auditing with One (1) Training Run", arXiv:2305.08846. Each of m
canaries joins training independently with probability 1/2 (the canaries
of ``data.canaries`` are drawn so). After training, an auditor ranks the
canaries by score and guesses "in" for the top k, "out" for the bottom k,
and abstains on the rest: r = 2k guesses (k = ⌈r/2⌉ and ⌊r/2⌋ for odd r),
of which v are right.

If training is (ε, δ)-DP, the number of right guesses is, up to a δ term,
stochastically dominated by Binomial(r, e^ε / (1 + e^ε)) (the paper's
Theorem 3.1 and its δ > 0 extension). ``p_value`` is that tail
probability; ``epsilon_lower_bound`` is the largest ε whose p-value is
below the significance α, i.e. every ε below it is rejected at confidence
1 - α. Several guess counts are tried and α is split among them
(Bonferroni), so the maximum holds at 1 - α overall.

This is our own implementation of the published formula (jax_privacy's
``auditing`` module and the paper's listing were read as references).
"""

import dataclasses
import math
from typing import Sequence

import numpy as np
from scipy import optimize
from scipy import special
from scipy import stats

# Fractions of the m canaries the auditor guesses on (the rest abstain).
GUESS_FRACTIONS = (0.1, 0.25, 0.5, 1.0)


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
  """P[≥ v right of r guesses] under an (ε, δ)-DP null, m canaries.

  β = P[Binomial(r, q) ≥ v] with q = e^ε / (1 + e^ε); for δ > 0 the
  paper adds 2mδ · max_{1≤i≤v} P[v - i ≤ Binomial(r, q) < v] / i.
  """
  if not 0 <= v <= r <= m:
    raise ValueError(f"need 0 <= v <= r <= m; got v={v}, r={r}, m={m}.")
  if epsilon < 0 or not 0 <= delta <= 1:
    raise ValueError(f"need epsilon >= 0 and 0 <= delta <= 1; got "
                     f"{epsilon}, {delta}.")
  q = float(special.expit(epsilon))
  beta = float(stats.binom.sf(v - 1, r, q))
  if delta == 0 or v == 0:
    return beta
  i = np.arange(1, v + 1)
  between = stats.binom.sf(v - i - 1, r, q) - beta
  return min(1.0, beta + 2 * m * delta * float(np.max(between / i)))


def epsilon_lower_bound(m: int, r: int, v: int, delta: float,
                        alpha: float) -> float:
  """The largest ε that v right of r guesses reject at significance α.

  0 when even ε = 0 is not rejected. The p-value grows with ε, so the
  root of p_value(ε) = α is found by bracketing and Brent's method.
  """
  def excess(eps):
    return alpha - p_value(m, r, v, eps, delta)
  if r == 0 or excess(0.0) <= 0:
    return 0.0
  lo, hi = 0.0, 1.0
  while excess(hi) > 0:
    lo, hi = hi, 2 * hi
    if hi > 1e3:  # Cannot happen for finite r; a guard, not a result.
      return lo
  return float(optimize.brentq(excess, lo, hi, xtol=1e-6))


@dataclasses.dataclass
class OneRunResult:
  """The one-run estimator's bound and the guess count behind it."""
  epsilon_lower_bound: float
  guesses: int       # r of the guess count that gave the bound
  correct: int       # v there
  guess_counts: list  # every r tried (α split among them)
  max_attainable_bound: float  # all guesses right at the best r


def guess_counts(m: int,
                 fractions: Sequence[float] = GUESS_FRACTIONS) -> list:
  return sorted({max(1, int(round(f * m))) for f in fractions})


def right_guesses(scores, included, r: int) -> int:
  """Right guesses when the top ⌈r/2⌉ are called in, the bottom ⌊r/2⌋ out."""
  order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
  included = np.asarray(included, dtype=bool)
  top, bottom = math.ceil(r / 2), r // 2
  right_in = int(included[order[len(order) - top:]].sum()) if top else 0
  right_out = int((~included[order[:bottom]]).sum())
  return right_in + right_out


def audit(scores, included, delta: float, alpha: float = 0.05,
          fractions: Sequence[float] = GUESS_FRACTIONS) -> OneRunResult:
  """The one-run bound from canary scores (members score higher)."""
  scores = np.asarray(scores, dtype=float)
  m = len(scores)
  counts = guess_counts(m, fractions)
  each = alpha / len(counts)
  best = (0.0, counts[0], right_guesses(scores, included, counts[0]))
  for r in counts:
    v = right_guesses(scores, included, r)
    bound = epsilon_lower_bound(m, r, v, delta, each)
    if bound > best[0]:
      best = (bound, r, v)
  return OneRunResult(best[0], best[1], best[2], counts,
                      max_attainable_bound(m, delta, alpha, fractions))


def max_attainable_bound(m: int, delta: float, alpha: float = 0.05,
                         fractions: Sequence[float] = GUESS_FRACTIONS
                         ) -> float:
  """The largest bound m canaries can show (every guess right)."""
  counts = guess_counts(m, fractions)
  return max(epsilon_lower_bound(m, r, r, delta, alpha / len(counts))
             for r in counts)
