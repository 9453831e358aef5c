"""What a binary prints: quiet by default, loud on request.

Every experiment binary calls ``setup()`` before it imports TensorFlow. At
the default verbosity it silences, at their source, the messages known to
be harmless on this stack:

- TensorFlow's C++ start-up lines (cuDNN/cuFFT/cuBLAS factory errors, CPU
  feature notes, TensorRT, oneDNN), by ``TF_CPP_MIN_LOG_LEVEL=3``;
- absl INFO lines (TFDS "fields ... differ on disk", TF-Privacy's "Running
  attack"), by absl's verbosity WARNING;
- TensorFlow's Python warnings (``tf.function`` retracing, "Reduce to ...
  broadcast" under MirroredStrategy, pfor's while_loop notes), by the
  ``tensorflow`` logger at ERROR;
- scikit-learn's warnings (ConvergenceWarning of the MLP attack, the RF
  grid's FitFailedWarning) and TF-Privacy's divide-by-zero
  RuntimeWarnings, by ``warnings`` filters (also passed to worker
  processes through ``PYTHONWARNINGS``).

Errors are never silenced. absl's own switch brings everything back:
``--verbosity=0`` (or ``-v 0``; higher is more) on any binary.
"""

import logging
import os
import sys
import warnings

# Flags that mean "the user asked for verbosity" (absl's own switch).
_LOUD_FLAGS = ("--verbosity", "-v", "--v")

# Third-party modules whose warnings are known to be harmless here.
_QUIET_MODULES = ("sklearn", "tensorflow_privacy", "tensorflow_datasets",
                  "keras", "tensorflow", "joblib")


def verbose_requested(argv=None) -> bool:
  """True when the command line sets absl's --verbosity (or -v)."""
  for arg in (sys.argv if argv is None else argv)[1:]:
    if arg.split("=", 1)[0] in _LOUD_FLAGS:
      return True
  return False


def setup(argv=None) -> bool:
  """Quiets known-harmless output unless --verbosity/-v was given.

  Call before TensorFlow is imported (the C++ log level is read then).
  Returns whether the run is verbose.
  """
  if verbose_requested(argv):
    return True
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  for module in _QUIET_MODULES:
    warnings.filterwarnings("ignore", module=module + r"(\.|$)")
  # Worker processes (joblib's loky backend) inherit this.
  os.environ.setdefault("PYTHONWARNINGS", "ignore")
  logging.getLogger("tensorflow").setLevel(logging.ERROR)
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  absl_logging.set_verbosity(absl_logging.WARNING)
  # absl's app.run applies the --verbosity flag's default (INFO) after
  # parsing; keep WARNING unless the flag was given.
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    flags.FLAGS.set_default("verbosity", absl_logging.WARNING)
  except (KeyError, AttributeError):
    pass
  return False
