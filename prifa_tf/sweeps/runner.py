"""Runs a sweep: a graph of resumable runs, in process or on Ray.

A sweep is a list of ``RunSpec`` in dependency order (``spec.parents``);
what a run does is the ``Task``'s business (``prifa_tf.paper.runs`` trains
and evaluates a paper run). This module knows no experiment: it skips
finished runs, orders runs after their parents, records every run's status
in ``sweep.json`` and keeps one driver per sweep directory.

Layout of ``out_dir``::

  sweep.json              status of every run (atomic; the driver alone
                          writes it, after each run)
  sweep.lock              held by the running driver (a second is refused)
  runs/<name>/            the run's workdir
  runs/<name>/error.txt   why a run failed

Re-running the same sweep skips finished runs, resumes interrupted ones
(the task resumes from its workdir) and retries failed ones. A failing run
is recorded and the sweep goes on; its dependants are skipped.

``executor="local"`` (the default) runs one run after another in this
process. ``executor="ray"`` submits each run as a Ray task (``ray_runner``)
whose parents' tasks are its arguments, so Ray starts it only when they
have finished; a task whose worker dies is retried (``max_retries``) and
resumes from its checkpoint.
"""

import contextlib
import fcntl
import os
import socket
import time
from typing import Callable, Dict, Optional, Protocol, Sequence

from prifa_tf import errors
from prifa_tf.reporting import progress
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import ray_runner
from prifa_tf.sweeps import spec as spec_lib
from prifa_tf.sweeps.records import failed_record
from prifa_tf.sweeps.records import prefixed
from prifa_tf.sweeps.records import run_dir
from prifa_tf.sweeps.records import skip_finished

STATUS_FILE = "sweep.json"
LOCK_FILE = "sweep.lock"
EXECUTORS = ("local", "ray")


class Task(Protocol):
  """What a sweep does with each run."""

  def session(self):
    """A context manager around the runs of one process."""

  def is_finished(self, out_dir: str, spec: spec_lib.RunSpec) -> bool:
    """Whether the run's results exist for this very spec."""

  cost_unit: str
  """What ``cost``'s ``units`` count, e.g. "gradients" (dry runs divide
  them by a throughput in ``cost_unit`` per second)."""

  def cost(self, spec: spec_lib.RunSpec) -> Dict[str, object]:
    """Estimated cost, for dry runs.

    ``units`` (a float), optionally a one-line ``detail`` to print, and any
    other figures to record.
    """

  def run(self, out_dir: str, spec: spec_lib.RunSpec,
          log: Callable[[str], None]) -> None:
    """Runs (or resumes) the run in ``run_dir(out_dir, spec.name)``."""


@contextlib.contextmanager
def driver_lock(out_dir: str):
  """Holds ``sweep.lock`` (flock) while the sweep runs.

  Raises:
    SweepLocked: another process holds it. The lock dies with its holder,
      so a killed driver never leaves the sweep locked.
  """
  path = os.path.join(out_dir, LOCK_FILE)
  try:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  except OSError as e:
    raise errors.BadInputError(
        f"the sweep directory {out_dir} cannot be written ({e.strerror}); "
        "choose another --out.") from None
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 200, 0).decode(errors="replace").strip()
      raise errors.SweepLocked(
          f"{out_dir} is being run by another driver ({holder or 'unknown'})"
          "; wait for it to finish, or stop it, then run again (finished "
          "runs are kept).") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(),
              0)
    yield
  finally:
    os.close(fd)  # Releases the lock.


def run_sweep(out_dir: str, specs: Sequence[spec_lib.RunSpec], task: Task,
              dry_run: bool = False, throughput: Optional[float] = None,
              log: Callable[[str], None] = print, executor: str = "local",
              ray_options: Optional[dict] = None) -> Dict[str, dict]:
  """Runs (or, with ``dry_run``, lists) every run of a sweep.

  Args:
    out_dir: the sweep directory.
    specs: runs in dependency order.
    task: what each run does.
    dry_run: only print what would run, with its estimated cost.
    throughput: per-example-view gradients per second, to turn the cost
      into hours (dry run).
    log: progress printer.
    executor: "local" (this process) or "ray".
    ray_options: keyword arguments of ``ray_runner.run`` (address,
      num_cpus, num_gpus, max_retries) for executor "ray".

  Returns:
    ``{name: status record}``; status is "done", "cached", "failed",
    "skipped" or (dry run) "pending".

  Raises:
    SweepLocked: another driver runs this sweep.
    errors.BadInputError: ``out_dir`` cannot be made or written.
    ValueError: unknown executor.
  """
  if executor not in EXECUTORS:
    raise ValueError(f"Unknown executor {executor!r}; choose from "
                     f"{EXECUTORS}.")
  spec_lib.check_order(specs)
  try:
    os.makedirs(out_dir, exist_ok=True)
  except OSError as e:
    raise errors.BadInputError(
        f"the sweep directory {out_dir} cannot be made ({e.strerror}); "
        "choose another --out.") from None
  with driver_lock(out_dir):
    status = _read_status(out_dir, log)
    if dry_run:
      return _dry_run(out_dir, specs, task, status, throughput, log)
    if executor == "ray":
      ray_runner.run(out_dir, specs, task, status,
                     lambda: _write_status(out_dir, status), log,
                     **(ray_options or {}))
    else:
      with task.session():
        _run_local(out_dir, specs, task, status, log)
    _write_status(out_dir, status)
  return status


def _read_status(out_dir, log):
  path = os.path.join(out_dir, STATUS_FILE)
  if not os.path.exists(path):
    return {}
  try:
    return results_lib.read_json(path).get("runs", {})
  except ValueError:
    log(f"warning: {path} is unreadable; rebuilding it.")
    return {}


def _dry_run(out_dir, specs, task, status, throughput, log):
  total, unit = 0.0, task.cost_unit
  for k, spec in enumerate(specs, 1):
    head = f"[{k}/{len(specs)}] {spec.name}"
    if skip_finished(out_dir, spec, task, status, log, head):
      continue
    cost = dict(task.cost(spec))
    detail = cost.pop("detail", None) or f"{cost['units']:.3g} {unit}"
    total += cost["units"]
    hours = (f", {cost['units'] / throughput / 3600:.2f} h at "
             f"{throughput:g} {unit}/s" if throughput else "")
    log(f"{head}: would run {detail}{hours}.")
    status[spec.name] = {"status": "pending", **cost}
  hours = (f" = {total / throughput / 3600:.1f} h at {throughput:g} "
           f"{unit}/s" if throughput else "")
  todo = sum(1 for s in specs if status[s.name]["status"] == "pending")
  log(f"Dry run: {todo} of {len(specs)} runs to do, {total:.3g} {unit}"
      f"{hours} (the task's estimate; runs that stop early may take less).")
  return status


def _run_local(out_dir, specs, task, status, log):
  bad = set()
  session = {"start": time.time(), "trained": 0, "seconds": 0.0}
  for k, spec in enumerate(specs, 1):
    head = f"[{k}/{len(specs)}] {spec.name}"
    if skip_finished(out_dir, spec, task, status, log, head):
      continue
    missing = [p for p in spec.parents if p in bad]
    if missing:
      bad.add(spec.name)
      status[spec.name] = {"status": "skipped",
                           "reason": f"parent {missing[0]} failed"}
      log(f"{head}: skipped (parent {missing[0]} failed).")
      _write_status(out_dir, status)
      continue
    log(f"{head}: training and evaluating in "
        f"{run_dir(out_dir, spec.name)}" + _sweep_eta(session, specs, k))
    t0 = time.time()
    try:
      task.run(out_dir, spec, prefixed(log, spec.name))
      status[spec.name] = {"status": "done",
                           "wall_time_s": time.time() - t0}
      session["trained"] += 1
      session["seconds"] += time.time() - t0
    except Exception as e:  # pylint: disable=broad-except
      bad.add(spec.name)
      status[spec.name] = failed_record(out_dir, spec.name, e)
      log(f"{head}: FAILED ({status[spec.name]['error']}); the sweep goes "
          "on.")
    _write_status(out_dir, status)


def _sweep_eta(session, specs, k) -> str:
  """" (elapsed, ETA)" from this session's mean time per trained run."""
  elapsed = progress.format_seconds(time.time() - session["start"])
  if not session["trained"]:
    return ""
  left = (len(specs) - k + 1) * session["seconds"] / session["trained"]
  return (f" (sweep elapsed {elapsed}, ETA {progress.format_seconds(left)} "
          "at this session's mean time per run)")


def _write_status(out_dir, status):
  results_lib.write_json_atomic(os.path.join(out_dir, STATUS_FILE),
                                {"runs": status})
