"""What binaries print: quiet by default, a crash as one line."""

import contextlib
import io
import os
import stat
import subprocess
import sys
import textwrap

from absl import app
from absl.testing import absltest

from prifa_tf import errors
from prifa_tf.reporting import console

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


def run_python(code, *args):
  env = {k: v for k, v in os.environ.items()
         if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
  env["PYTHONPATH"] = ROOT
  return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                        env=env, capture_output=True, text=True, check=False,
                        timeout=300)


# A "binary" that imports TF after console.setup(), logs at absl INFO, warns
# from scikit-learn, and then crashes with a TF error whose message is a
# long multi-line graph trace (as a failing op gives).
BINARY = """
    import sys
    from prifa_tf.reporting import console
    console.setup()
    import warnings
    from absl import app, logging
    import tensorflow as tf
    from sklearn.exceptions import ConvergenceWarning

    def main(argv):
      logging.info("absl info line")
      from sklearn.neural_network import MLPClassifier
      MLPClassifier(max_iter=1).fit([[0.0], [1.0]], [0, 1])
      raise tf.errors.InvalidArgumentError(
          None, None, "Graph execution error:\\n\\n  File \\"x.py\\", line 1"
          "\\nfilter_size does not have enough elements\\n" + "trace\\n" * 60)

    console.run_main(main, lambda: sys.argv[-1])
"""


class ConsoleTest(absltest.TestCase):

  def test_verbose_requested(self):
    self.assertFalse(console.verbose_requested(["x", "--workdir=a"]))
    for flag in (["-v", "1"], ["--verbosity=0"], ["--v=1"]):
      self.assertTrue(console.verbose_requested(["x", *flag]))
    self.assertFalse(console.verbose_requested(["x", "--very=1"]))

  def test_quiet_crash_is_one_line_with_the_traceback_on_disk(self):
    workdir = self.create_tempdir().full_path
    proc = run_python(BINARY, workdir)
    self.assertEqual(proc.returncode, 1, proc.stderr)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line]
    # The TF start-up lines, the absl INFO line and the sklearn warning are
    # gone; what is left is the error and where its traceback is.
    self.assertLen(lines, 2, proc.stderr)
    self.assertRegex(lines[0], r"^error: InvalidArgumentError: filter_size "
                     "does not have enough elements$")
    self.assertIn(os.path.join(workdir, "error.txt"), lines[1])
    with open(os.path.join(workdir, "error.txt")) as f:
      trace = f.read()
    self.assertIn("Traceback", trace)
    self.assertIn("trace\ntrace", trace)

  def test_verbosity_brings_everything_back(self):
    workdir = self.create_tempdir().full_path
    proc = run_python(BINARY, "--verbosity=0", workdir)
    self.assertEqual(proc.returncode, 1)
    out = proc.stdout + proc.stderr
    self.assertIn("absl info line", out)
    self.assertIn("ConvergenceWarning", out)
    self.assertIn("Traceback", out)

  def test_unwritable_directory_falls_back_to_a_temp_file(self):
    parent = self.create_tempdir().full_path
    blocker = os.path.join(parent, "file")
    with open(blocker, "w") as f:
      f.write("x")
    os.chmod(blocker, stat.S_IRUSR)
    line = console.report_crash(RuntimeError("boom"),
                                os.path.join(blocker, "run"), verbose=False)
    self.assertRegex(line, r"^error: RuntimeError: boom\n")
    path = line.split("traceback is in ")[1].split(";")[0]
    self.assertTrue(os.path.basename(path).startswith("prifa_error_"))
    with open(path) as f:
      self.assertIn("RuntimeError: boom", f.read())

  def test_each_error_has_its_exit_status(self):
    workdir = self.create_tempdir().full_path
    cases = [
        (errors.ConfigError("steps must be > 0."), 2,
         "error: steps must be > 0.\n"),
        (errors.UnknownNameError("Unknown preset 'x'."), 2,
         "error: Unknown preset 'x'.\n"),
        (app.UsageError("--workdir is required."), 2,
         "error: --workdir is required.\n"),
        (errors.AuditFailure("PRIVACY AUDIT FAILED: ..."), 3,
         "PRIVACY AUDIT FAILED: ...\n"),
        # A ValueError that is not bad input is a bug: a crash.
        (ValueError("a shape mismatch deep in a step"), 1,
         "error: ValueError: a shape mismatch deep in a step\n"),
    ]
    for error, status, first in cases:

      def main(argv, error=error):
        del argv
        raise error

      err = io.StringIO()
      with contextlib.redirect_stderr(err):
        got = console.guarded(main, lambda: workdir)(["binary"])
      self.assertEqual(got, status, error)
      self.assertTrue(err.getvalue().startswith(first), err.getvalue())
    with open(os.path.join(workdir, "error.txt")) as f:
      trace = f.read()
    self.assertIn("Traceback", trace)
    self.assertIn("ValueError: a shape mismatch deep in a step", trace)

  def test_a_bad_flag_is_bad_input(self):
    proc = run_python(BINARY, "--bogus_flag=1", "x")
    self.assertEqual(proc.returncode, 2, proc.stderr)
    self.assertRegex(proc.stderr, r"^error: Unknown command line flag "
                     r"'bogus_flag'")
    self.assertNotIn("Traceback", proc.stderr)


if __name__ == "__main__":
  absltest.main()
