r"""The imbalance study (seed 004) at smoke scale on TFDS mock CelebA.

  .venv/bin/python benchmarks/imbalance_smoke_mock.py \
      --out=sweeps/imbalance_smoke_mock

CelebA cannot be downloaded on these machines, so this runs the smoke
preset end to end (every ratio, privacy level and clip) on
``tfds.testing.mock_data`` images, whose attributes are random: the
numbers measure the pipeline and its cost (printed per run and in total),
not the seed's effects. On real data, use experiments/imbalance.py.
"""

import time

from absl import app
from absl import flags
import tensorflow_datasets as tfds

from prifa_tf.companion import imbalance_study

_OUT = flags.DEFINE_string("out", "sweeps/imbalance_smoke_mock",
                           "Study directory (resumable).")
_MOCK = flags.DEFINE_integer("mock_examples", 6000,
                             "Mock CelebA examples per split.")


def main(argv):
  del argv
  scale = imbalance_study.SMOKE
  t0 = time.time()
  with tfds.testing.mock_data(num_examples=_MOCK.value,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    data = imbalance_study.load_data(scale, None)
  print(f"mock data: {time.time() - t0:.0f} s")
  t0 = time.time()
  imbalance_study.run(_OUT.value, scale, data=data)
  wall = time.time() - t0
  runs = len(imbalance_study.runs(scale))
  print(f"{runs} runs in {wall:.0f} s ({wall / runs:.0f} s per run) at "
        f"smoke scale ({scale.train_size} images, {scale.epochs:g} epochs).")
  with open(f"{_OUT.value}/imbalance.md") as f:
    print(f.read())


if __name__ == "__main__":
  app.run(main)
