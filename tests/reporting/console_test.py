"""What binaries print: quiet by default, a crash as one line."""

import os
import stat
import subprocess
import sys
import textwrap

from absl.testing import absltest

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

    app.run(console.guarded(main, lambda: sys.argv[-1]))
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
    lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l]
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


if __name__ == "__main__":
  absltest.main()
