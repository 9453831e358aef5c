"""Where a result came from: code version, package versions, devices, command.

Every results.json, eval.json and sweep table records ``collect()``, so that
a number can be traced to the commit (and whether the tree had uncommitted
changes), the library versions and the hardware that produced it.
"""

import functools
import importlib.metadata
import os
import platform
import subprocess
import sys

PACKAGES = ("tensorflow", "tensorflow-privacy", "dp-accounting", "numpy",
            "scikit-learn")
# realpath: under Bazel this file is a symlink into the checkout.
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.realpath(__file__))))


def _git(*args):
  try:
    out = subprocess.run(["git", "-C", _REPO, *args], capture_output=True,
                         text=True, timeout=10, check=False)
  except (OSError, subprocess.SubprocessError):
    return None
  return out.stdout.strip() if out.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def code_version() -> dict:
  """The checkout's commit and whether tracked files differ from it."""
  commit = _git("rev-parse", "HEAD")
  if commit is None:
    return {"git_commit": None, "git_dirty": None,
            "note": f"{_REPO} is not a git checkout (or git is missing)"}
  status = _git("status", "--porcelain", "--untracked-files=no")
  return {"git_commit": commit,
          "git_dirty": None if status is None else bool(status)}


def package_versions() -> dict:
  out = {}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      out[name] = None
  return out


def devices() -> dict:
  """The devices TF sees, and whether its CPU kernels use oneDNN."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from tensorflow.python.framework import test_util  # pylint: disable=g-import-not-at-top,g-direct-tensorflow-import
  return {"visible": [d.name for d in tf.config.list_logical_devices()],
          "onednn": bool(test_util.IsMklEnabled()),
          "machine": platform.machine(), "processor": _cpu_model()}


def _cpu_model():
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:
    pass
  return platform.processor() or None


def collect() -> dict:
  """The provenance record stored beside every result."""
  return {**code_version(), "packages": package_versions(),
          "python": platform.python_version(), "devices": devices(),
          "command": [sys.executable, *sys.argv]}


FOOTNOTE_PREFIX = "Produced by prifa_tf"


def markdown(record: dict) -> str:
  """A short footnote for a table: commit, packages, devices, command."""
  commit = record.get("git_commit") or "unknown"
  dirty = " (with uncommitted changes)" if record.get("git_dirty") else ""
  pkgs = ", ".join(f"{k} {v}" for k, v in record["packages"].items())
  dev = record["devices"]
  return (f"{FOOTNOTE_PREFIX} at commit `{commit[:12]}`{dirty}; {pkgs}; "
          f"Python {record['python']}; devices: {', '.join(dev['visible'])} "
          f"({dev['processor']}, oneDNN {'on' if dev['onednn'] else 'off'}); "
          f"command: `{' '.join(record['command'])}`.")
