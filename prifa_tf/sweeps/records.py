"""What the sweep executors share.

Where a run lives, and how its status is recorded.

``runner`` (in process) and ``ray_runner`` (Ray tasks) both import this
module; ``runner`` hands a Ray sweep to ``ray_runner``, which never
imports ``runner``.
"""

import os

from prifa_tf.reporting import console


def run_dir(out_dir: str, name: str) -> str:
  """The workdir of run ``name`` (``a/b`` -> ``out_dir/runs/a/b``)."""
  return os.path.join(out_dir, "runs", *name.split("/"))


def skip_finished(out_dir, spec, task, status, log, head) -> bool:
  """Marks a finished run "cached" (and says so); whether it was."""
  if not task.is_finished(out_dir, spec):
    return False
  status[spec.name] = {**status.get(spec.name, {}), "status": "cached"}
  log(f"{head}: finished, skipped.")
  return True


def failed_record(out_dir: str, name: str, error: BaseException) -> dict:
  """The status of a failed run; its traceback goes to error.txt."""
  console.write_traceback(error, run_dir(out_dir, name))
  return {"status": "failed",
          "error": f"{type(error).__name__}: {console.first_line(error)}"}


def prefixed(log, name):
  """``log`` with every line indented and tagged ``[name]``."""
  def out(message):
    for line in str(message).splitlines():
      log(f"  [{name}] {line}")
  return out
