"""What one run of a paper sweep does: train, then evaluate.

``PaperTask`` is the task ``sweeps.runner`` executes for every ``RunSpec``
(in process or as a Ray task). It owns everything experiment-specific that
a run takes from its parents' files:

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
from typing import Callable, Dict, Optional

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
  if spec.exclude_ids is not None:  # LiRA: the same half of the pool.
    run = results_lib.read_json(os.path.join(
        runner.run_dir(out_dir, spec.name), trainer_lib.RESULTS_FILE))
    return set(run.get("removed_ids", [])) == {int(i)
                                                for i in spec.exclude_ids}
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
  parent = runner.run_dir(out_dir, spec.remove_from or spec.track_from)
  if spec.risk_score != "lira_score" or os.path.exists(
      os.path.join(parent, lira_risk.LIRA_RISK_FILE)):
    return
  lira_risk.write_lira_risk(
      parent, [runner.run_dir(out_dir, s) for s in spec.risk_shadows],
      data_fn)


def removal_ids(out_dir: str, spec: spec_lib.RunSpec,
                data_fn=None) -> Optional[np.ndarray]:
  """Onion effect: the parent's removed ids plus its top-risk ids."""
  if not spec.remove_from:
    return None
  workdir = runner.run_dir(out_dir, spec.name)
  path = os.path.join(workdir, REMOVED_FILE)
  if os.path.exists(path):
    return np.array(results_lib.read_json(path)["removed"], dtype=np.int64)
  parent = runner.run_dir(out_dir, spec.remove_from)
  parent_removed = os.path.join(parent, REMOVED_FILE)
  before = (results_lib.read_json(parent_removed)["removed"]
            if os.path.exists(parent_removed) else [])
  _ensure_lira_risk(out_dir, spec, data_fn)
  new = _top_risk(parent, spec.risk_score, spec.remove_top)
  removed = np.union1d(before, new).astype(np.int64)
  os.makedirs(workdir, exist_ok=True)
  results_lib.write_json_atomic(path, {
      "removed": removed.tolist(), "new_this_layer": np.sort(new).tolist(),
      "from": spec.remove_from, "score": spec.risk_score})
  return removed


def track_ids(out_dir: str, spec: spec_lib.RunSpec, data_fn=None):
  if not spec.track_from:
    return []
  _ensure_lira_risk(out_dir, spec, data_fn)
  return [int(i) for i in _top_risk(
      runner.run_dir(out_dir, spec.track_from), spec.risk_score,
      spec.track_top)]


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
    cfg = spec.config
    if self.data_dir:
      cfg = dataclasses.replace(cfg, data_dir=self.data_dir)
    remove = removal_ids(out_dir, spec, self.data_fn)
    if spec.shadow_of:
      remove = lira_risk.shadow_exclusions(
          runner.run_dir(out_dir, spec.shadow_of), cfg, spec.shadow_index,
          spec.num_shadows, self.data_fn)
    if spec.exclude_ids is not None:
      remove = np.union1d(remove if remove is not None else [],
                          np.asarray(spec.exclude_ids)).astype(np.int64)
    callback = None
    if spec.mia_every:
      callback = mia_monitor.TrainerMIACallback(
          spec.mia_every, track_ids=track_ids(out_dir, spec, self.data_fn),
          seed=cfg.seed)
    data = self.data_fn(cfg, remove) if self.data_fn else None
    trainer_lib.Trainer(cfg, workdir, remove_ids=remove, log=log, data=data,
                        step_callback=callback).run()
    run_evaluation.evaluate_workdir(
        workdir, spec.attacks, backend=self.backend,
        max_examples=spec.max_examples, seed=cfg.seed, data=data, log=log)
