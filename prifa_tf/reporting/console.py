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

``guarded`` wraps a binary's ``main``: an unexpected exception becomes one
line saying what failed and where its traceback went (the run's
``error.txt``), and exit status 1; bad input stays the binary's own
``error: ...`` line and status 2.
"""

import logging
import os
import sys
import tempfile
import traceback
from typing import Callable, Optional
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
  flags.FLAGS.set_default("verbosity", absl_logging.WARNING)
  return False


ERROR_FILE = "error.txt"


def first_line(error: BaseException, limit: int = 300) -> str:
  """The informative line of an exception's message (TF's graph trace
  header and file lines skipped), at most ``limit`` characters."""
  text = str(error).strip().splitlines()
  line = text[0] if text else ""
  # TF errors put the useful op message after the graph trace header.
  for candidate in text:
    if candidate.strip() and not candidate.startswith(("Graph execution",
                                                       "Detected at node",
                                                       "  File ")):
      line = candidate.strip()
      break
  return (line[:limit] + " ...") if len(line) > limit else line


def write_traceback(error: BaseException, directory: str) -> str:
  """Writes ``error``'s traceback to ``directory/error.txt``; its path."""
  os.makedirs(directory, exist_ok=True)
  path = os.path.join(directory, ERROR_FILE)
  with open(path, "w") as f:
    f.write("".join(traceback.format_exception(error)))
  return path


def report_crash(error: BaseException, directory: Optional[str],
                 verbose: bool) -> str:
  """Writes the traceback to ``directory/error.txt``; returns one line.

  The directory is the run's workdir (or the sweep's --out); where it
  cannot be written, the traceback goes to a temporary file instead.
  """
  trace = "".join(traceback.format_exception(error))
  path = None
  if directory:
    try:
      path = write_traceback(error, directory)
    except OSError:
      path = None
  if path is None:
    fd, path = tempfile.mkstemp(prefix="prifa_error_", suffix=".txt")
    with os.fdopen(fd, "w") as f:
      f.write(trace)
  if verbose:
    print(trace, file=sys.stderr)
  return (f"error: {type(error).__name__}: {first_line(error)}\n"
          f"  This is a bug or an environment problem, not bad input. The "
          f"full traceback is in {path}" +
          ("" if verbose else "; add --verbosity=0 to see it here") +
          ". Re-running the same command resumes from the last checkpoint.")


def guarded(main: Callable[[list], int],
            directory: Callable[[], Optional[str]]) -> Callable[[list], int]:
  """``main`` that turns an unexpected exception into one clear line.

  Bad input is ``main``'s own business (it prints ``error: ...`` and
  returns 2); anything else it raises is reported by ``report_crash`` and
  exits 1. KeyboardInterrupt and SystemExit pass through.
  """
  def wrapped(argv):
    try:
      return main(argv)
    except Exception as e:  # pylint: disable=broad-except
      print(report_crash(e, directory(), verbose_requested()),
            file=sys.stderr)
      return 1
  return wrapped
