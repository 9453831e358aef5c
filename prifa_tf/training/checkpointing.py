"""Resumable workdirs: config pinning and checkpoint restore with clear errors."""

import os

import tensorflow as tf

from prifa_tf.reporting import results as results_lib
from prifa_tf.training.config import TrainConfig


class WorkdirError(RuntimeError):
  """The workdir belongs to another config, or its checkpoint is unusable."""


def pin_config(cfg: TrainConfig, workdir: str) -> TrainConfig:
  """Records ``cfg`` in ``workdir/config.json`` or checks it matches.

  A resumed run must use the same config, except for the fields in
  ``TrainConfig.RESUMABLE_CHANGES``. An unset ``noise_seed`` is drawn once
  and pinned, so a resumed run continues the same noise stream.

  Returns:
    The effective config (with the pinned noise seed).
  """
  os.makedirs(workdir, exist_ok=True)
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    if cfg.noise_seed is None:
      cfg.noise_seed = int.from_bytes(os.urandom(7), "little")
    results_lib.write_json_atomic(path, cfg.to_dict())
    return cfg
  try:
    stored = TrainConfig.from_dict(results_lib.read_json(path))
  except Exception as e:  # pylint: disable=broad-except
    raise WorkdirError(f"{path} is unreadable ({e}); use a fresh workdir.") \
        from e
  mine, theirs = cfg.to_dict(), stored.to_dict()
  if cfg.noise_seed is None:
    mine["noise_seed"] = theirs["noise_seed"]
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


def restore_latest(manager: tf.train.CheckpointManager, checkpoint) -> int:
  """Restores the newest checkpoint; returns its step or 0 if none.

  Raises:
    WorkdirError: the checkpoint is corrupt or from another model.
  """
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
