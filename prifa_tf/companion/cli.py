"""What the companion-study binaries share: run, report, exit status."""

import os
import sys
from typing import Callable

from prifa_tf.data import DatasetUnavailableError
from prifa_tf.reporting import console
from prifa_tf.training import ConfigError

USER_ERRORS = (ValueError, ConfigError, DatasetUnavailableError,
               FloatingPointError)


def run_study(study: Callable[[], object], out: str, table: str) -> int:
  """Runs ``study``; prints ``out/table`` and returns 0, or 2 on bad input.

  Bad flags, missing data and diverged training (non-finite weights) are
  reported in one line on stderr; finished parts of the study stay on disk
  and a re-run resumes after them. Any other exception is a crash: one
  line, its traceback in ``out/error.txt``, and status 1.
  """
  if not out:
    print("error: --out is required.", file=sys.stderr)
    return 2
  try:
    study()
  except USER_ERRORS as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  except Exception as e:  # pylint: disable=broad-except
    print(console.report_crash(e, out, console.verbose_requested()),
          file=sys.stderr)
    return 1
  with open(os.path.join(out, table)) as f:
    print(f.read())
  return 0
