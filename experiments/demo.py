r"""The README demo: DP-SAT vs SAM, all techniques, on CIFAR-10S.

  python experiments/demo.py --out=runs/demo            # smoke scale, CPU
  python experiments/demo.py --out=runs/demo_paper --scale=paper

Trains, attacks and scores both models, then writes demo.md/.csv and
demo.png/.pdf. Flags: `prifa_tf/paper/cli.py` and docs/experiments.md;
this experiment: docs/experiments/demo.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import demo


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(demo.DEMO)


if __name__ == "__main__":
  run()
