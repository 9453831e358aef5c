"""What the companion-study binaries share: run, report, exit status."""

import os
from typing import Callable

from prifa_tf import errors


def run_study(study: Callable[[], object], out: str, table: str) -> int:
  """Runs ``study`` and prints ``out/table``; returns 0.

  ``--out`` is required. Bad flags, missing data and diverged training are
  ``errors.BadInputError`` (exit 2 through ``console.run_main``); finished
  parts of the study stay on disk and a re-run resumes after them. Any
  other exception is a crash: exit 1, its traceback in ``out/error.txt``.
  """
  if not out:
    raise errors.BadInputError("--out is required.")
  study()
  with open(os.path.join(out, table)) as f:
    print(f.read())
  return 0
