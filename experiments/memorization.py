r"""Memorization during training (Figure 2).

  python experiments/memorization.py --out=sweeps/memorization_smoke \
      --scale=smoke
  python experiments/memorization.py --out=sweeps/memorization \
      --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/memorization.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import timeline


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(timeline.TIMELINE)


if __name__ == "__main__":
  run()
