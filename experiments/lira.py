r"""LiRA (online and offline) against TF-Privacy's threshold attack.

  python experiments/lira.py --out=sweeps/lira_smoke --scale=smoke \
      --privacy=nonprivate
  python experiments/lira.py --out=sweeps/lira --scale=paper --dry_run

Trains --num_models models on random halves of the training pool (keep
matrix drawn entry by entry), attacks each with the others as shadows, and
writes lira.md / .csv, rmia.md / .csv, log-log ROC plots and per-example
scores keyed by id. Flags: `prifa_tf/paper/cli.py` and docs/experiments.md;
this experiment: docs/experiments/lira.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from prifa_tf.paper import cli
from prifa_tf.paper import lira_experiment


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  cli.run(lira_experiment.LIRA)


if __name__ == "__main__":
  run()
