r"""Memorization during training (Figure 2).

  python experiments/memorization.py --out=sweeps/memorization_smoke --scale=smoke
  python experiments/memorization.py --out=sweeps/memorization --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import timeline

if __name__ == "__main__":
  cli.run(timeline.TIMELINE)
