"""CPU smoke run of one optimizer on real CIFAR-10, through the binary.

Run with --preset=smoke|smoke_sam|smoke_dpsgd|smoke_dpsat: trains a WRN-10-1
on a 5,000-image subset and requires test accuracy clearly above chance.
"""

import os
import subprocess
import sys

from absl import flags
from absl.testing import absltest

from prifa_tf.reporting import results as results_lib
from tests import fixtures

_PRESET = flags.DEFINE_string("preset", "smoke", "Preset to train.")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


class SmokeCifar10Test(absltest.TestCase):

  def test_learns(self):
    data_dir = fixtures.require_tfds()
    workdir = self.create_tempdir().full_path
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "train.py"),
         f"--preset={_PRESET.value}", f"--workdir={workdir}",
         f"--data_dir={data_dir}"],
        env=env, capture_output=True, text=True, timeout=1500)
    print(proc.stdout[-3000:])
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    res = results_lib.read_json(os.path.join(workdir, "results.json"))
    acc = res["metrics"]["test_accuracy"]
    print(f"{_PRESET.value}: test accuracy {acc:.4f}, privacy {res['privacy']}")
    self.assertGreater(acc, 0.2)  # Chance is 0.1.
    if res["privacy"] is not None:
      self.assertLessEqual(res["privacy"]["epsilon"],
                           res["privacy"]["target_epsilon"])
    if _PRESET.value == "smoke":  # train -> evaluate, through the binaries.
      ev = subprocess.run(
          [sys.executable, os.path.join(ROOT, "experiments", "evaluate.py"),
           f"--workdir={workdir}", "--attacks=threshold,lr",
           "--max_examples=2000"],
          env=env, capture_output=True, text=True, timeout=900)
      print(ev.stdout[-2000:])
      self.assertEqual(ev.returncode, 0, ev.stderr[-3000:])
      for name in ("eval.json", "attacks.csv", "risk_scores.csv",
                   "mia_roc.png", "risk_score_hist.png"):
        self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
      report = results_lib.read_json(os.path.join(workdir, "eval.json"))
      self.assertAlmostEqual(report["utility"]["test_accuracy"], acc)


if __name__ == "__main__":
  absltest.main()
