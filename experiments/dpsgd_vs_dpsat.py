r"""DP-SGD vs DP-SAT over epsilon (Table 4).

  python experiments/dpsgd_vs_dpsat.py --out=sweeps/dpsgd_vs_dpsat_smoke --scale=smoke
  python experiments/dpsgd_vs_dpsat.py --out=sweeps/dpsgd_vs_dpsat --scale=paper --dry_run

Flags and outputs: see `prifa_tf/paper/cli.py` and the README.
"""

from prifa_tf.paper import cli
from prifa_tf.paper import privacy_sweeps

if __name__ == "__main__":
  cli.run(privacy_sweeps.TABLE4)
