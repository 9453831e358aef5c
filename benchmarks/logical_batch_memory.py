r"""Peak memory of one logical batch vs one physical batch, side by side.

  .venv/bin/python benchmarks/logical_batch_memory.py \
      --model=wrn_16_4 --physical=32 --logical=4096

Runs, each in a fresh subprocess, one private logical step with logical
batch = physical batch and one with the large logical batch (same physical
batch), and prints each process's peak RSS and their ratio. Peak memory
should depend on the physical batch only.
"""

import json
import os
import resource
import subprocess
import sys
import time

from absl import app
from absl import flags

_MODEL = flags.DEFINE_string("model", "wrn_16_4", "Named WRN.")
_PHYSICAL = flags.DEFINE_integer("physical", 32, "Physical batch size.")
_LOGICAL = flags.DEFINE_integer("logical", 4096, "Logical batch size.")
_AUGMULT = flags.DEFINE_integer("augmult", 1, "Augmentation multiplicity K.")
_CHILD = flags.DEFINE_integer("child_logical", 0, "Internal: run one step.")


def child(logical):
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from prifa_tf import models  # pylint: disable=g-import-not-at-top
  from prifa_tf.data import augment  # pylint: disable=g-import-not-at-top
  from prifa_tf.optim import gradient_engine  # pylint: disable=g-import-not-at-top
  from prifa_tf.training import losses  # pylint: disable=g-import-not-at-top
  model = models.build_wide_resnet(models.named_config(_MODEL.value),
                                   private=True)
  k, b = _AUGMULT.value, _PHYSICAL.value
  engine = gradient_engine.GradientEngine(
      model, losses.softmax_cross_entropy, views=augment.num_views(k),
      private=True, l2_norm_clip=1.0, noise_multiplier=1.0)
  rng = np.random.default_rng(0)
  images = rng.normal(size=(b, 32, 32, 3)).astype(np.float32)
  labels = np.arange(b, dtype=np.int32) % 10
  t0 = time.time()
  for j in range(logical // b):
    x = augment.augment_views(tf.constant(images), k, tf.constant([0, j]))
    y = augment.repeat_labels(tf.constant(labels), k)
    engine.accumulate(x, y, tf.ones([b]))
  engine.finalize(logical, seed=(0, 0))
  peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print(json.dumps({"logical": logical, "peak_rss_mib": peak_mib,
                    "seconds": time.time() - t0}))


def main(argv):
  del argv
  if _CHILD.value:
    child(_CHILD.value)
    return
  rows = []
  for logical in (_PHYSICAL.value, _LOGICAL.value):
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), f"--model={_MODEL.value}",
         f"--physical={_PHYSICAL.value}", f"--augmult={_AUGMULT.value}",
         f"--child_logical={logical}"],
        capture_output=True, text=True, check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
  print(f"model={_MODEL.value} physical batch={_PHYSICAL.value} "
        f"K={_AUGMULT.value}")
  for r in rows:
    print(f"  logical {r['logical']:>6}: peak RSS {r['peak_rss_mib']:8.1f} MiB"
          f" ({r['seconds']:.1f} s)")
  print(f"  ratio logical/physical: "
        f"{rows[1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.3f}")


if __name__ == "__main__":
  app.run(main)
