r"""The demo's figures beside the targets of its scale, from one sweep.

  .venv/bin/python benchmarks/demo_targets.py --out=results/demo \
      --scale=demo --report_only

Runs ``experiments/demo.py`` with ``--out``, ``--scale`` and the flags after
``--`` (``--report_only`` rebuilds from a sweep's files without training;
finished runs are never retrained), then prints each figure of the sweep's
``demo.csv`` and ``sweep.json`` beside its target:

* ``demo`` scale (the README demo): both runs of a seed within 10 minutes
  (the slowest seed when there are several), training, evaluation and
  attacks included; the private model's COLOR accuracy at
  least 40%; the non-private model above it; the attacks' max AUC higher
  against the non-private model;
* ``cpu`` scale: the private run within 20 minutes; private test accuracy
  at least 50% (55% if possible), non-private at least 65%; the non-private
  max MIA AUC above the private one by more than twice the seed-to-seed
  spread (its standard deviation over seeds; with one seed it is not
  measured).

Wall times are the sweep's per-run ``wall_time_s`` (in the session that
finished the run): TF's start-up and the data decoding are not in them.
A benchmark, not a test: nothing here asserts a figure.
"""

import json
import os
import subprocess
import sys

from absl import app
from absl import flags
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIVATE, NONPRIVATE = "DP-SAT + GT", "SAM + GT"

_OUT = flags.DEFINE_string("out", None, "The demo sweep's directory.",
                           required=True)
_SCALE = flags.DEFINE_enum("scale", "demo", ["demo", "cpu"],
                           "Which scale's targets.")
_REPORT_ONLY = flags.DEFINE_bool(
    "report_only", False, "Rebuild the table from --out's files; no runs.")


def verdict(ok: bool) -> str:
  return "met" if ok else "not met"


def demo_lines(table: pd.DataFrame, sweep: dict):
  """The README demo's figures beside its targets."""
  p, n = table.loc[PRIVATE], table.loc[NONPRIVATE]
  by_seed = {}  # Run names end in /seed<k>: both arms of one seed.
  for name, r in sweep["runs"].items():
    seed = name.rsplit("/", 1)[-1]
    by_seed[seed] = by_seed.get(seed, 0.0) + r.get("wall_time_s", 0.0)
  seconds = max(by_seed.values())
  which = (f" for the slowest of {len(by_seed)} seeds" if len(by_seed) > 1
           else "")
  higher = n["max_auc"] > p["max_auc"]
  return [
      f"- both runs, attacks included: {seconds / 60:.1f} minutes{which} "
      f"(target ≤ 10 {verdict(seconds <= 600)})",
      f"- private (DP-SAT, ε = 8) COLOR test accuracy "
      f"{p['color_accuracy']:.1%}: target ≥ 40% "
      f"{verdict(p['color_accuracy'] >= 0.4)}",
      f"- non-private above private: {n['color_accuracy']:.1%} against "
      f"{p['color_accuracy']:.1%} (COLOR), {n['gray_accuracy']:.1%} against "
      f"{p['gray_accuracy']:.1%} (GRAY)",
      f"- max MIA AUC non-private {n['max_auc']:.3f}, private "
      f"{p['max_auc']:.3f}: {'higher' if higher else 'not higher'} against "
      "the non-private model",
  ]


def cpu_lines(table: pd.DataFrame, sweep: dict):
  """The CPU scale's figures beside its targets."""
  p, n = table.loc[PRIVATE], table.loc[NONPRIVATE]
  private_runs = [r["wall_time_s"] for name, r in sweep["runs"].items()
                  if "/eps" in name and "wall_time_s" in r]
  gap = n["max_auc"] - p["max_auc"]
  seeds = int(min(p["seeds"], n["seeds"]))
  if seeds < 2:
    spread = "one seed: the seed-to-seed spread is not measured"
  else:
    sd = max(p["max_auc_std"], n["max_auc_std"])
    spread = (f"seed-to-seed spread {sd:.3f} over {seeds} seeds: target "
              f"> {2 * sd:.3f} {verdict(gap > 2 * sd)}")
  lines = [
      f"- private (DP-SAT, ε = 8) test accuracy {p['test_accuracy']:.1%}: "
      f"target ≥ 50% {verdict(p['test_accuracy'] >= 0.5)}, ≥ 55% "
      f"{verdict(p['test_accuracy'] >= 0.55)}",
      f"- non-private (SAM) test accuracy {n['test_accuracy']:.1%}: target "
      f"≥ 65% {verdict(n['test_accuracy'] >= 0.65)}",
      f"- max MIA AUC non-private {n['max_auc']:.3f}, private "
      f"{p['max_auc']:.3f}: difference {gap:+.3f} ({spread})",
  ]
  if private_runs:
    worst = max(private_runs)
    lines.insert(0, f"- private run, attacks included: {worst / 60:.1f} "
                 f"minutes (target ≤ 20 {verdict(worst <= 1200)})")
  return lines


def target_lines(out: str, scale: str):
  """The figures of the demo sweep in ``out`` beside ``scale``'s targets."""
  table = pd.read_csv(os.path.join(out, "demo.csv")).set_index("model")
  with open(os.path.join(out, "sweep.json")) as f:
    sweep = json.load(f)
  return (demo_lines if scale == "demo" else cpu_lines)(table, sweep)


def main(argv):
  command = [sys.executable, os.path.join(ROOT, "experiments", "demo.py"),
             f"--out={_OUT.value}", f"--scale={_SCALE.value}"] + argv[1:]
  if _REPORT_ONLY.value:
    command.append("--report_only")
  status = subprocess.run(command, check=False).returncode
  if status:
    sys.exit(status)
  print(f"\n{_SCALE.value} scale: figures beside targets ({_OUT.value})")
  for line in target_lines(_OUT.value, _SCALE.value):
    print(line)


if __name__ == "__main__":
  app.run(main)
