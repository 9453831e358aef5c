"""Atomic result files: a crash never leaves a half-written JSON."""

import json
import math
import os
import tempfile
from prifa_tf.errors import ResultFileError


def _clean(obj):
  """JSON-safe copy: numpy scalars to Python, NaN/inf to strings."""
  if isinstance(obj, dict):
    return {str(k): _clean(v) for k, v in obj.items()}
  if isinstance(obj, (list, tuple)):
    return [_clean(v) for v in obj]
  if hasattr(obj, "item") and callable(obj.item):
    try:
      obj = obj.item()
    except (ValueError, TypeError):
      obj = obj.tolist()
  if isinstance(obj, float) and not math.isfinite(obj):
    return str(obj)
  return obj


def write_json_atomic(path: str, payload) -> None:
  """Writes JSON to ``path`` via a temporary file and ``os.replace``."""
  directory = os.path.dirname(os.path.abspath(path))
  os.makedirs(directory, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_",
                             suffix=os.path.basename(path))
  try:
    with os.fdopen(fd, "w") as f:
      json.dump(_clean(payload), f, indent=2, sort_keys=True)
      f.flush()
      os.fsync(f.fileno())
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def nearest_existing(path: str) -> str:
  """``path`` (absolute) or its closest ancestor that exists."""
  probe = os.path.abspath(path)
  while not os.path.exists(probe):
    probe = os.path.dirname(probe)
  return probe


def is_writable(directory: str) -> bool:
  """Whether a file can really be created in ``directory``.

  Probed: for root, permission bits alone do not tell.
  """
  try:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp_probe_")
  except OSError:
    return False
  os.close(fd)
  os.remove(tmp)
  return True


def read_json(path: str):
  """Reads a JSON file; an unreadable one raises with its path named."""
  with open(path) as f:
    try:
      return json.load(f)
    except json.JSONDecodeError as e:
      raise ResultFileError(
          f"{path} is not valid JSON ({e}); it may be truncated or edited. "
          "Move it away (the run or evaluation that wrote it re-creates it) "
          "or restore it.") from e
