"""The schema of a finished run's ``results.json``, as one type.

``RunResults`` is what the trainer writes and every later stage reads
(evaluation, sweeps, tables). ``PrivacyRecord`` is its ``privacy`` block:
the ε the run achieved with the assumptions it rests on, never a target.
"""

import dataclasses
from typing import Any, Dict, List, Optional

NOT_PRIVATE = ("not private: computed from the training batch without noise "
               "(the DP guarantee covers the released weights only); "
               "log_training_stats=False leaves it out")

TRAIN_ACCURACY_NOTE = (
    "not private: the final weights' accuracy on up to 10,000 training "
    "examples, computed without noise (the DP guarantee covers the released "
    "weights only); log_training_stats=False leaves it out")


@dataclasses.dataclass
class PrivacyRecord:
  """The ``privacy`` block of a private run's results.

  Attributes:
    epsilon: the accountant's ε after the steps taken, at ``delta``.
    target_epsilon: the budget the run stopped at (a TAN simulation's is
      its reference's, simulated: see ``epsilon_basis``).
    delta: δ of the guarantee.
    noise_multiplier: σ.
    l2_norm_clip: C.
    accountant: "rdp" or "pld".
    sampling_assumed_by_accountant: always "poisson".
    sampling_used: "poisson" (the ε is proven) or "shuffle" (assumed).
    sampling_rate: q = B / n.
    noise_draws: releases made, one per logical batch.
    noise_generator: where the noise came from.
    epsilon_lower_bound: the canary audit's empirical bound (None: no
      audit).
    audit: where the audit is, or "not audited (audit_canaries=0)".
    guarantee: ``privacy.guarantee.statement``: the ε's basis, what is
      released, randomness, adjacency, and ε without amplification.
  """
  epsilon: Optional[float]
  target_epsilon: Optional[float]
  delta: float
  noise_multiplier: float
  l2_norm_clip: float
  accountant: str
  sampling_used: str
  sampling_rate: float
  noise_draws: int
  noise_generator: str
  epsilon_lower_bound: Optional[float]
  audit: str
  guarantee: Dict[str, Any]
  sampling_assumed_by_accountant: str = "poisson"

  def to_dict(self) -> dict:
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
           if f.name != "guarantee"}
    out.update(self.guarantee)
    return out


@dataclasses.dataclass
class RunResults:
  """A finished run: the contents of ``results.json``.

  Attributes:
    provenance: commit, packages, devices and command
      (``reporting.provenance``).
    config: the run's ``TrainConfig`` as a dict.
    steps: logical steps taken.
    stop_reason: "privacy_budget", "steps" or "early_stopping".
    num_train_examples: n, the training examples (canaries included).
    removed_ids: ids left out of training (Onion effect): never members.
    metrics: the released weights' accuracies.
    metrics_notes: a note per metric that is not private.
    metrics_last_weights: the last iterate's accuracies.
    initialisation: "pretrained: PATH" or "random (trained from scratch)".
    eval_weights: which weights were released: "ema", "polyak" or "last".
    privacy: ``PrivacyRecord`` (None: non-private).
    last_batch: the last batch's statistics (not private; empty with
      ``log_training_stats=False``).
    seed: the config's seed.
    wall_time_s_this_session: seconds of this process's training.
    replicas: replicas the steps ran on (results do not depend on it).
    audit: the canary audit's summary (None: not audited; no key then).
    weights_file: the released weights (HDF5, by layer name).
    status: always "completed".
    last_batch_note: why ``last_batch`` is not private.
  """
  provenance: dict
  config: dict
  steps: int
  stop_reason: str
  num_train_examples: int
  removed_ids: List[int]
  metrics: dict
  metrics_notes: dict
  metrics_last_weights: dict
  initialisation: str
  eval_weights: str
  privacy: Optional[PrivacyRecord]
  last_batch: dict
  seed: int
  wall_time_s_this_session: float
  replicas: int
  audit: Optional[dict] = None
  weights_file: str = "final_eval_weights.h5"
  status: str = "completed"
  last_batch_note: str = NOT_PRIVATE

  def to_dict(self) -> dict:
    """The JSON object written as ``results.json``."""
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    out["privacy"] = None if self.privacy is None else self.privacy.to_dict()
    if self.audit is None:  # An unaudited run says so in "privacy" only.
      del out["audit"]
    return out
