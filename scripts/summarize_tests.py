"""Counts test cases and prints 'N passed, N failed, N skipped'.

Usage: summarize_tests.py [--demo DIR --demo_status N] [--lint_status N]
           TESTLOGS_DIR //tests/a:x_test //tests/b:y_test ...
Cases come from Bazel's JUnit XML; a target without (readable) XML, e.g. it
never ran or timed out, counts as one failure. With --demo, the README demo
(scripts/demo.sh, run by scripts/test.sh) counts as one more case: it passes
when it exited 0 and DIR holds its table with both arms and every run's
results.json. With --lint_status, the linter's run (``ruff check .``, run
by scripts/test.sh) counts as one case that passes when it exited 0.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET


def seconds(xml_path):
  """Seconds recorded in a test.xml (its longest test suite), or None."""
  try:
    root = ET.parse(xml_path).getroot()
  except ET.ParseError:
    return None
  times = [float(s.get("time", 0) or 0) for s in root.iter("testsuite")]
  return max(times) if times else None


def count(xml_path):
  try:
    root = ET.parse(xml_path).getroot()
  except ET.ParseError:  # Empty or cut-off XML (e.g. a timed-out target).
    return 0, 1, 0
  passed = failed = skipped = 0
  for case in root.iter("testcase"):
    kids = {c.tag for c in case}
    if kids & {"failure", "error"}:
      failed += 1
    elif "skipped" in kids or case.get("result") == "suppressed":
      skipped += 1
    else:
      passed += 1
  if passed + failed + skipped == 0:  # Bazel's fallback XML for a crash.
    for suite in root.iter("testsuite"):
      failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
  return passed, failed, skipped


def check_demo(out, status):
  """Problems with the demo run in ``out`` (empty when it passed)."""
  problems = [] if status == 0 else [f"exited {status}"]
  table = os.path.join(out, "demo.md")
  if not os.path.exists(table):
    return problems + [f"no {table}"]
  with open(table) as f:
    text = f.read()
  for arm in ("DP-SAT + GT", "SAM + GT"):
    if arm not in text:
      problems.append(f"{table} has no row for {arm}")
  page = os.path.join(out, "report.md")
  if not os.path.exists(page):
    problems.append(f"no {page}")
  else:
    with open(page) as f:
      text = f.read()
    for wanted in ("![demo](demo.png)", "| cifar10s/eps8/seed0 | done |",
                   "| cifar10s/nonprivate/seed0 | done |"):
      if wanted not in text:
        problems.append(f"{page} lacks {wanted!r}")
  runs = os.path.join(out, "runs")
  found = 0
  for root, _, files in os.walk(runs):
    if "config.json" in files and "checkpoints" not in root:
      found += 1
      if "results.json" not in files:
        problems.append(f"{root} has no results.json")
  if found < 2:
    problems.append(f"{runs} holds {found} runs, not 2")
  return problems + check_demo_log(
      os.path.join(os.path.dirname(os.path.abspath(out)), "demo.log"))


# Lines that are not the toolkit's own: TF's C++ log, absl's log prefix,
# Python warnings and tracebacks.
NOISE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+: [IWEF] |"
                   r"^[IWEF]\d{4} \d\d:\d\d:\d\d|Warning: |warnings\.warn|"
                   r"^Traceback ")
MAX_DEMO_LINES = 60


def check_demo_log(path):
  """Checks the demo's output beside its directory.

  At most 60 lines, all the toolkit's own. No log (a demo run by hand):
  nothing to check.
  """
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = f.read().splitlines()
  problems = []
  if len(lines) > MAX_DEMO_LINES:
    problems.append(f"{path} has {len(lines)} lines (at most "
                    f"{MAX_DEMO_LINES} at the default verbosity)")
  noise = [line for line in lines if NOISE.search(line)]
  if noise:
    problems.append(f"{path} has {len(noise)} line(s) that are not the "
                    f"toolkit's own, e.g. {noise[0][:120]!r}")
  return problems


def main(argv):
  argv = list(argv)
  demo = lint = None
  if len(argv) > 1 and argv[1] == "--demo":
    demo = (argv[2], int(argv[4]))
    del argv[1:5]
  if len(argv) > 1 and argv[1] == "--lint_status":
    lint = int(argv[2])
    del argv[1:3]
  logs, targets = argv[1], argv[2:]
  totals = [0, 0, 0]
  if lint is not None:
    print("ruff check .: " + ("1 passed, 0 failed" if lint == 0 else
                             f"0 passed, 1 failed (exit {lint})"))
    totals[0 if lint == 0 else 1] += 1
  if demo is not None:
    problems = check_demo(*demo)
    print("scripts/demo.sh: " + ("1 passed, 0 failed" if not problems else
                                 "0 passed, 1 failed: " + "; ".join(problems)))
    totals[0 if not problems else 1] += 1
  for target in targets:
    rel = target.lstrip("/").replace(":", "/")
    top = os.path.join(logs, rel)
    # A sharded target has shard_K_of_N/test.xml instead of test.xml.
    names = os.listdir(top) if os.path.isdir(top) else ()
    shards = sorted(os.path.join(top, d, "test.xml") for d in names
                    if d.startswith("shard_"))
    paths = shards or [os.path.join(top, "test.xml")]
    missing = [p for p in paths if not os.path.exists(p)]
    if missing:
      print(f"{target}: no result ({', '.join(missing)})")
      totals[1] += 1
      continue
    counts = [count(p) for p in paths]
    p, f, s = (sum(c[i] for c in counts) for i in range(3))
    times = [t for t in map(seconds, paths) if t is not None]
    took = f" ({max(times):.0f} s)" if times else ""
    print(f"{target}: {p} passed, {f} failed, {s} skipped{took}")
    for i, v in enumerate((p, f, s)):
      totals[i] += v
  print(f"{totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")
  return 1 if totals[1] or not targets else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
