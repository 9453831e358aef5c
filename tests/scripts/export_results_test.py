"""scripts/export_results.py copies the small files and never the secrets."""

import os
import subprocess
import sys

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "export_results.py")


def touch(path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write("x")


class ExportResultsTest(absltest.TestCase):

  def test_allow_list(self):
    src = self.create_tempdir().full_path
    run = os.path.join(src, "runs", "cifar10s", "eps8", "seed0")
    kept = ["sweep.json", "demo.md", "demo.csv", "demo.png", "report.md",
            "provenance.json"] + [
                os.path.join("runs", "cifar10s", "eps8", "seed0", n)
                for n in ("config.json", "results.json", "eval.json",
                          "attacks.csv", "audit.json", "progress.json",
                          "privacy_by_group.csv")]
    dropped = [os.path.join(run, n) for n in (
        "secrets.json", "risk_scores.csv", "final_eval_weights.h5",
        "mia_roc.png", os.path.join("checkpoints", "ckpt-1.index"),
        os.path.join("tensorboard", "events.out.tfevents.1"))]
    for name in kept:
      touch(os.path.join(src, name))
    for path in dropped:
      touch(path)
    dst = os.path.join(self.create_tempdir().full_path, "out")
    proc = subprocess.run([sys.executable, SCRIPT, src, dst],
                          capture_output=True, text=True, check=False)
    self.assertEqual(proc.returncode, 0, proc.stderr)
    found = sorted(os.path.relpath(os.path.join(r, f), dst)
                   for r, _, files in os.walk(dst) for f in files)
    self.assertEqual(found, sorted(kept))
    self.assertIn(f"{len(kept)} files copied", proc.stdout)

  def test_not_a_sweep_exits_2(self):
    src = self.create_tempdir().full_path
    proc = subprocess.run([sys.executable, SCRIPT, src,
                           os.path.join(src, "out")],
                          capture_output=True, text=True, check=False)
    self.assertEqual(proc.returncode, 2)
    self.assertIn("has no sweep.json", proc.stderr)
    self.assertFalse(os.path.exists(os.path.join(src, "out")))


if __name__ == "__main__":
  absltest.main()
