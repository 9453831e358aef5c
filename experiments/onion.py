r"""Onion effect (Figures 5, 6, 9).

  python experiments/onion.py --out=sweeps/onion_smoke --scale=smoke
  python experiments/onion.py --out=sweeps/onion --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import onion

if __name__ == "__main__":
  cli.run(onion.ONION)
