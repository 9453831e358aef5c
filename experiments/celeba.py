r"""CelebA attributes (Table 7, Figure 7).

  python experiments/celeba.py --out=sweeps/celeba_smoke --scale=smoke
  python experiments/celeba.py --out=sweeps/celeba --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import celeba

if __name__ == "__main__":
  cli.run(celeba.CELEBA)
