"""The imbalance study at tiny scale on TFDS mock CelebA: runs, group
metrics, the accountant's ε, resumption and the five figures."""

import os

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf.companion import imbalance_study as study
from prifa_tf.data.image_set import ImageSet
from prifa_tf.privacy import accounting
from tests import fixtures


class ImbalanceStudyTest(absltest.TestCase):

  def test_grid(self):
    names = [r.name for r in study.runs(study.PAPER)]
    self.assertLen(names, 5 * 4 + 2 * 3)  # Grid, then S ∈ {1, 10} at 70%.
    self.assertIn("female99.9/z1.5/S5", names)
    self.assertIn("female70/z0.5/S10", names)
    cfg = study.config(study.PAPER, study.runs(study.PAPER)[1])
    self.assertEqual((cfg.batch_size, cfg.learning_rate, cfg.optimizer,
                      cfg.delta, cfg.l2_norm_clip), (32, 5e-5, "adam", 1e-6,
                                                     5.0))
    self.assertEqual(cfg.steps, 60 * 30_000 // 32)

  def test_group_metrics_by_hand(self):
    labels = np.array([1, 1, 0, 0, 1, 0])
    male = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([1, 0, 0, 0, 1, 1])
    test = ImageSet(np.zeros((6, 2, 2, 3), np.uint8), labels,
                    np.arange(6), 2, male)
    m = study.group_metrics(np.eye(2)[pred], test)
    self.assertAlmostEqual(m["female_accuracy"], 2 / 3)
    self.assertAlmostEqual(m["male_accuracy"], 2 / 3)
    self.assertAlmostEqual(m["delta_demp"], abs(1 / 3 - 2 / 3))
    self.assertAlmostEqual(m["delta_eo"], abs(1 / 2 - 1))

  def test_tiny_study_on_mock_celeba(self):
    fixtures.quiet_tf()
    out = self.create_tempdir().full_path
    with tfds.testing.mock_data(num_examples=400,
                                policy=tfds.testing.MockPolicy.USE_CODE):
      data = study.load_data(study.TINY, None)
    with fixtures.saved_figures() as saved:
      df = study.run(out, study.TINY, data=data, log=lambda _: None)
    self.assertLen(df, len(study.runs(study.TINY)))
    private = df[df["noise_multiplier"].notna()]
    self.assertTrue(df[df["noise_multiplier"].isna()]["epsilon"].isna().all())
    for _, r in private.iterrows():
      want = accounting.epsilon(study.TINY.train_size,
                                study.TINY.batch_size, r["noise_multiplier"],
                                int(r["steps"]), 1e-6, "rdp")
      self.assertAlmostEqual(r["epsilon"], want, places=6)
      self.assertEqual(r["epsilon_stated_by_seed"], 4.98)
    for col in ("accuracy", "female_accuracy", "male_accuracy", "delta_demp",
                "delta_eo"):
      self.assertTrue(df[col].between(0, 1).all(), col)
    # Fairlearn's bootstrap intervals around each gap, in the table too.
    for gap in ("delta_demp", "delta_eo"):
      self.assertTrue((df[f"{gap}_ci_low"] <= df[gap] + 1e-12).all(), gap)
      self.assertTrue((df[gap] <= df[f"{gap}_ci_high"] + 1e-12).all(), gap)
    with open(os.path.join(out, "imbalance.md")) as f:
      self.assertIn("Fairlearn 0.9.0 MetricFrame", f.read())
    for k in range(1, 6):
      fixtures.assert_figure(self, saved, f"imbalance_fig{k}.png",
                             out_dir=out)
    groups = os.path.join(out, "runs", "female70", "z0.7", "S5",
                          study.GROUPS_FILE)
    self.assertTrue(os.path.exists(groups))
    lines = []
    study.run(out, study.TINY, data=data, log=lines.append)
    self.assertLen([m for m in lines if "finished, skipped" in m], len(df))


if __name__ == "__main__":
  absltest.main()
