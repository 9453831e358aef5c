"""One worker of the two-process MultiWorkerMirroredStrategy test.

  TF_CONFIG=... python multiworker_worker.py WORKDIR [--secret]
  python multiworker_worker.py WORKDIR --single   (reference, one process)

--secret keeps the seeds secret (the default for private runs; the chief's
are broadcast to the other worker) instead of seeding them from the config.
"""

import sys

import numpy as np

from tests import fixtures


def main():
  workdir = sys.argv[1]
  fixtures.quiet_tf()
  from prifa_tf.training import distribution  # pylint: disable=g-import-not-at-top
  strategy = None if "--single" in sys.argv else \
      distribution.make_strategy("multi_worker")
  trainer = fixtures.make_trainer(
      workdir, distribution=strategy, steps=3, sharpness_rho=0.05,
      momentum=0.9, ema_decay=0.9, eval_weights="ema", checkpoint_every=2,
      **({"reproducible": False, "noise_seed": None}
         if "--secret" in sys.argv else {}))
  trainer.run()
  np.save(f"{workdir}/weights_{distribution.task_name(trainer.distribution)}"
          ".npy", np.concatenate([w.ravel() for w in
                                  fixtures.final_weights(trainer)]))


if __name__ == "__main__":
  main()
