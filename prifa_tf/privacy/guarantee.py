"""What a printed epsilon assumes: its basis, stated with every number.

Each ε the toolkit prints rests on assumptions about how batches were
sampled, whether the randomness stayed secret, and the adjacency. This
module turns a run's settings into that statement, so the console,
TensorBoard, results.json and tables all say the same thing.
"""

from typing import Dict, Optional

SAMPLINGS = ("poisson", "shuffle")
RANDOMNESS = ("secret", "reproducible")


def console_tag(sampling: str) -> str:
  """Short label for ε in one-line logs, e.g. ``eps[poisson]``."""
  if sampling not in SAMPLINGS:
    raise ValueError(f"sampling must be one of {SAMPLINGS}; got {sampling!r}")
  return "eps[poisson]" if sampling == "poisson" else \
      "eps[assumed-poisson,shuffled]"


def summary_tag(sampling: str) -> str:
  """TensorBoard tag of the accountant's ε for this sampling."""
  return ("privacy/epsilon" if sampling == "poisson"
          else "privacy/epsilon_assumed_poisson_but_shuffled")


def tan_label(tan_factor: int, epsilon: float, reference_batch: int) -> str:
  """The label of a TAN-simulated run's ε (Sander et al., ICML 2023).

  A run at batch B/k with noise multiplier σ/k, for the steps of a
  reference run at (B, σ), has the reference's noise per example of the
  batch (σ/B) and so, by TAN's finding, about its accuracy. Its own ε is
  far larger than the reference's: the reference's ε is only simulated.
  """
  return (f"simulated (TAN ×{tan_factor}): the noise of ε={epsilon:g} at "
          f"B={reference_batch}; not a privacy guarantee")


def statement(sampling: str, randomness: str, delta: float, n: int,
              epsilon_no_amplification: Optional[float] = None
              ) -> Dict[str, object]:
  """The basis of a run's ε, for results.json and reports.

  Args:
    sampling: "poisson" or "shuffle" (what the run did).
    randomness: "secret" (seeds from OS entropy, never released) or
      "reproducible" (seeds fixed by the config).
    delta: the δ of the ε.
    n: training examples (δ is flagged when not below 1/n).
    epsilon_no_amplification: the bound that holds for shuffling.
  """
  if randomness not in RANDOMNESS:
    raise ValueError(f"randomness must be one of {RANDOMNESS}")
  console_tag(sampling)
  if sampling == "poisson":
    basis = ("proven: Poisson subsampling with rate B/n, as the accountant "
             "assumes")
  else:
    basis = ("assumed, not proven: the accountant's Poisson ε applied to "
             "shuffled fixed-size batches (Chua et al. 2024 show the gap can "
             "be real); the proven bound without amplification is "
             "epsilon_without_amplification")
  if randomness == "secret":
    secrecy = ("noise and sampling seeds drawn from OS entropy and kept only "
               "in the workdir's secrets file (mode 0600); never released")
  else:
    secrecy = ("reproducible: seeds fixed by the config, which is released "
               "with the results; ε holds only against someone without the "
               "seeds")
  out = {
      "epsilon_basis": basis,
      "randomness": secrecy,
      "adjacency": ("add/remove one example" if sampling == "poisson" else
                    "replace one example (for epsilon_without_amplification)"),
      "released": ("final (and averaged) weights; training statistics are "
                   "logged without noise and are not covered"),
      "hyperparameter_tuning": "not accounted",
      "delta_at_least_1_over_n": bool(delta >= 1.0 / n),
  }
  if sampling == "shuffle":
    out["epsilon_without_amplification"] = epsilon_no_amplification
  return out
