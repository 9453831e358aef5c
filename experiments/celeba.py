r"""CelebA attributes (Table 7, Figure 7).

  python experiments/celeba.py --out=sweeps/celeba_smoke --scale=smoke
  python experiments/celeba.py --out=sweeps/celeba --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/celeba.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import celeba


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(celeba.CELEBA)


if __name__ == "__main__":
  run()
