r"""Privacy budget x data bias (Table 6; Figures 3, 4, 8).

  python experiments/budget_bias.py --out=sweeps/budget_bias_smoke --scale=smoke
  python experiments/budget_bias.py --out=sweeps/budget_bias \
      --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/budget_bias.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import privacy_sweeps


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(privacy_sweeps.TABLE6)


if __name__ == "__main__":
  run()
