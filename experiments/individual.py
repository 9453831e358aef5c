r"""Each technique alone on the baseline (Table 8).

  python experiments/individual.py --out=sweeps/individual_smoke --scale=smoke
  python experiments/individual.py --out=sweeps/individual \
      --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/individual.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import ablation


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(ablation.INDIVIDUAL)


if __name__ == "__main__":
  run()
