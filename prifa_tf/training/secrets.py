"""The secret randomness of a private run: drawn once, kept in the workdir.

DP-SGD's guarantee assumes nobody who reads the released files can
regenerate the noise or the batches. A private run therefore draws its noise
seed and its batch-sampling seed from OS entropy, and keeps them only in
``SECRETS_FILE`` (mode 0600) beside its checkpoints, which a resumed run
needs to continue with the same draws. They appear in no config.json,
results.json, eval.json, TensorBoard file or log line.

``TrainConfig.reproducible`` seeds both from the config instead, for tests
and debugging; such a run's ε holds only against someone without its seeds.
"""

import dataclasses
import glob
import json
import os

from prifa_tf.training.checkpointing import WorkdirError
from prifa_tf.training.config import TrainConfig

SECRETS_FILE = "secrets.json"


@dataclasses.dataclass(frozen=True)
class Seeds:
  """A run's noise and sampling seeds, and whether they are secret."""
  noise: int
  sampling: int
  secret: bool

  def __repr__(self):  # Never print a secret seed by accident.
    if self.secret:
      return "Seeds(<secret>)"
    return f"Seeds(noise={self.noise}, sampling={self.sampling})"


def _draw() -> int:
  return int.from_bytes(os.urandom(8), "little") >> 2  # 62 bits.


def load_or_draw(cfg: TrainConfig, workdir: str) -> Seeds:
  """This run's seeds: from the workdir's secrets file, or freshly drawn.

  Writes nothing; ``pin`` writes the file with the first checkpoint.

  Raises:
    WorkdirError: checkpoints exist but the secrets file is missing or
      unreadable (the run cannot continue with the same draws).
  """
  if not cfg.private or cfg.reproducible:
    noise = cfg.noise_seed if cfg.noise_seed is not None else cfg.seed
    return Seeds(noise=int(noise), sampling=int(cfg.seed), secret=False)
  path = os.path.join(workdir, SECRETS_FILE)
  if os.path.exists(path):
    try:
      with open(path) as f:
        stored = json.load(f)
      return Seeds(noise=int(stored["noise_seed"]),
                   sampling=int(stored["sampling_seed"]), secret=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
      raise WorkdirError(
          f"{path} is unreadable ({type(e).__name__}); it holds the run's "
          "secret seeds, without which it cannot resume. Restore it, or use "
          "a new --workdir; nothing was modified.") from None
  if glob.glob(os.path.join(workdir, "checkpoints", "ckpt-*.index")):
    raise WorkdirError(
        f"{workdir} holds checkpoints but no {SECRETS_FILE}, so the run "
        "cannot resume with its own noise and batches. Restore the file, or "
        "use a new --workdir; nothing was modified.")
  return Seeds(noise=_draw(), sampling=_draw(), secret=True)


def pin(seeds: Seeds, workdir: str) -> None:
  """Writes the secrets file once, readable by its owner only."""
  if not seeds.secret:
    return
  path = os.path.join(workdir, SECRETS_FILE)
  if os.path.exists(path):
    return
  tmp = path + ".tmp"
  if os.path.exists(tmp):
    os.remove(tmp)
  fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
  with os.fdopen(fd, "w") as f:
    json.dump({"noise_seed": seeds.noise, "sampling_seed": seeds.sampling,
               "note": "secret: never publish this file"}, f)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
