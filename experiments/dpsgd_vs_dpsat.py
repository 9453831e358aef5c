r"""DP-SGD vs DP-SAT over epsilon (Table 4).

  python experiments/dpsgd_vs_dpsat.py --out=sweeps/dpsgd_vs_dpsat_smoke \
      --scale=smoke
  python experiments/dpsgd_vs_dpsat.py --out=sweeps/dpsgd_vs_dpsat \
      --scale=paper --dry_run

Flags: `prifa_tf/paper/cli.py` and docs/experiments.md; this experiment:
docs/experiments/dpsgd_vs_dpsat.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import privacy_sweeps


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(privacy_sweeps.TABLE4)


if __name__ == "__main__":
  run()
