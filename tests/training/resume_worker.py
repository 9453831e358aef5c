"""Subprocess for the kill-and-resume test: trains a tiny private run.

  python resume_worker.py WORKDIR [DIE_AT_STEP]

With DIE_AT_STEP the process SIGKILLs itself right after that step (between
checkpoints), like a machine losing power. With PRIFA_SECRET_SEEDS=1 in the
environment the run keeps its seeds secret (the default for private runs)
instead of seeding them from the config.
"""

import os
import signal
import sys

from tests import fixtures


def main():
  workdir = sys.argv[1]
  die_at = int(sys.argv[2]) if len(sys.argv) > 2 else None
  fixtures.quiet_tf()

  def callback(_, step):
    if die_at is not None and step == die_at:
      os.kill(os.getpid(), signal.SIGKILL)

  trainer = fixtures.make_trainer(
      workdir, steps=None, target_epsilon=10.0, noise_multiplier=1.0,
      sharpness_rho=0.05, ema_decay=0.9, eval_weights="ema", momentum=0.9,
      checkpoint_every=4, augmult=2, sampling="poisson",
      **({"reproducible": False, "noise_seed": None}
         if os.environ.get("PRIFA_SECRET_SEEDS") == "1" else {}))
  trainer._step_callback = callback  # pylint: disable=protected-access
  trainer.run()


if __name__ == "__main__":
  main()
