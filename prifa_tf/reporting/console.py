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

``run_main`` runs a binary's ``main``: bad input (``errors.BadInputError``,
a bad flag or argument) is one ``error: ...`` line and exit status 2, a
failed privacy audit status 3, and anything else one line saying what
failed and where its traceback went (the run's ``error.txt``), status 1.
"""

import logging
import os
import sys
import tempfile
import traceback
from typing import Callable, Optional
import warnings

from prifa_tf import errors

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
  """The informative line of an exception's message.

  TF's graph trace header and file lines are skipped; at most ``limit``
  characters.
  """
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
          ("" if verbose else "; add --verbosity=0 to see it here") + "." +
          (" Re-running the same command resumes where it stopped."
           if directory else ""))


def guarded(main: Callable[[list], int],
            directory: Callable[[], Optional[str]]) -> Callable[[list], int]:
  """``main`` with every exception turned into its exit status.

  - ``errors.BadInputError`` and absl's ``UsageError`` (a missing or
    unexpected argument): one ``error: ...`` line, status 2;
  - ``errors.AuditFailure``: its message, status 3;
  - anything else, including a ``ValueError`` that is not bad input: one
    line from ``report_crash`` (the traceback goes to ``directory()``'s
    ``error.txt``), status 1.

  KeyboardInterrupt and SystemExit pass through.
  """
  def wrapped(argv):
    try:
      return main(argv)
    except Exception as e:  # pylint: disable=broad-except
      status = errors.exit_status(e)
      if status == errors.EXIT_AUDIT_FAILURE:
        print(str(e), file=sys.stderr)
      elif status == errors.EXIT_BAD_INPUT or _is_usage_error(e):
        print(f"error: {e}", file=sys.stderr)
        return errors.EXIT_BAD_INPUT
      else:
        print(report_crash(e, directory(), verbose_requested()),
              file=sys.stderr)
      return status
  return wrapped


def _is_usage_error(error: BaseException) -> bool:
  from absl import app  # pylint: disable=g-import-not-at-top
  return isinstance(error, app.UsageError)


def parse_flags(argv):
  """Parses absl flags, with a bad flag as bad input (status 2).

  absl itself prints "FATAL Flags parsing error" and exits 1 on an unknown
  flag or a value a flag refuses.
  """
  from absl import flags  # pylint: disable=g-import-not-at-top
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}\n  Pass --helpfull to list the flags.",
          file=sys.stderr)
    sys.exit(errors.EXIT_BAD_INPUT)


def run_main(main: Callable[[list], int],
             directory: Callable[[], Optional[str]] = lambda: None) -> None:
  """Runs an absl binary's ``main`` and exits with its status.

  Flags are parsed by ``parse_flags`` and exceptions mapped by
  ``guarded``: 0 done, 1 a crash (traceback in ``directory()``'s
  ``error.txt``), 2 bad input, 3 a failed privacy audit.
  """
  from absl import app  # pylint: disable=g-import-not-at-top
  wrapped = guarded(main, directory)
  app.run(lambda argv: sys.exit(wrapped(argv)), flags_parser=parse_flags)
