"""The experiment binaries: dry runs at paper scale, bad flags, and a real
tiny Onion sweep on CIFAR-10 that a re-run does not retrain."""

import os
import re
import subprocess
import sys

from absl.testing import absltest

from prifa_tf.reporting import results as results_lib
from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BINARIES = ("ablation", "individual", "dpsgd_vs_dpsat", "budget_bias",
            "memorization", "onion", "celeba", "demo")


def run(binary, *flags):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, "experiments", f"{binary}.py"),
       *flags], env=env, capture_output=True, text=True, timeout=900)


class BinariesTest(absltest.TestCase):

  def test_every_binary_dry_runs_at_paper_scale(self):
    for binary in BINARIES:
      out = self.create_tempdir().full_path
      proc = run(binary, f"--out={out}", "--scale=paper", "--dry_run",
                 "--throughput=6000")
      self.assertEqual(proc.returncode, 0, f"{binary}: {proc.stderr[-2000:]}")
      self.assertIn("Dry run:", proc.stdout, binary)
      self.assertIn(" h at 6000", proc.stdout, binary)
      # And what TAN simulation would save (private runs only).
      hours = [float(h.replace(",", "")) for h in re.findall(
          r"×(?:1|16|64): ([\d,.]+) GPU-hours at 6000", proc.stdout)]
      self.assertLen(hours, 3, binary)
      self.assertGreaterEqual(hours[0], hours[1], binary)
      self.assertGreaterEqual(hours[1], hours[2], binary)
      self.assertFalse(os.path.exists(os.path.join(out, "runs")), binary)

  def test_lira_dry_run_plans_one_run_per_model(self):
    data_dir = fixtures.require_tfds()
    out = self.create_tempdir().full_path
    proc = run("lira", f"--out={out}", "--scale=smoke", "--dry_run",
               "--privacy=nonprivate", f"--data_dir={data_dir}")
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    self.assertEqual(proc.stdout.count("would run"), 10)
    bad = run("lira", f"--out={out}", "--scale=smoke", "--num_models=3",
              f"--data_dir={data_dir}")
    self.assertEqual(bad.returncode, 2)
    self.assertIn("at least 4 models", bad.stderr)

  def test_bad_flags_exit_2(self):
    out = self.create_tempdir().full_path
    for flags in (["--datasets=mnist"], ["--attacks=lira"], ["--seeds=0"],
                  ["--set=no_such_field=1"], ["--epsilons=one"],
                  ["--tan_factor=3"]):
      proc = run("ablation", f"--out={out}", *flags)
      self.assertEqual(proc.returncode, 2, f"{flags}: {proc.stderr[-500:]}")
      self.assertIn("error:", proc.stderr)
    self.assertEqual(run("onion").returncode, 2)  # No --out.

  def test_tiny_onion_sweep_resumes_without_training(self):
    data_dir = fixtures.require_tfds()
    out = self.create_tempdir().full_path
    flags = [f"--out={out}", "--scale=tiny", "--privacy=nonprivate",
             "--layers=1", "--attacks=threshold,mlp",
             f"--data_dir={data_dir}"]
    first = run("onion", *flags)
    self.assertEqual(first.returncode, 0, first.stderr[-3000:])
    for name in ("onion.csv", "onion.md", "onion.png", "onion.pdf",
                 "runs.csv", "sweep.json"):
      self.assertTrue(os.path.exists(os.path.join(out, name)), name)
    removed = results_lib.read_json(os.path.join(
        out, "runs", "cifar10s", "nonprivate", "layer1", "seed0",
        "removed_ids.json"))
    self.assertLen(removed["removed"], 20)
    second = run("onion", *flags)
    self.assertEqual(second.returncode, 0, second.stderr[-3000:])
    self.assertEqual(second.stdout.count("finished, skipped"), 2)
    self.assertNotIn("Training", second.stdout)


if __name__ == "__main__":
  absltest.main()
