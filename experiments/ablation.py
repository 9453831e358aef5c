r"""Cumulative ablation (Tables 2, 3; Figure 1).

  python experiments/ablation.py --out=sweeps/ablation_smoke --scale=smoke
  python experiments/ablation.py --out=sweeps/ablation --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import ablation

if __name__ == "__main__":
  cli.run(ablation.CUMULATIVE)
