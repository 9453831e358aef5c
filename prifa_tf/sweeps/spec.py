"""What one run of a sweep is: a name, a config, its labels, its parents.

A sweep is a list of ``RunSpec`` in dependency order: every run named in a
spec's ``after`` comes before it. What a run takes from its parents, and
how it is evaluated, is the task's business: the task puts what it needs
in ``details``, which the runner passes along and never reads.
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
    after: the runs this one follows (its parents), by name.
    details: anything else the task needs to run it; opaque to the runner.
  """
  name: str
  config: TrainConfig
  labels: Dict[str, object]
  after: Sequence[str] = ()
  details: Optional[object] = None

  def __post_init__(self):
    if not _NAME.match(self.name) or ".." in self.name.split("/"):
      raise ValueError(f"Bad run name {self.name!r}.")
    self.after = tuple(dict.fromkeys(self.after))

  @property
  def parents(self):
    return list(self.after)


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
