r"""Onion effect (Figures 5, 6, 9).

  python experiments/onion.py --out=sweeps/onion_smoke --scale=smoke
  python experiments/onion.py --out=sweeps/onion --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/onion.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import onion


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(onion.ONION)


if __name__ == "__main__":
  run()
