"""Privacy accounting with dp_accounting (RDP, optionally PLD).

``epsilon`` assumes **Poisson subsampling** with rate q = B / n: every
example joins each logical batch independently with probability q, under
add/remove-one adjacency. Private runs sample that way by default
(``sampling="poisson"``). For shuffled fixed-size batches
(``sampling="shuffle"``, an explicit option) that epsilon is only assumed:
no proof covers it (Chua et al., ICML 2024). ``epsilon_without_amplification``
is the bound that does hold for shuffling, with no amplification at all.
"""

import dataclasses
import functools

import dp_accounting
from dp_accounting import pld
from dp_accounting import rdp

ACCOUNTANTS = ("rdp", "pld")


def _event(sampling_rate, noise_multiplier, steps):
  return dp_accounting.SelfComposedDpEvent(
      dp_accounting.PoissonSampledDpEvent(
          sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)),
      int(steps))


def _accountant(kind):
  if kind == "rdp":
    return rdp.RdpAccountant()
  if kind == "pld":
    return pld.PLDAccountant()
  raise ValueError(f"accountant must be one of {ACCOUNTANTS}; got {kind!r}.")


def _check(n, batch_size, noise_multiplier, delta):
  if n <= 0 or batch_size <= 0 or batch_size > n:
    raise ValueError(f"need 0 < batch_size <= n; got B={batch_size}, n={n}.")
  if noise_multiplier <= 0:
    raise ValueError("noise_multiplier must be > 0 for a finite epsilon.")
  if not 0 < delta < 1:
    raise ValueError(f"delta must be in (0, 1); got {delta}.")


@functools.lru_cache(maxsize=4096)
def epsilon(n: int, batch_size: int, noise_multiplier: float, steps: int,
            delta: float, accountant: str = "rdp") -> float:
  """Epsilon of ``steps`` Poisson-subsampled Gaussian steps.

  Args:
    n: dataset size.
    batch_size: expected logical batch size B (q = B / n).
    noise_multiplier: sigma.
    steps: number of noisy updates.
    delta: target delta.
    accountant: "rdp" (TF-Privacy's default) or "pld".

  Returns:
    The epsilon; 0.0 for zero steps.
  """
  _check(n, batch_size, noise_multiplier, delta)
  if steps <= 0:
    return 0.0
  acc = _accountant(accountant)
  acc.compose(_event(batch_size / n, noise_multiplier, steps))
  return float(acc.get_epsilon(delta))


@functools.lru_cache(maxsize=4096)
def epsilon_without_amplification(noise_multiplier: float, participations: int,
                                  delta: float,
                                  accountant: str = "rdp") -> float:
  """Epsilon that holds for any batch sampling, shuffling included.

  Under replace-one adjacency an example changes at most ``participations``
  updates (one per epoch for shuffled batches), each a Gaussian mechanism
  whose sensitivity is 2C (a clipped gradient swapped for another) with noise
  std sigma*C, i.e. noise multiplier sigma/2 relative to that sensitivity. No
  subsampling amplification is claimed, so the batches' order may be
  public.

  Args:
    noise_multiplier: sigma (noise std / C).
    participations: updates one example can join (epochs begun, for shuffle).
    delta: target delta.
    accountant: "rdp" or "pld".
  """
  if noise_multiplier <= 0:
    raise ValueError("noise_multiplier must be > 0 for a finite epsilon.")
  if not 0 < delta < 1:
    raise ValueError(f"delta must be in (0, 1); got {delta}.")
  if participations <= 0:
    return 0.0
  acc = _accountant(accountant)
  acc.compose(dp_accounting.SelfComposedDpEvent(
      dp_accounting.GaussianDpEvent(noise_multiplier / 2.0),
      int(participations)))
  return float(acc.get_epsilon(delta))


def max_steps(n, batch_size, noise_multiplier, target_epsilon, delta,
              accountant="rdp", upper=10_000_000) -> int:
  """Largest step count whose epsilon does not exceed ``target_epsilon``."""
  _check(n, batch_size, noise_multiplier, delta)
  if epsilon(n, batch_size, noise_multiplier, 1, delta, accountant) > \
      target_epsilon:
    return 0
  lo, hi = 1, 1
  while hi < upper and epsilon(n, batch_size, noise_multiplier, hi, delta,
                               accountant) <= target_epsilon:
    lo, hi = hi, hi * 2
  hi = min(hi, upper)
  while hi - lo > 1:  # invariant: eps(lo) <= target < eps(hi) (or hi=upper)
    mid = (lo + hi) // 2
    if epsilon(n, batch_size, noise_multiplier, mid, delta,
               accountant) <= target_epsilon:
      lo = mid
    else:
      hi = mid
  return lo


def min_noise_multiplier(n, batch_size, steps, target_epsilon, delta,
                         accountant="rdp", tol=1e-3) -> float:
  """Smallest sigma reaching ``target_epsilon`` after ``steps`` steps."""
  if steps <= 0:
    raise ValueError("steps must be positive.")
  def make():
    return _accountant(accountant)
  sigma = dp_accounting.calibrate_dp_mechanism(
      make, lambda s: _event(batch_size / n, s, steps), target_epsilon, delta,
      bracket_interval=dp_accounting.ExplicitBracketInterval(1e-2, 1e3),
      tol=tol)
  return float(sigma)


@dataclasses.dataclass
class BudgetGuard:
  """Refuses any step that would push epsilon past its target.

  Attributes:
    n, batch_size, noise_multiplier, delta, target_epsilon, accountant: the
      privacy setting.
  """
  n: int
  batch_size: int
  noise_multiplier: float
  delta: float
  target_epsilon: float
  accountant: str = "rdp"

  def __post_init__(self):
    self.max_steps = max_steps(self.n, self.batch_size, self.noise_multiplier,
                               self.target_epsilon, self.delta,
                               self.accountant)

  def allows(self, step: int) -> bool:
    """Whether taking step number ``step`` (1-based) stays within budget."""
    return step <= self.max_steps

  def spent(self, steps: int) -> float:
    return epsilon(self.n, self.batch_size, self.noise_multiplier, steps,
                   self.delta, self.accountant)
