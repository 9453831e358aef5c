"""A sweep's runs as Ray tasks (Ray core, not Tune).

Why core tasks: a sweep is a fixed graph of runs whose edges carry data
(Onion layer i+1 needs layer i's risk scores, a LiRA target its shadows,
the Figure 2 runs their reference). Core tasks express that directly (a
task takes its parents' results as arguments and Ray starts it when they
exist), retry a task whose worker died, and place each on a node with the
resources it asks for. Tune schedules independent trials of a search and
has no edges between trials.

Each run is one task:

- resources: ``num_gpus`` GPUs (Ray sets ``CUDA_VISIBLE_DEVICES`` to
  them), or ``num_cpus`` CPUs on a CPU-only cluster;
- arguments: its parents' task results, so it starts after them, and is
  skipped (not run) when one failed;
- ``max_retries``: a task whose worker process or node dies is run again,
  elsewhere if need be, and resumes from the checkpoint in its workdir
  (workdirs must be on a filesystem every node sees);
- an exception inside the run is not retried: it is recorded as the run's
  failure, as the in-process runner does.

The driver alone writes ``sweep.json``, after each run finishes.
"""

import contextlib
import os
import secrets
import socket
import sys
import time
import traceback
from typing import Callable, Dict, Optional, Sequence

from prifa_tf.errors import RayUnavailable
from prifa_tf.sweeps import records
from prifa_tf.sweeps import spec as spec_lib


def check_reachable(address: Optional[str], timeout: float = 10.0) -> None:
  """Fails fast when HOST:PORT does not answer.

  Ray itself retries for minutes. "auto" and None are left to Ray.
  """
  if not address or address in ("auto", "local"):
    return
  host, _, port = address.rpartition(":")
  if not host or not port.isdigit():
    raise RayUnavailable(f"--ray_address {address!r} is not auto, local or "
                         "HOST:PORT.")
  if host.startswith("ray://"):
    return  # Ray Client: left to Ray.
  try:
    socket.create_connection((host, int(port)), timeout=timeout).close()
  except OSError as e:
    raise RayUnavailable(
        f"no Ray head answers at {address} ({e.strerror or e}); start it "
        "with `ray start --head --port=PORT` there, or pass "
        "--ray_address=local to run on this machine.") from None


def local_auth_env() -> None:
  """A fresh random token for a Ray this process starts.

  Ray 2.60 authenticates every connection with a token; without one in the
  environment it writes one to ~/.ray, which may be read-only or shared.
  Takes effect only before ``ray`` is imported, and never overrides a
  token the user set.
  """
  if "ray" in sys.modules or os.environ.get("RAY_AUTH_TOKEN"):
    return
  os.environ["RAY_AUTH_MODE"] = "token"
  os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)


def worker_env(num_cpus: float, num_gpus: float) -> dict:
  """Environment of a run's worker.

  Quiet TensorFlow and, on CPU, thread pools the size of the run's CPU
  share (TensorFlow reads these at start).
  """
  env = {"TF_CPP_MIN_LOG_LEVEL": "2"}
  if not num_gpus:
    threads = str(max(1, int(num_cpus)))
    env.update(TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS=threads,
               OMP_NUM_THREADS=threads)
  return env


# A Ray worker process runs many tasks: each task type's session (the
# paper's: one decoded copy of each TFDS split) stays open across them, as
# it does across the runs of the in-process runner.
_SESSIONS = contextlib.ExitStack()
_OPEN = set()


def _open_session(task):
  key = (type(task).__module__, type(task).__qualname__)
  if key not in _OPEN:
    _SESSIONS.enter_context(task.session())
    _OPEN.add(key)


def _execute(out_dir, spec, task, *parents):
  """Body of one run's task.

  Returns a status record and never raises, so Ray retries a run only
  when its worker dies, not when the run fails.
  """
  failed = [p for p in parents if p.get("status") in ("failed", "skipped")]
  if failed:
    return {"name": spec.name, "status": "skipped",
            "reason": f"parent {failed[0]['name']} {failed[0]['status']}"}
  t0 = time.time()
  log = records.prefixed(lambda m: print(m, flush=True), spec.name)
  try:
    _open_session(task)
    task.run(out_dir, spec, log)
  except Exception as e:  # pylint: disable=broad-except
    record = records.failed_record(out_dir, spec.name, e)
    print(traceback.format_exc(), flush=True)
    return {"name": spec.name, **record}
  return {"name": spec.name, "status": "done",
          "wall_time_s": time.time() - t0, "node": os.uname().nodename,
          "pid": os.getpid()}


def run(out_dir: str, specs: Sequence[spec_lib.RunSpec], task, status: Dict,
        write_status: Callable[[], None], log: Callable[[str], None],
        address: Optional[str] = None, num_cpus: float = 1,
        num_gpus: Optional[float] = None, max_retries: int = 3) -> None:
  """Submits every unfinished run; records each as it finishes.

  Args:
    out_dir, specs, task: as ``runner.run_sweep``.
    status: the sweep's status records, updated in place.
    write_status: writes ``status`` to sweep.json (the driver only).
    log: progress printer.
    address: "auto" (the cluster this node belongs to), "HOST:PORT", or
      None: start a local Ray for the sweep (unless this process is
      already connected to one).
    num_cpus: CPUs each run asks for.
    num_gpus: GPUs each run asks for (None: 1 if the cluster has GPUs,
      else 0).
    max_retries: retries of a run whose worker or node dies.
  """
  if address is None:
    local_auth_env()
  check_reachable(address)
  try:
    import ray  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise RayUnavailable("executor 'ray' needs Ray: pip install -r "
                         "requirements.txt") from e
  started_here = not ray.is_initialized()
  if started_here:
    # "local": a new Ray on this machine, never one that happens to run.
    ray.init(address=address or "local", include_dashboard=False,
             log_to_driver=True, configure_logging=False)
  try:
    if num_gpus is None:
      num_gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
    remote = ray.remote(_execute)
    resources = dict(
        num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries,
        retry_exceptions=False,
        runtime_env={"env_vars": worker_env(num_cpus, num_gpus)})
    refs, names = {}, {}
    for spec in specs:
      if records.skip_finished(out_dir, spec, task, status, log, spec.name):
        continue
      parents = [refs[p] for p in spec.parents if p in refs]
      ref = remote.options(name=f"run:{spec.name}", **resources).remote(
          out_dir, spec, task, *parents)
      refs[spec.name] = ref
      names[ref] = spec.name
      status[spec.name] = {"status": "submitted"}
    write_status()
    log(f"Submitted {len(refs)} runs to Ray "
        f"({ray.cluster_resources().get('CPU', 0):g} CPUs, "
        f"{ray.cluster_resources().get('GPU', 0):g} GPUs; each run asks "
        f"for {num_cpus:g} CPU(s) and {num_gpus:g} GPU(s)).")
    pending = list(refs.values())
    done = 0
    while pending:
      ready, pending = ray.wait(pending, num_returns=1)
      name = names[ready[0]]
      try:
        record = ray.get(ready[0])
      except Exception as e:  # pylint: disable=broad-except
        # The task could not finish even with retries (e.g. its node died
        # more than max_retries times).
        record = {"status": "failed",
                  "error": f"{type(e).__name__}: {str(e).splitlines()[0]}"}
      record.pop("name", None)
      status[name] = record
      done += 1
      log(f"[{done}/{len(refs)}] {name}: {record['status']}"
          + (f" ({record.get('error') or record.get('reason')})"
             if record["status"] != "done" else
             f" in {record['wall_time_s']:.1f} s"))
      write_status()
  finally:
    if started_here:
      ray.shutdown()
