"""scripts/summarize_tests.py: the suite's closing line counts honestly."""

import os
import subprocess
import sys

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "summarize_tests.py")


def xml(cases, time="3.5"):
  body = "".join(
      f'<testcase name="c{i}">{"<" + kind + "/>" if kind else ""}</testcase>'
      for i, kind in enumerate(cases))
  return (f'<testsuites><testsuite name="s" time="{time}">{body}'
          "</testsuite></testsuites>")


class SummarizeTestsTest(absltest.TestCase):

  def write(self, logs, rel, text):
    path = os.path.join(logs, rel, "test.xml")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
      f.write(text)

  def run_script(self, *args):
    return subprocess.run([sys.executable, SCRIPT, *args],
                          capture_output=True, text=True, check=False)

  def test_counts_shards_skips_failures_and_missing_targets(self):
    logs = self.create_tempdir().full_path
    self.write(logs, "tests/a/x_test", xml(["", "", "skipped"]))
    self.write(logs, "tests/a/y_test/shard_1_of_2", xml(["", "failure"]))
    self.write(logs, "tests/a/y_test/shard_2_of_2", xml(["", ""], "9"))
    self.write(logs, "tests/a/cut_test", "<testsuites><testsu")
    proc = self.run_script(logs, "//tests/a:x_test", "//tests/a:y_test",
                           "//tests/a:cut_test", "//tests/a:gone_test")
    lines = proc.stdout.splitlines()
    self.assertIn("//tests/a:x_test: 2 passed, 0 failed, 1 skipped (4 s)",
                  lines)
    self.assertIn("//tests/a:y_test: 3 passed, 1 failed, 0 skipped (9 s)",
                  lines)
    self.assertTrue(any(line.startswith("//tests/a:gone_test: no result")
                        for line in lines))
    self.assertEqual(lines[-1], "5 passed, 3 failed, 1 skipped")
    self.assertEqual(proc.returncode, 1)

  def test_all_passing_exits_zero_and_always_prints_skips(self):
    logs = self.create_tempdir().full_path
    self.write(logs, "tests/a/x_test", xml(["", ""]))
    proc = self.run_script(logs, "//tests/a:x_test")
    self.assertEqual(proc.stdout.splitlines()[-1],
                     "2 passed, 0 failed, 0 skipped")
    self.assertEqual(proc.returncode, 0)

  def test_demo_case(self):
    logs = self.create_tempdir().full_path
    self.write(logs, "tests/a/x_test", xml([""]))
    demo = self.create_tempdir().full_path
    proc = self.run_script("--demo", demo, "--demo_status", "0", logs,
                           "//tests/a:x_test")
    self.assertIn("scripts/demo.sh: 0 passed, 1 failed: no ", proc.stdout)
    self.assertEqual(proc.stdout.splitlines()[-1],
                     "1 passed, 1 failed, 0 skipped")
    with open(os.path.join(demo, "demo.md"), "w") as f:
      f.write("| DP-SAT + GT |\n| SAM + GT |\n")
    for arm in ("eps8", "nonprivate"):
      run = os.path.join(demo, "runs", "cifar10s", arm, "seed0")
      os.makedirs(run)
      for name in ("config.json", "results.json"):
        with open(os.path.join(run, name), "w") as f:
          f.write("{}")
    proc = self.run_script("--demo", demo, "--demo_status", "0", logs,
                           "//tests/a:x_test")
    self.assertIn("report.md", proc.stdout)  # The sweep's page is missing.
    with open(os.path.join(demo, "report.md"), "w") as f:
      f.write("![demo](demo.png)\n| cifar10s/eps8/seed0 | done |\n"
              "| cifar10s/nonprivate/seed0 | done |\n")
    proc = self.run_script("--demo", demo, "--demo_status", "0", logs,
                           "//tests/a:x_test")
    self.assertIn("scripts/demo.sh: 1 passed, 0 failed", proc.stdout)
    self.assertEqual(proc.returncode, 0)
    proc = self.run_script("--demo", demo, "--demo_status", "1", logs,
                           "//tests/a:x_test")
    self.assertIn("exited 1", proc.stdout)
    self.assertEqual(proc.returncode, 1)
    # The demo's log beside it: 60 lines at most, all the toolkit's own.
    log = os.path.join(os.path.dirname(demo), "demo.log")
    with open(log, "w") as f:
      f.write("Demo: ...\n" * 60)
    proc = self.run_script("--demo", demo, "--demo_status", "0", logs,
                           "//tests/a:x_test")
    self.assertIn("scripts/demo.sh: 1 passed, 0 failed", proc.stdout)
    with open(log, "a") as f:
      f.write("I1202 17:04:40.155747 1396 membership_inference_attack.py:346]"
              " Running attack\n")
    proc = self.run_script("--demo", demo, "--demo_status", "0", logs,
                           "//tests/a:x_test")
    self.assertIn("has 61 lines", proc.stdout)
    self.assertIn("not the toolkit's own", proc.stdout)

  def test_lint_case(self):
    logs = self.create_tempdir().full_path
    self.write(logs, "tests/a/x_test", xml([""]))
    proc = self.run_script("--lint_status", "0", logs, "//tests/a:x_test")
    self.assertIn("ruff check .: 1 passed, 0 failed", proc.stdout)
    self.assertEqual(proc.stdout.splitlines()[-1],
                     "2 passed, 0 failed, 0 skipped")
    self.assertEqual(proc.returncode, 0)
    proc = self.run_script("--lint_status", "1", logs, "//tests/a:x_test")
    self.assertIn("ruff check .: 0 passed, 1 failed (exit 1)", proc.stdout)
    self.assertEqual(proc.returncode, 1)


if __name__ == "__main__":
  absltest.main()
