"""Resumable workdirs: a pinned config, and restores with clear errors."""

import glob
import os

import tensorflow as tf

from prifa_tf.errors import WorkdirError
from prifa_tf.reporting import results as results_lib
from prifa_tf.training.config import TrainConfig


def check_workdir(workdir: str) -> None:
  """Refuses a workdir that is a file, lies under a file, or is read-only.

  Nothing is created: the checks run before any data is read.
  """
  path = os.path.abspath(workdir)
  probe = results_lib.nearest_existing(path)
  if not os.path.isdir(probe):
    where = "is a file" if probe == path else f"lies under the file {probe}"
    raise WorkdirError(f"--workdir {workdir} {where}; choose a directory.")
  if not results_lib.is_writable(probe):
    raise WorkdirError(f"{probe} is not writable, so {workdir} cannot hold "
                       "checkpoints and results; choose a writable --workdir.")
  if probe == path:
    for sub in ("checkpoints", "tensorboard"):
      d = os.path.join(path, sub)
      if os.path.isdir(d) and not results_lib.is_writable(d):
        raise WorkdirError(f"{d} is not writable; the run cannot resume "
                           "there. Fix its permissions or use a fresh "
                           "--workdir.")


def check_restorable(checkpoint_dir: str) -> None:
  """Refuses checkpoints that exist but that TF's state file cannot name.

  Without this, TF logs a warning, training restarts at step 0 and the
  old ``ckpt-*`` files are overwritten.
  """
  saved = sorted((os.path.basename(p)[:-len(".index")] for p in
                  glob.glob(os.path.join(checkpoint_dir, "ckpt-*.index"))),
                 key=lambda name: (len(name), name))
  if not saved:
    return
  try:
    latest = tf.train.latest_checkpoint(checkpoint_dir)
  except Exception:  # pylint: disable=broad-except
    latest = None
  if latest is None:
    raise WorkdirError(
        f"{checkpoint_dir} holds checkpoints ({', '.join(saved)}) but its "
        "state file 'checkpoint' is missing or unreadable, so none can be "
        "restored. Restore that file (it names the newest, e.g. "
        f"model_checkpoint_path: \"{saved[-1]}\"), or move the directory "
        "away to start over; nothing was modified.")


def check_config(cfg: TrainConfig, workdir: str) -> TrainConfig:
  """Checks ``cfg`` against ``workdir/config.json``, writing nothing.

  A resumed run must use the same config, except for the fields in
  ``TrainConfig.RESUMABLE_CHANGES``. (A private run's secret seeds are not
  in the config: see ``training/secrets.py``.)

  Returns:
    The effective config.
  """
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return cfg
  try:
    stored = TrainConfig.from_dict(results_lib.read_json(path))
  except Exception as e:  # pylint: disable=broad-except
    raise WorkdirError(f"{path} is unreadable ({e}); use a fresh workdir.") \
        from e
  mine, theirs = cfg.to_dict(), stored.to_dict()
  diff = sorted(k for k in mine if mine[k] != theirs[k]
                and k not in TrainConfig.RESUMABLE_CHANGES)
  if diff:
    detail = ", ".join(f"{k}: workdir={theirs[k]!r} now={mine[k]!r}"
                       for k in diff)
    raise WorkdirError(
        f"Workdir {workdir} was started with a different config ({detail}). "
        "Use a new --workdir, or the original settings to resume.")
  for k in TrainConfig.RESUMABLE_CHANGES:
    setattr(stored, k, mine[k])
  return stored


def pin_config(cfg: TrainConfig, workdir: str) -> None:
  """Writes ``workdir/config.json`` once (at the first checkpoint)."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    results_lib.write_json_atomic(path, cfg.to_dict())


def restore_latest(manager: tf.train.CheckpointManager, checkpoint) -> int:
  """Restores the newest checkpoint; returns its step or 0 if none.

  Raises:
    WorkdirError: the checkpoint is corrupt or from another model.
  """
  check_restorable(manager.directory)
  path = manager.latest_checkpoint
  if path is None:
    return 0
  try:
    checkpoint.restore(path).assert_existing_objects_matched()
  except Exception as e:  # pylint: disable=broad-except
    raise WorkdirError(
        f"Checkpoint {path} is corrupt or incompatible with this model "
        f"({type(e).__name__}: {str(e)[:300]}). Move it away (or use a fresh "
        "--workdir) to start over; nothing was modified.") from e
  return int(path.rsplit("-", 1)[-1])
