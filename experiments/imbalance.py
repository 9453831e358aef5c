r"""Seed 004: gender imbalance and DP-SGD on CelebA smile classification.

  python experiments/imbalance.py --out=sweeps/imbalance_smoke --scale=smoke \
      --data_dir=/path/to/tfds          # needs the celeb_a TFDS data
  python experiments/imbalance.py --out=sweeps/imbalance --scale=paper \
      --pretrained=imagenet_wrn_16_4.h5

Female:male ratios × {non-DP, z = 1.5, 0.7, 0.5} at S = 5 (δ = 1e-6), and
S ∈ {1, 5, 10} at 70:30. Writes imbalance.md / .csv (ε from our RDP
accountant beside the seed's stated values) and Figures 1-5. Resumable.
Exit status: 0 done, 2 bad flags or missing data.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()


from absl import app
from absl import flags

from prifa_tf.companion import cli
from prifa_tf.companion import imbalance_study

_OUT = flags.DEFINE_string("out", None, "Study directory (resumable).")
_SCALE = flags.DEFINE_enum("scale", "smoke", sorted(imbalance_study.SCALES),
                           "paper: 30,000 images, 60 epochs; smoke: 1,000 "
                           "images, 2 epochs (CPU); tiny: tests.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_SEED = flags.DEFINE_integer("seed", 0, "Subset, initialisation and noise.")
_PRETRAINED = flags.DEFINE_string(
    "pretrained", None, "ImageNet checkpoint of the WRN (HDF5 by layer "
    "name); the seed fine-tunes an ImageNet ResNet-18.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  return cli.run_study(
      lambda: imbalance_study.run(
          _OUT.value, imbalance_study.SCALES[_SCALE.value], _DATA_DIR.value,
          _SEED.value, _PRETRAINED.value),
      _OUT.value, "imbalance.md")


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _OUT.value)


if __name__ == "__main__":
  run()
