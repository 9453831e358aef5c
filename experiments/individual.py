r"""Each technique alone on the baseline (Table 8).

  python experiments/individual.py --out=sweeps/individual_smoke --scale=smoke
  python experiments/individual.py --out=sweeps/individual --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import ablation

if __name__ == "__main__":
  cli.run(ablation.INDIVIDUAL)
