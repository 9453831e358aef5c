r"""Trains one configuration (private or not) into a resumable workdir.

  python experiments/train.py --preset=smoke --workdir=runs/demo
  python experiments/train.py --preset=cifar10_dpsat_eps8 --workdir=runs/c10 \
      --set=physical_batch_size=128 --set=per_example=vectorized

Re-running the same command after an interruption resumes from the last
checkpoint. --distribution=mirrored / multi_worker spreads each physical
batch over replicas; the result equals the single-device one. Results land in
WORKDIR/results.json, TensorBoard logs in
WORKDIR/tensorboard. --list_presets prints the presets.
"""

# Quiet known-harmless TF/absl/scikit-learn output before TF is imported
# (--verbosity or -v brings it back).
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

from absl import app
from absl import flags

from prifa_tf import errors
from prifa_tf.evaluation import mia_monitor
from prifa_tf.training.config import describe_fields
from prifa_tf.training import distribution
from prifa_tf.training import presets
from prifa_tf.training import train

_PRESET = flags.DEFINE_string("preset", "smoke", "Named configuration.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory (resumable).")
_SET = flags.DEFINE_multi_string(
    "set", [], "Config override key=value, repeatable (e.g. --set=steps=100);"
    " --set=help lists every field with its type, default and meaning.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_DOWNLOAD = flags.DEFINE_bool("download", False, "Let TFDS download data.")
_LIST = flags.DEFINE_bool("list_presets", False, "Print presets and exit.")
_DISTRIBUTION = flags.DEFINE_enum(
    "distribution", "none", distribution.KINDS,
    "none; mirrored (all local GPUs, or --cpu_replicas logical CPUs); "
    "multi_worker (needs TF_CONFIG). Results do not depend on it.")
_MIA_EVERY = flags.DEFINE_integer(
    "mia_every", 0, "Run membership inference every N steps during training "
    "(0: off); writes mia_history.json/png (the paper's Figure 2).")
_MIA_TRACK = flags.DEFINE_list(
    "mia_track_ids", [], "Training ids whose membership probability to track.")
_CPU_REPLICAS = flags.DEFINE_integer(
    "cpu_replicas", 0, "With --distribution=mirrored: N logical CPU devices.")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _LIST.value:
    for name in sorted(presets.PRESETS):
      print(name)
    return 0
  if "help" in _SET.value:
    print(describe_fields())
    return 0
  if not _WORKDIR.value:
    raise app.UsageError("--workdir is required.")
  strategy = distribution.make_strategy(_DISTRIBUTION.value,
                                        _CPU_REPLICAS.value)
  cfg = presets.apply_overrides(presets.get(_PRESET.value), _SET.value)
  if _DATA_DIR.value:
    cfg.data_dir = _DATA_DIR.value
  if _DOWNLOAD.value:
    cfg.download = True
  try:
    track_ids = [int(i) for i in _MIA_TRACK.value]
  except ValueError:
    raise errors.BadInputError(
        f"--mia_track_ids must be training ids (integers, comma-separated);"
        f" got {_MIA_TRACK.value}.") from None
  callback = None
  if _MIA_EVERY.value:
    callback = mia_monitor.TrainerMIACallback(_MIA_EVERY.value,
                                              track_ids=track_ids)
  train(cfg, _WORKDIR.value, distribution=strategy, step_callback=callback)
  return 0


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main, lambda: _WORKDIR.value)


if __name__ == "__main__":
  run()
