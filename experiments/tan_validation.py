r"""Checks a TAN simulation against the run it simulates, paired by seed.

  python experiments/demo.py --out=runs/tan1 --scale=demo --seeds=6 \
      --privacy=private
  python experiments/demo.py --out=runs/tan4 --scale=demo --seeds=6 \
      --privacy=private --tan_factor=4
  python experiments/tan_validation.py --reference=runs/tan1 \
      --simulated=runs/tan4 --out=runs/tan_validation

Pairs each private run of --simulated (one --tan_factor k > 1) with the run
of --reference (--tan_factor=1) of the same dataset and seed, checks that
the two differ only in B, σ and what follows from them, and writes
tan_validation.md/.csv, the paired tests (tan_validation_comparisons.csv)
and a figure into --out. Method: prifa_tf/paper/tan_validation.py; the
committed validation: docs/reproduction_cpu.md.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from absl import flags

from prifa_tf import errors
from prifa_tf.paper import tan_validation
from prifa_tf.reporting import provenance

_REFERENCE = flags.DEFINE_string(
    "reference", None, "Sweep directory run at --tan_factor=1.")
_SIMULATED = flags.DEFINE_string(
    "simulated", None, "The same sweep (same seeds) at --tan_factor=k.")
_OUT = flags.DEFINE_string("out", None, "Where the report goes.")


def main(argv):
  if len(argv) > 1:
    raise errors.BadInputError(f"Unexpected arguments: {argv[1:]}")
  missing = [f"--{f.name}" for f in (_REFERENCE, _SIMULATED, _OUT)
             if not f.value]
  if missing:
    raise errors.BadInputError(f"{', '.join(missing)} required.")
  result = tan_validation.Validation(
      _REFERENCE.value, _SIMULATED.value, _OUT.value).run()
  md = [f for f in result["files"] if f.endswith(".md")][0]
  with open(md, encoding="utf-8") as f:  # The footnote stays in the file.
    print("".join(line for line in f if not line.startswith(
        provenance.FOOTNOTE_PREFIX)).rstrip())
  print(f"Wrote into {_OUT.value}: " + ", ".join(
      sorted(f.rsplit("/", 1)[-1] for f in result["files"])))
  return 0


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _OUT.value)


if __name__ == "__main__":
  run()
