"""What one run of a sweep is: a config, its labels, and how to evaluate it.

A sweep is a list of ``RunSpec`` in dependency order. A spec may depend on
an earlier run of the same sweep:

- ``remove_from``: the Onion effect. The run trains without the ids its
  parent removed plus the parent's ``remove_top`` riskiest training ids.
- ``track_from``: the memorization timeline. The run tracks, during
  training, the membership probability of the parent's ``track_top``
  riskiest training ids.
- ``shadow_of``: a LiRA shadow model of an earlier run. It trains on the
  half (``shadow_index`` of ``num_shadows``, balanced keep matrix) of that
  run's members.
- ``risk_shadows``: with ``risk_score="lira_score"``, the shadows of
  ``remove_from`` whose LiRA scores rank the ids to remove.
- ``after``: any other runs this one must follow.

What a run takes from its parents is the task's business
(``prifa_tf.paper.runs`` for the paper); the runner only orders runs by
``parents``.
"""

import dataclasses
import re
from typing import Dict, Optional, Sequence

from prifa_tf.training.config import TrainConfig

_NAME = re.compile(r"^[A-Za-z0-9_.+=-]+(/[A-Za-z0-9_.+=-]+)*$")


@dataclasses.dataclass
class RunSpec:
  """One run of a sweep.

  Attributes:
    name: relative workdir, e.g. ``"cifar10s/eps8/+GN/seed0"`` (letters,
      digits and ``_.+=-``, ``/`` between parts).
    config: the training configuration.
    labels: the run's coordinates in the experiment's table (dataset,
      epsilon, step, seed, ...), copied into every result row.
    attacks: TF-Privacy attacks for the final evaluation.
    max_examples: bound on attack members and non-members.
    mia_every: membership inference every N steps during training (0: off).
    remove_from, remove_top, risk_score: Onion-effect removal (see module).
    track_from, track_top: ids to track during training (see module).
    exclude_ids: training ids this run leaves out (LiRA's keep matrix).
    shadow_of, shadow_index, num_shadows: a LiRA shadow (see module).
    risk_shadows: shadows whose LiRA scores rank removals (see module).
    after: other runs this one follows.
  """
  name: str
  config: TrainConfig
  labels: Dict[str, object]
  attacks: Sequence[str] = ("threshold", "threshold_entropy", "mlp", "rf")
  max_examples: Optional[int] = None
  mia_every: int = 0
  remove_from: Optional[str] = None
  remove_top: int = 0
  risk_score: str = "mlp_score"
  track_from: Optional[str] = None
  track_top: int = 1
  exclude_ids: Optional[Sequence[int]] = None
  shadow_of: Optional[str] = None
  shadow_index: int = 0
  num_shadows: int = 0
  risk_shadows: Sequence[str] = ()
  after: Sequence[str] = ()

  def __post_init__(self):
    if not _NAME.match(self.name) or ".." in self.name.split("/"):
      raise ValueError(f"Bad run name {self.name!r}.")
    if self.remove_from and self.remove_top <= 0:
      raise ValueError(f"{self.name}: remove_from needs remove_top > 0.")
    if self.shadow_of and not 0 <= self.shadow_index < self.num_shadows:
      raise ValueError(f"{self.name}: shadow_index must be in [0, "
                       f"num_shadows={self.num_shadows}).")
    if (self.risk_score == "lira_score") != bool(self.risk_shadows) and (
        self.remove_from or self.track_from):
      raise ValueError(f"{self.name}: risk_score='lira_score' needs "
                       "risk_shadows, and risk_shadows need it.")

  @property
  def parents(self):
    out = [p for p in (self.remove_from, self.track_from, self.shadow_of)
           if p] + list(self.risk_shadows) + list(self.after)
    return list(dict.fromkeys(out))


def check_order(specs: Sequence[RunSpec]) -> None:
  """Names are unique and every parent comes before its children."""
  seen = set()
  for s in specs:
    if s.name in seen:
      raise ValueError(f"Run name {s.name!r} appears twice.")
    for p in s.parents:
      if p not in seen:
        raise ValueError(f"{s.name} depends on {p!r}, which does not come "
                         "before it in the sweep.")
    seen.add(s.name)
