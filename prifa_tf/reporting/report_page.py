"""One Markdown page per sweep: ``report.md``.

It gathers what a sweep's report wrote (every table, with the paper's
numbers where the table has them, and every figure), a line per run with
its status, ε spent and wall time, and the provenance of the page, so that
a researcher reads one file. It only links and copies what is already on
disk: it computes no number of its own.
"""

import math
import os
from typing import Dict, Sequence

from prifa_tf.reporting import provenance
from prifa_tf.reporting import tables

PAGE = "report.md"


def _fmt(value, digits=3) -> str:
  """A number, or "–" for a missing one (None or NaN)."""
  try:
    number = float(value)
  except (TypeError, ValueError):
    return "–" if value is None else str(value)
  return "–" if math.isnan(number) else f"{number:.{digits}f}"


def write(out_dir: str, title: str, files: Sequence[str],
          runs: Dict[str, dict], header: str = "") -> str:
  """Writes ``out_dir/report.md``; returns its path.

  Args:
    out_dir: the sweep directory.
    title: the experiment's title.
    files: what the report wrote (tables ``.md``, figures ``.png``, ...).
    runs: ``{run name: {"status", "epsilon", "epsilon_basis",
      "wall_time_s", "dir"}}``, one per run of the sweep.
    header: a line about the sweep (scale, seeds, datasets).
  """
  lines = [f"# {title}", ""]
  if header:
    lines += [header, ""]
  counts = {}
  for r in runs.values():
    counts[r.get("status", "?")] = counts.get(r.get("status", "?"), 0) + 1
  lines += ["Runs: " + ", ".join(f"{n} {s}" for s, n in sorted(
      counts.items())) + f" (of {len(runs)}).", ""]
  md_tables = [f for f in files if f.endswith(".md")
               and os.path.basename(f) != PAGE]
  if md_tables:
    lines += ["## Tables", ""]
    for path in md_tables:
      with open(path) as f:
        body = f.read().strip()
      # Each table file starts with its own "# title": one level down here.
      if body.startswith("# "):
        body = "#" + body
      lines += [body, "", f"(from `{os.path.relpath(path, out_dir)}`; "
                "every column is in the `.csv` beside it)", ""]
  pngs = [f for f in files if f.endswith(".png")]
  if pngs:
    lines += ["## Figures", ""]
    for path in pngs:
      rel = os.path.relpath(path, out_dir)
      stem = os.path.splitext(rel)[0]
      lines += [f"![{stem}]({rel})", "",
                f"`{rel}` (and `{stem}.pdf`)", ""]
  lines += ["## Runs", "",
            "| run | status | ε spent | ε basis | wall time (s) | workdir |",
            "|---|---|---|---|---|---|"]
  for name, r in runs.items():
    lines.append(
        f"| {name} | {r.get('status', '?')} | {_fmt(r.get('epsilon'))} | "
        f"{_fmt(r.get('epsilon_basis'))} | "
        f"{_fmt(r.get('wall_time_s'), 0)} | "
        f"`{os.path.relpath(r['dir'], out_dir)}` |")
  lines += ["", "## Provenance", "",
            provenance.markdown(provenance.collect()),
            "Each run's `results.json` and `eval.json` carry their own "
            "provenance (commit, packages, devices, command).", ""]
  path = os.path.join(out_dir, PAGE)
  tables.write_text_atomic(path, "\n".join(lines))
  return path
