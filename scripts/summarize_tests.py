"""Counts test cases in Bazel's JUnit XML and prints 'N passed, N failed'.

Usage: summarize_tests.py TESTLOGS_DIR //tests/a:x_test //tests/b:y_test ...
A target without (readable) XML, e.g. it never ran or timed out, counts as
one failure.
"""

import os
import sys
import xml.etree.ElementTree as ET


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


def main(argv):
  logs, targets = argv[1], argv[2:]
  totals = [0, 0, 0]
  for target in targets:
    rel = target.lstrip("/").replace(":", "/")
    path = os.path.join(logs, rel, "test.xml")
    if not os.path.exists(path):
      print(f"{target}: no result")
      totals[1] += 1
      continue
    p, f, s = count(path)
    print(f"{target}: {p} passed, {f} failed" + (f", {s} skipped" if s else ""))
    for i, v in enumerate((p, f, s)):
      totals[i] += v
  line = f"{totals[0]} passed, {totals[1]} failed"
  if totals[2]:
    line += f", {totals[2]} skipped"
  print(line)
  return 1 if totals[1] or not targets else 0


if __name__ == "__main__":
  sys.exit(main(sys.argv))
