"""The PAST study end to end at tiny scale (synthetic parts, and the TFDS
loading path on mock data); the binary refuses to claim an ε."""

import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf.companion import past_study
from prifa_tf.data import splits
from prifa_tf.reporting import results as results_lib
from tests import fixtures


def parts():
  return {name: fixtures.synthetic_set(n=40, seed=k, id_offset=1000 * k)
          for k, name in enumerate(splits.SIX_PARTS)}


class PastStudyTest(absltest.TestCase):

  def test_six_way_split_is_disjoint(self):
    with tfds.testing.mock_data(num_examples=130):
      got = past_study.load_parts("cifar10", past_study.TINY, None)
    self.assertEqual(list(got), list(splits.SIX_PARTS))
    ids = np.concatenate([p.ids for p in got.values()])
    self.assertLen(ids, 6 * past_study.TINY.part_size)
    self.assertLen(np.unique(ids), len(ids))
    with self.assertRaisesRegex(ValueError, "Six parts"):
      splits.six_way(got["target_train"], 10)

  def test_tiny_study(self):
    fixtures.quiet_tf()
    out = self.create_tempdir().full_path
    lines = []
    with fixtures.saved_figures() as saved:
      df = past_study.run(out, "cifar10", past_study.TINY, parts=parts(),
                          log=lines.append)
    names = [a.name for a in past_study.arms(past_study.TINY, "cifar10")]
    self.assertEqual(df["arm"].tolist(), names)
    self.assertIn("L2+PAST_alpha1.5", names)
    self.assertTrue(df["epsilon"].isna().all())
    for col in ("test_accuracy", "max_advantage", "p1_score",
                "nn_advantage", "modified_entropy_advantage"):
      self.assertTrue(np.isfinite(df[col]).all(), col)
    self.assertTrue((df["max_advantage"] >= df["loss_advantage"]).all())
    past_row = results_lib.read_json(os.path.join(
        out, "arms", "PAST_alpha1", "result.json"))
    self.assertLen(past_row["history"], past_study.TINY.tune_epochs)
    self.assertIn("no ε is claimed", past_row["privacy"])
    for f in ("past.csv", "past.md"):
      self.assertTrue(os.path.exists(os.path.join(out, f)), f)
    # PAST's α grid is one line; vanilla, L1, L2 and L2+PAST are points of
    # their own (not joined to the PAST line).
    fixtures.assert_figure(
        self, saved, "past_tradeoff.png",
        ["PAST (α grid, from base)", "vanilla", "L1_lam", "L2_lam",
         "L2+PAST_alpha1.5 (PAST on L2"], out_dir=out)
    fixtures.assert_figure(self, saved, "past_tuning.png", ["PAST_alpha1"],
                           out_dir=out)
    again = []
    past_study.run(out, "cifar10", past_study.TINY, parts=parts(),
                   log=again.append)
    self.assertLen([m for m in again if "finished, skipped" in m],
                   len(names))

  def test_binary_refuses_epsilon(self):
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root}
    proc = subprocess.run(
        [sys.executable, os.path.join(root, "experiments", "past.py"),
         "--out=/tmp/unused",
         "--target_epsilon=8"], capture_output=True, text=True, env=env,
        check=False)
    self.assertEqual(proc.returncode, 2)
    self.assertIn("non-private defense", proc.stderr)


if __name__ == "__main__":
  absltest.main()
