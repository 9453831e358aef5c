r"""Evaluates a finished training run: accuracy, MIA, risk scores, bias, HS.

  python experiments/evaluate.py --workdir=runs/demo
  python experiments/evaluate.py --workdir=runs/c10 --attacks=all \
      --backend=loky --max_examples=10000

Writes eval.json, attacks.csv, risk_scores.csv, mia_roc.png,
risk_score_hist.png and TensorBoard scalars into the workdir, and prints a
compact table. A multi-label (CelebA) run gets Table 7's evaluation instead:
attributes.csv (per attribute: skewness, F1 threshold, Eq. 2 bias, weighted
AP, MIA AUC of each attack), attacks.csv, risk_scores.csv and
attributes_vs_skewness.png; pass e.g. --attacks=threshold,threshold_entropy
there, since every attack runs once per attribute (34 times).
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()


from absl import app
from absl import flags

from prifa_tf import attacks
from prifa_tf.evaluation import run_evaluation

_WORKDIR = flags.DEFINE_string("workdir", None, "A completed training run.")
_ATTACKS = flags.DEFINE_list(
    "attacks", ["threshold", "threshold_entropy", "lr", "mlp"],
    f"Attacks to run, or 'all' for {', '.join(attacks.ALL_ATTACKS)}.")
_BACKEND = flags.DEFINE_enum(
    "backend", None, list(attacks.BACKENDS), attacks.BACKEND_HELP)
_MAX = flags.DEFINE_integer(
    "max_examples", None, "At most this many members and non-members.")
_SEED = flags.DEFINE_integer("seed", 0, "Attack seed.")
_BALANCED = flags.DEFINE_bool(
    "balanced", False, "Give the attacks as many members as non-members "
    "(a seeded subsample of the larger side).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required.")
  chosen = (attacks.ALL_ATTACKS if _ATTACKS.value == ["all"]
            else _ATTACKS.value)
  run_evaluation.evaluate_workdir(_WORKDIR.value, chosen, _BACKEND.value,
                                  _MAX.value, _SEED.value,
                                  balanced=_BALANCED.value)
  return 0


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _WORKDIR.value)


if __name__ == "__main__":
  run()
