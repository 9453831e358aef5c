r"""Cumulative ablation (Tables 2, 3; Figure 1).

  python experiments/ablation.py --out=sweeps/ablation_smoke --scale=smoke
  python experiments/ablation.py --out=sweeps/ablation --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/ablation.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import ablation


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(ablation.CUMULATIVE)


if __name__ == "__main__":
  run()
