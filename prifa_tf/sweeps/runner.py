"""Runs a sweep: a directory of resumable runs, each trained then evaluated.

Layout of ``out_dir``::

  sweep.json              status of every run (atomic, rewritten per run)
  runs/<name>/            the run's workdir (config.json, checkpoints,
                          results.json, eval.json, tensorboard/, ...)
  runs/<name>/removed_ids.json   Onion effect: the ids left out
  runs/<name>/error.txt   why a run failed

Re-running the same sweep skips runs whose evaluation is finished, resumes
interrupted ones from their last checkpoint, and retries failed ones. A
failing run is recorded and the sweep goes on; its dependants are skipped.
"""

import csv
import dataclasses
import os
import time
from typing import Callable, Dict, Optional, Sequence

import numpy as np

from prifa_tf.data import tfds_loader
from prifa_tf.evaluation import lira_risk
from prifa_tf.evaluation import mia_monitor
from prifa_tf.evaluation import run_evaluation
from prifa_tf.privacy import accounting
from prifa_tf.reporting import console
from prifa_tf.reporting import progress
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import spec as spec_lib
from prifa_tf.training import trainer as trainer_lib

STATUS_FILE = "sweep.json"
REMOVED_FILE = "removed_ids.json"
FULL_TRAIN_SIZES = {"cifar10": 50_000, "cifar100": 50_000,
                    "celeb_a": 162_770}


class SweepError(RuntimeError):
  """A parent run lacks what a dependant needs."""


def run_dir(out_dir: str, name: str) -> str:
  return os.path.join(out_dir, "runs", *name.split("/"))


def is_finished(out_dir: str, spec: spec_lib.RunSpec) -> bool:
  """Whether the run's evaluation exists (for this very config)."""
  path = os.path.join(run_dir(out_dir, spec.name), run_evaluation.EVAL_FILE)
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
    run = results_lib.read_json(os.path.join(run_dir(out_dir, spec.name),
                                             trainer_lib.RESULTS_FILE))
    return set(run.get("removed_ids", [])) == {int(i)
                                                for i in spec.exclude_ids}
  return True


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
  n = cfg.train_subset or FULL_TRAIN_SIZES[cfg.base_dataset]
  n -= cfg.val_size
  steps = cfg.steps
  if cfg.private and cfg.target_epsilon is not None:
    limit = accounting.max_steps(n, cfg.batch_size, cfg.noise_multiplier,
                                 cfg.target_epsilon, cfg.delta)
    steps = min(steps, limit) if steps else limit
  passes = 2 if (cfg.sharpness_rho and not cfg.private) else 1  # SAM.
  grads = steps * cfg.batch_size * max(cfg.augmult, 1) * passes
  units = grads * relative_cost(cfg.model, cfg.image_size)
  return {"steps": int(steps), "view_gradients": float(grads),
          "wrn16_4_units": float(units)}


def _read_risk_scores(parent_dir, column):
  name = (lira_risk.LIRA_RISK_FILE if column == "lira_score"
          else "risk_scores.csv")
  path = os.path.join(parent_dir, name)
  if not os.path.exists(path):
    raise SweepError(f"{parent_dir} has no risk_scores.csv.")
  with open(path) as f:
    rows = list(csv.DictReader(f))
  if not rows or column not in rows[0]:
    raise SweepError(f"{path} has no column {column!r}; run the parent with "
                     "the attack that produces it.")
  return (np.array([int(r["id"]) for r in rows]),
          np.array([float(r[column]) for r in rows]))


def _top_risk(parent_dir, column, k):
  from prifa_tf import attacks  # pylint: disable=g-import-not-at-top
  ids, scores = _read_risk_scores(parent_dir, column)
  if k > len(ids):
    raise SweepError(f"Cannot take the top {k} of {len(ids)} scored ids in "
                     f"{parent_dir}.")
  return attacks.top_risk_ids(ids, scores, k)


def _ensure_lira_risk(out_dir, spec, data_fn):
  """Scores the parent's members with LiRA against its shadows (once)."""
  parent = run_dir(out_dir, spec.remove_from or spec.track_from)
  if spec.risk_score != "lira_score" or os.path.exists(
      os.path.join(parent, lira_risk.LIRA_RISK_FILE)):
    return
  lira_risk.write_lira_risk(
      parent, [run_dir(out_dir, s) for s in spec.risk_shadows], data_fn)


def removal_ids(out_dir: str, spec: spec_lib.RunSpec,
                data_fn=None) -> Optional[np.ndarray]:
  """Onion effect: the parent's removed ids plus its top-risk ids."""
  if not spec.remove_from:
    return None
  workdir = run_dir(out_dir, spec.name)
  path = os.path.join(workdir, REMOVED_FILE)
  if os.path.exists(path):
    return np.array(results_lib.read_json(path)["removed"], dtype=np.int64)
  parent = run_dir(out_dir, spec.remove_from)
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
  return [int(i) for i in _top_risk(run_dir(out_dir, spec.track_from),
                                    spec.risk_score, spec.track_top)]


def _run_one(out_dir, spec, data_dir, backend, log, data_fn):
  workdir = run_dir(out_dir, spec.name)
  cfg = spec.config
  if data_dir:
    cfg = dataclasses.replace(cfg, data_dir=data_dir)
  remove = removal_ids(out_dir, spec, data_fn)
  if spec.shadow_of:
    remove = lira_risk.shadow_exclusions(
        run_dir(out_dir, spec.shadow_of), cfg, spec.shadow_index,
        spec.num_shadows, data_fn)
  if spec.exclude_ids is not None:
    remove = np.union1d(remove if remove is not None else [],
                        np.asarray(spec.exclude_ids)).astype(np.int64)
  callback = None
  if spec.mia_every:
    callback = mia_monitor.TrainerMIACallback(
        spec.mia_every, track_ids=track_ids(out_dir, spec, data_fn),
        seed=cfg.seed)
  data = data_fn(cfg, remove) if data_fn else None
  trainer_lib.Trainer(cfg, workdir, remove_ids=remove, log=log, data=data,
                      step_callback=callback).run()
  run_evaluation.evaluate_workdir(
      workdir, spec.attacks, backend=backend, max_examples=spec.max_examples,
      seed=cfg.seed, data=data, log=log)


def run_sweep(out_dir: str, specs: Sequence[spec_lib.RunSpec],
              dry_run: bool = False, data_dir: Optional[str] = None,
              backend: Optional[str] = None,
              throughput: Optional[float] = None,
              log: Callable[[str], None] = print,
              data_fn=None) -> Dict[str, dict]:
  """Runs (or, with ``dry_run``, lists) every run of a sweep.

  Args:
    out_dir: the sweep directory.
    specs: runs in dependency order.
    dry_run: only print what would run, with its estimated cost.
    data_dir: TFDS directory for every run.
    backend: joblib backend for the trained attacks.
    throughput: per-example-view gradients per second, to turn the cost
      into hours (dry run).
    log: progress printer.
    data_fn: optional ``fn(config, remove_ids) -> RunData`` (tests).

  Returns:
    ``{name: status record}``; status is "done", "cached", "failed",
    "skipped" or (dry run) "pending".
  """
  # Every run of the sweep shares one decoded copy of each TFDS split.
  with tfds_loader.cached_loads():
    return _run_sweep(out_dir, specs, dry_run, data_dir, backend, throughput,
                      log, data_fn)


def _run_sweep(out_dir, specs, dry_run, data_dir, backend, throughput, log,
               data_fn):
  spec_lib.check_order(specs)
  os.makedirs(out_dir, exist_ok=True)
  status_path = os.path.join(out_dir, STATUS_FILE)
  status = {}
  if os.path.exists(status_path):
    try:
      status = results_lib.read_json(status_path).get("runs", {})
    except ValueError:
      log(f"warning: {status_path} is unreadable; rebuilding it.")
  total_grads = 0.0
  bad = set()
  session = {"start": time.time(), "trained": 0, "seconds": 0.0}
  for k, spec in enumerate(specs, 1):
    head = f"[{k}/{len(specs)}] {spec.name}"
    if is_finished(out_dir, spec):
      status[spec.name] = {**status.get(spec.name, {}), "status": "cached"}
      log(f"{head}: finished, skipped.")
      continue
    if dry_run:
      cost = estimate_cost(spec)
      total_grads += cost["wrn16_4_units"]
      hours = (f", {cost['wrn16_4_units'] / throughput / 3600:.2f} h at "
               f"{throughput:g} WRN-16-4 gradients/s" if throughput else "")
      log(f"{head}: would run {cost['steps']} steps, "
          f"{cost['view_gradients']:.3g} example-view gradients{hours}.")
      status[spec.name] = {"status": "pending", **cost}
      continue
    missing = [p for p in spec.parents if p in bad]
    if missing:
      bad.add(spec.name)
      status[spec.name] = {"status": "skipped",
                           "reason": f"parent {missing[0]} failed"}
      log(f"{head}: skipped (parent {missing[0]} failed).")
      _write_status(status_path, status)
      continue
    log(f"{head}: training and evaluating in "
        f"{run_dir(out_dir, spec.name)}" + _sweep_eta(session, specs, k))
    t0 = time.time()
    try:
      _run_one(out_dir, spec, data_dir, backend, _prefixed(log, spec.name),
               data_fn)
      status[spec.name] = {"status": "done",
                           "wall_time_s": time.time() - t0}
      session["trained"] += 1
      session["seconds"] += time.time() - t0
    except Exception as e:  # pylint: disable=broad-except
      bad.add(spec.name)
      message = f"{type(e).__name__}: {console.first_line(e)}"
      status[spec.name] = {"status": "failed", "error": message}
      console.write_traceback(e, run_dir(out_dir, spec.name))
      log(f"{head}: FAILED ({message}); the sweep goes on.")
    _write_status(status_path, status)
  if dry_run:
    hours = (f" = {total_grads / throughput / 3600:.1f} h at "
             f"{throughput:g} gradients/s" if throughput else "")
    todo = sum(1 for s in specs if status[s.name]["status"] == "pending")
    log(f"Dry run: {todo} of {len(specs)} runs to do, {total_grads:.3g} "
        f"example-view gradients in WRN-16-4 units{hours} (early-stopped "
        "runs may take less).")
  else:
    _write_status(status_path, status)
  return status


def _sweep_eta(session, specs, k) -> str:
  """" (elapsed, ETA)" from this session's mean time per trained run."""
  elapsed = progress.format_seconds(time.time() - session["start"])
  if not session["trained"]:
    return ""
  left = (len(specs) - k + 1) * session["seconds"] / session["trained"]
  return (f" (sweep elapsed {elapsed}, ETA {progress.format_seconds(left)} "
          "at this session's mean time per run)")


def _prefixed(log, name):
  def out(message):
    for line in str(message).splitlines():
      log(f"  [{name}] {line}")
  return out


def _write_status(path, status):
  results_lib.write_json_atomic(path, {"runs": status})
