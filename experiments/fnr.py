r"""Seed 003: feature-to-noise ratio, disparate impact and robustness.

  python experiments/fnr.py --out=sweeps/fnr_smoke --scale=smoke \
      --data_dir=../shared/tfds

Synthetic patch data with a minority group, a two-layer CNN, and five arms
(non-private, DP-SGD, DP-SGD + augmentation, DP-SGD after public
pre-training, and the same with the first layer frozen), plus the CIFAR-10
variant (non-private vs DP-SGD). Writes fnr.md / .csv and fnr.png.
Resumable per arm. Exit status: 0 done, 2 bad flags or data.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()


from absl import app
from absl import flags

from prifa_tf.companion import cli
from prifa_tf.companion import fnr_study

_OUT = flags.DEFINE_string("out", None, "Study directory (resumable).")
_SCALE = flags.DEFINE_enum("scale", "smoke", sorted(fnr_study.SCALES),
                           "paper, smoke (CPU, minutes) or tiny (tests).")
_DATA_DIR = flags.DEFINE_string("data_dir", None,
                                "TFDS directory (CIFAR-10 variant).")
_SEED = flags.DEFINE_integer("seed", 0, "Data, initialisation and noise.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  return cli.run_study(
      lambda: fnr_study.run(_OUT.value, fnr_study.SCALES[_SCALE.value],
                            _DATA_DIR.value, _SEED.value),
      _OUT.value, "fnr.md")


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _OUT.value)


if __name__ == "__main__":
  run()
