"""What one run of a paper sweep does: train, then evaluate.

``spec`` builds a paper run's ``RunSpec``: its ``details`` are a
``PaperRun``, which says how the run is evaluated and what it takes from
its parents. ``PaperTask`` is the task ``sweeps.runner`` executes for every
such spec (in process or as a Ray task). It owns everything
experiment-specific that a run takes from its parents' files:

- Onion effect (``remove_from``): the parent's removed ids plus its
  ``remove_top`` riskiest training ids (Song & Mittal risk score, or LiRA
  against ``risk_shadows``), written to the run's ``removed_ids.json``;
- memorization timeline (``track_from``): the parent's riskiest ids,
  tracked during training;
- LiRA (``shadow_of``, ``exclude_ids``): the ids a shadow or a LiRA model
  leaves out;

and what "finished" means (an ``eval.json`` for this very config) and what
a run costs before it runs (dry runs).
"""

import contextlib
import csv
import dataclasses
import os
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from prifa_tf import attacks
from prifa_tf import errors
from prifa_tf.data import tfds_loader
from prifa_tf.evaluation import lira_risk
from prifa_tf.evaluation import mia_monitor
from prifa_tf.evaluation import run_evaluation
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import runner
from prifa_tf.sweeps import spec as spec_lib
from prifa_tf.training import trainer as trainer_lib

REMOVED_FILE = "removed_ids.json"


class ParentError(errors.SweepError):
  """A parent run lacks what a dependant needs."""


@dataclasses.dataclass(frozen=True)
class PaperRun:
  """How a paper run is evaluated and what it takes from its parents.

  Attributes:
    attacks: TF-Privacy attacks for the final evaluation.
    max_examples: bound on attack members and non-members (None: all).
    mia_every: membership inference every N steps during training (0: off).
    remove_from: Onion effect: the run trains without the ids its parent
      removed plus the parent's ``remove_top`` riskiest training ids.
    remove_top: how many of the parent's riskiest ids to remove.
    risk_score: the parent's column that ranks the ids (``"mlp_score"``,
      or ``"lira_score"`` against ``risk_shadows``).
    track_from: memorization timeline: the run tracks, during training, the
      membership probability of this parent's ``track_top`` riskiest ids.
    track_top: how many of them.
    exclude_ids: training ids this run leaves out (LiRA's keep matrix).
    shadow_of: a LiRA shadow of this earlier run: it trains on the half
      ``shadow_index`` of ``num_shadows`` (balanced keep matrix) of that
      run's members.
    shadow_index: which half.
    num_shadows: how many shadows share the keep matrix.
    risk_shadows: with ``risk_score="lira_score"``, the shadows of
      ``remove_from`` whose LiRA scores rank the ids to remove.
  """
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

  def check(self, name: str) -> None:
    """Raises ``ValueError`` naming run ``name`` if the fields disagree."""
    if self.remove_from and self.remove_top <= 0:
      raise ValueError(f"{name}: remove_from needs remove_top > 0.")
    if self.shadow_of and not 0 <= self.shadow_index < self.num_shadows:
      raise ValueError(f"{name}: shadow_index must be in [0, "
                       f"num_shadows={self.num_shadows}).")
    if (self.risk_score == "lira_score") != bool(self.risk_shadows) and (
        self.remove_from or self.track_from):
      raise ValueError(f"{name}: risk_score='lira_score' needs "
                       "risk_shadows, and risk_shadows need it.")

  @property
  def parents(self):
    return [p for p in (self.remove_from, self.track_from, self.shadow_of)
            if p] + list(self.risk_shadows)


def spec(name: str, config, labels: Dict[str, object],
         after: Sequence[str] = (), **details) -> spec_lib.RunSpec:
  """A paper run: ``details`` are the fields of ``PaperRun``."""
  run = PaperRun(**details)
  run.check(name)
  return spec_lib.RunSpec(name=name, config=config, labels=labels,
                          after=run.parents + list(after), details=run)


def _details(s: spec_lib.RunSpec) -> PaperRun:
  return s.details if s.details is not None else PaperRun()


def relative_cost(model: str, image_size: Optional[int]) -> float:
  """Per-example cost of a WRN-d-k against WRN-16-4 on 32x32 images.

  Convolution FLOPs grow with the blocks per group, (d - 4) / 6, times k^2,
  and with the image area.
  """
  _, depth, width = model.split("_")
  blocks = (int(depth) - 4) / 6
  return blocks * int(width) ** 2 / (2 * 16) * ((image_size or 32) / 32) ** 2


def estimate_cost(spec: spec_lib.RunSpec) -> Dict[str, float]:
  """Steps and per-example-view gradients of a run (before it runs).

  ``view_gradients`` counts per-example-view gradients; ``wrn16_4_units``
  weighs them by ``relative_cost`` so that one throughput figure measured
  on WRN-16-4 at 32x32 prices every model. Non-private runs with early
  stopping may stop sooner: their figure is an upper bound.
  """
  cfg = spec.config
  n = cfg.train_subset or tfds_loader.SPLIT_SIZES[cfg.base_dataset]["train"]
  n -= cfg.val_size
  steps = trainer_lib.plan_steps(cfg, n).total_steps
  passes = 2 if (cfg.sharpness_rho and not cfg.private) else 1  # SAM.
  grads = steps * cfg.batch_size * max(cfg.augmult, 1) * passes
  units = grads * relative_cost(cfg.model, cfg.image_size)
  return {"steps": int(steps), "view_gradients": float(grads),
          "wrn16_4_units": float(units)}


def is_finished(out_dir: str, spec: spec_lib.RunSpec) -> bool:
  """Whether the run's evaluation exists (for this very config)."""
  d = _details(spec)
  path = os.path.join(runner.run_dir(out_dir, spec.name),
                      run_evaluation.EVAL_FILE)
  if not os.path.exists(path):
    return False
  try:
    done = results_lib.read_json(path)["config"]
  except (ValueError, KeyError, OSError):
    return False
  want = spec.config.to_dict()
  volatile = set(spec.config.RESUMABLE_CHANGES)
  if not all(done.get(k) == v for k, v in want.items() if k not in volatile):
    return False
  if d.exclude_ids is not None:  # LiRA: the same half of the pool.
    run = results_lib.read_json(os.path.join(
        runner.run_dir(out_dir, spec.name), trainer_lib.RESULTS_FILE))
    return set(run.get("removed_ids", [])) == {int(i)
                                                for i in d.exclude_ids}
  return True


def read_risk_scores(parent_dir, column):
  name = (lira_risk.LIRA_RISK_FILE if column == "lira_score"
          else "risk_scores.csv")
  path = os.path.join(parent_dir, name)
  if not os.path.exists(path):
    raise ParentError(f"{parent_dir} has no risk_scores.csv.")
  with open(path) as f:
    rows = list(csv.DictReader(f))
  if not rows or column not in rows[0]:
    raise ParentError(f"{path} has no column {column!r}; run the parent "
                      "with the attack that produces it.")
  return (np.array([int(r["id"]) for r in rows]),
          np.array([float(r[column]) for r in rows]))


def _top_risk(parent_dir, column, k):
  ids, scores = read_risk_scores(parent_dir, column)
  if k > len(ids):
    raise ParentError(f"Cannot take the top {k} of {len(ids)} scored ids "
                      f"in {parent_dir}.")
  return attacks.top_risk_ids(ids, scores, k)


def _ensure_lira_risk(out_dir, spec, data_fn):
  """Scores the parent's members with LiRA against its shadows (once)."""
  d = _details(spec)
  parent = runner.run_dir(out_dir, d.remove_from or d.track_from)
  if d.risk_score != "lira_score" or os.path.exists(
      os.path.join(parent, lira_risk.LIRA_RISK_FILE)):
    return
  lira_risk.write_lira_risk(
      parent, [runner.run_dir(out_dir, s) for s in d.risk_shadows],
      data_fn)


def removal_ids(out_dir: str, spec: spec_lib.RunSpec,
                data_fn=None) -> Optional[np.ndarray]:
  """Onion effect: the parent's removed ids plus its top-risk ids."""
  d = _details(spec)
  if not d.remove_from:
    return None
  workdir = runner.run_dir(out_dir, spec.name)
  path = os.path.join(workdir, REMOVED_FILE)
  if os.path.exists(path):
    return np.array(results_lib.read_json(path)["removed"], dtype=np.int64)
  parent = runner.run_dir(out_dir, d.remove_from)
  parent_removed = os.path.join(parent, REMOVED_FILE)
  before = (results_lib.read_json(parent_removed)["removed"]
            if os.path.exists(parent_removed) else [])
  _ensure_lira_risk(out_dir, spec, data_fn)
  new = _top_risk(parent, d.risk_score, d.remove_top)
  removed = np.union1d(before, new).astype(np.int64)
  os.makedirs(workdir, exist_ok=True)
  results_lib.write_json_atomic(path, {
      "removed": removed.tolist(), "new_this_layer": np.sort(new).tolist(),
      "from": d.remove_from, "score": d.risk_score})
  return removed


def track_ids(out_dir: str, spec: spec_lib.RunSpec, data_fn=None):
  d = _details(spec)
  if not d.track_from:
    return []
  _ensure_lira_risk(out_dir, spec, data_fn)
  return [int(i) for i in _top_risk(
      runner.run_dir(out_dir, d.track_from), d.risk_score,
      d.track_top)]


@dataclasses.dataclass
class PaperTask:
  """Trains and evaluates one paper run; a ``sweeps.runner.Task``.

  Attributes:
    data_dir: TFDS directory for every run.
    backend: trained attacks' backend (``attacks.BACKENDS``).
    data_fn: optional ``fn(config, remove_ids) -> RunData`` (tests).
  """
  data_dir: Optional[str] = None
  backend: Optional[str] = None
  data_fn: Optional[Callable] = None

  def session(self):
    """Runs of one process share one decoded copy of each TFDS split."""
    return tfds_loader.cached_loads() if self.data_fn is None else \
        contextlib.nullcontext()

  def is_finished(self, out_dir: str, spec: spec_lib.RunSpec) -> bool:
    return is_finished(out_dir, spec)

  cost_unit = "WRN-16-4 gradients"

  def cost(self, spec: spec_lib.RunSpec) -> Dict[str, object]:
    cost = estimate_cost(spec)
    return {**cost, "units": cost["wrn16_4_units"],
            "detail": f"{cost['steps']} steps, {cost['view_gradients']:.3g} "
                      "example-view gradients"}

  def run(self, out_dir: str, spec: spec_lib.RunSpec,
          log: Callable[[str], None]) -> None:
    workdir = runner.run_dir(out_dir, spec.name)
    cfg, d = spec.config, _details(spec)
    if self.data_dir:
      cfg = dataclasses.replace(cfg, data_dir=self.data_dir)
    remove = removal_ids(out_dir, spec, self.data_fn)
    if d.shadow_of:
      remove = lira_risk.shadow_exclusions(
          runner.run_dir(out_dir, d.shadow_of), cfg, d.shadow_index,
          d.num_shadows, self.data_fn)
    if d.exclude_ids is not None:
      remove = np.union1d(remove if remove is not None else [],
                          np.asarray(d.exclude_ids)).astype(np.int64)
    callback = None
    if d.mia_every:
      callback = mia_monitor.TrainerMIACallback(
          d.mia_every, track_ids=track_ids(out_dir, spec, self.data_fn),
          seed=cfg.seed)
    data = self.data_fn(cfg, remove) if self.data_fn else None
    trainer_lib.Trainer(cfg, workdir, remove_ids=remove, log=log, data=data,
                        step_callback=callback).run()
    run_evaluation.evaluate_workdir(
        workdir, d.attacks, backend=self.backend,
        max_examples=d.max_examples, seed=cfg.seed, data=data, log=log)
