r"""Privacy budget x data bias (Table 6; Figures 3, 4, 8).

  python experiments/budget_bias.py --out=sweeps/budget_bias_smoke --scale=smoke
  python experiments/budget_bias.py --out=sweeps/budget_bias --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import privacy_sweeps

if __name__ == "__main__":
  cli.run(privacy_sweeps.TABLE6)
