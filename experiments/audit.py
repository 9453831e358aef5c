r"""Audits one configuration's ε: the step audit, or the canary audit.

  python experiments/audit.py --mode=step --preset=cifar10_dpsgd_eps8 \
      --workdir=runs/step_audit
  python experiments/audit.py --preset=smoke_dpsgd --workdir=runs/audit
  python experiments/audit.py --preset=cifar10_dpsat_eps8 --workdir=runs/a8 \
      --canaries=1000 --alpha=0.05

``--mode=step`` (white-box, no training): measures one privatisation step's
sensitivity and noise on the run's real engine and composes them into a
lower bound on the run's ε (step_audit.json). ``--mode=canary`` (default):
trains with mislabelled canaries and bounds ε from the model (audit.json).
Exit status 3 when a lower bound exceeds the claimed ε or the engine is
mis-implemented. Bad flags or config: 2.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()


from absl import app
from absl import flags

from prifa_tf import errors
from prifa_tf.evaluation import audit_run
from prifa_tf.privacy import audit
from prifa_tf.training.config import describe_fields
from prifa_tf.training import presets

_PRESET = flags.DEFINE_string("preset", "smoke_dpsgd", "Named configuration.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumable).")
_SET = flags.DEFINE_multi_string(
    "set", [], "Config override key=value; --set=help lists the fields.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_CANARIES = flags.DEFINE_integer("canaries", 500,
                                 "Training examples made canaries (each "
                                 "inserted w.p. 1/2).")
_ALPHA = flags.DEFINE_float("alpha", 0.05, "1 - confidence of the bound.")
_METHOD = flags.DEFINE_enum("method", "clopper-pearson", sorted(audit.METHODS),
                            "Binomial ratio bound.")
_SEED = flags.DEFINE_integer("seed", 0, "Canary choice seed.")
_MODE = flags.DEFINE_enum("mode", "canary", ["canary", "step"],
                          "canary: train and audit the model; step: "
                          "white-box audit of one privatisation step.")
_TRIALS = flags.DEFINE_integer("trials", 2000,
                               "Step audit: fresh-noise releases.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if "help" in _SET.value:
    print(describe_fields())
    return 0
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required.")
  cfg = presets.apply_overrides(presets.get(_PRESET.value), _SET.value)
  if _DATA_DIR.value:
    cfg.data_dir = _DATA_DIR.value
  if not 0 < _ALPHA.value < 0.5:
    raise errors.BadInputError("--alpha must be in (0, 0.5).")
  if _MODE.value == "step":
    if _TRIALS.value < 10:
      raise errors.BadInputError("--trials must be >= 10.")
    audit_run.run_step_audit(cfg, _WORKDIR.value, _TRIALS.value,
                             _ALPHA.value)
  else:
    audit_run.run_audit(cfg, _WORKDIR.value, _CANARIES.value, _ALPHA.value,
                        _METHOD.value, _SEED.value)
  return 0


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _WORKDIR.value)


if __name__ == "__main__":
  run()
