#!/usr/bin/env python3
"""Copies a sweep's small result files, for committing, and nothing else.

  python3 scripts/export_results.py SWEEP_DIR DEST_DIR

Kept: the sweep's tables, figures, report and provenance, and per run its
config, results, evaluation, attacks, audit, progress and privacy-by-group
table: what ``--report_only`` needs to rebuild the tables, and what a
reader needs to check them. Left out: checkpoints, weights, TensorBoard
logs, per-example risk scores, and ``secrets.json`` (a private run's noise
and sampling seeds, which must never be released). Prints what it copied;
exits 2 when SWEEP_DIR has no sweep.json.
"""

import fnmatch
import os
import shutil
import sys

SWEEP_FILES = ("*.csv", "*.md", "*.png", "*.pdf", "sweep.json",
               "provenance.json")
RUN_FILES = ("config.json", "results.json", "eval.json", "attacks.csv",
             "audit.json", "progress.json", "privacy_by_group.csv")
NEVER = ("secrets.json",)


def export(src: str, dst: str) -> list:
  """Copies the allow-listed files of sweep ``src`` into ``dst``."""
  if not os.path.isfile(os.path.join(src, "sweep.json")):
    raise FileNotFoundError(f"{src} has no sweep.json: not a sweep directory")
  copied = []
  for root, _, files in os.walk(src):
    rel = os.path.relpath(root, src)
    patterns = SWEEP_FILES if rel == "." else RUN_FILES
    if rel != "." and not rel.startswith("runs" + os.sep):
      continue
    for name in sorted(files):
      if name in NEVER or not any(fnmatch.fnmatch(name, p) for p in patterns):
        continue
      os.makedirs(os.path.join(dst, rel), exist_ok=True)
      shutil.copy2(os.path.join(root, name), os.path.join(dst, rel, name))
      copied.append(os.path.normpath(os.path.join(rel, name)))
  return copied


def main(argv) -> int:
  if len(argv) != 3:
    print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
    return 2
  try:
    copied = export(argv[1], argv[2])
  except FileNotFoundError as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  for path in copied:
    print(path)
  print(f"{len(copied)} files copied into {argv[2]}")
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
