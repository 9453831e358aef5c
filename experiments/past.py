r"""Seed 002: PAST (privacy-aware sparsity tuning) against L1, L2 and none.

  python experiments/past.py --out=sweeps/past_smoke --scale=smoke \
      --data_dir=../shared/tfds
  python experiments/past.py --out=sweeps/past --scale=paper --dataset=cifar100

Six disjoint parts of the pooled data, base models, tuned arms, metric and
NN attacks (shadow-calibrated), past.md / past.csv and two figures. PAST is
non-private: no ε is claimed, and --target_epsilon is refused. Resumable.
Exit status: 0 done, 2 bad flags or data.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()


from absl import app
from absl import flags

from prifa_tf import errors
from prifa_tf.companion import cli
from prifa_tf.companion import past_study

_OUT = flags.DEFINE_string("out", None, "Study directory (resumable).")
_SCALE = flags.DEFINE_enum("scale", "smoke", sorted(past_study.SCALES),
                           "paper: six parts of 10,000, WRN-16-4, 100+50 "
                           "epochs; smoke: CPU minutes; tiny: tests.")
_DATASET = flags.DEFINE_enum("dataset", "cifar10", ["cifar10", "cifar100"],
                             "Dataset (λ = 1e-3 for CIFAR-10, 1e-4 for "
                             "CIFAR-100).")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_SEED = flags.DEFINE_integer("seed", 0, "Split, initialisation and order.")
_ALPHAS = flags.DEFINE_list("alphas", [], "PAST's α grid (default: the "
                            "scale's).")
_EPS = flags.DEFINE_float("target_epsilon", None,
                          "Refused: PAST is a non-private defense.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _EPS.value is not None:
    raise errors.BadInputError(
        "PAST tunes on member data without noise; it is a non-private "
        "defense and no ε can be claimed for its models. Drop "
        "--target_epsilon.")
  try:
    alphas = [float(a) for a in _ALPHAS.value]
  except ValueError:
    alphas = [-1.0]
  if any(a < 0 for a in alphas):
    raise errors.BadInputError(
        f"--alphas must be numbers >= 0: {_ALPHAS.value}")
  return cli.run_study(
      lambda: past_study.run(_OUT.value, _DATASET.value,
                             past_study.SCALES[_SCALE.value],
                             _DATA_DIR.value, _SEED.value, alphas or None),
      _OUT.value, "past.md")


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _OUT.value)


if __name__ == "__main__":
  run()
