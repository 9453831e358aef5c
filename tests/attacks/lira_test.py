"""LiRA: keep matrix, score direction, metrics, per-example calibration."""

import os

from absl.testing import absltest
import numpy as np

from prifa_tf.attacks import lira


def simulated(models=16, n=400, effect=1.5, seed=0):
  """Statistics = per-example difficulty + membership effect + noise.

  Difficulty varies far more across examples than membership moves them,
  so a global threshold does poorly and per-example calibration (LiRA)
  does well.
  """
  rng = np.random.default_rng(seed)
  keep = lira.keep_matrix(models, n, seed=seed)
  difficulty = rng.normal(0, 4, n)
  stats = (difficulty[None, :, None] + effect * keep[:, :, None]
           + rng.normal(0, 0.5, (models, n, 2)))
  return stats, keep


class LiraTest(absltest.TestCase):

  def test_keep_matrix_is_balanced(self):
    keep = lira.keep_matrix(8, 1000, seed=3)
    self.assertEqual(keep.shape, (8, 1000))
    np.testing.assert_array_equal(keep.sum(axis=0), 4)
    self.assertBetween(keep.mean(), 0.49, 0.51)
    with self.assertRaisesRegex(ValueError, "even"):
      lira.keep_matrix(5, 10)

  def test_lira_beats_a_global_threshold(self):
    stats, keep = simulated()
    member = keep[0]
    online = lira.metrics(member, lira.scores(stats, keep, 0, online=True))
    offline = lira.metrics(member, lira.scores(stats, keep, 0, online=False))
    threshold = lira.metrics(member, stats[0, :, 0])
    self.assertGreater(online["auc"], 0.9)
    self.assertGreater(offline["auc"], 0.85)
    self.assertLess(threshold["auc"], 0.7)
    self.assertGreater(online["tpr_at_1%_fpr"], threshold["tpr_at_1%_fpr"])
    fixed = lira.metrics(member, lira.scores(stats, keep, 0, online=True,
                                             fix_variance=True))
    self.assertGreater(fixed["auc"], 0.9)

  def test_no_signal_no_advantage(self):
    stats, keep = simulated(effect=0.0)
    auc = lira.metrics(keep[0], lira.scores(stats, keep, 0))["auc"]
    self.assertAlmostEqual(auc, 0.5, delta=0.08)

  def test_metrics_by_hand(self):
    member = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    scores = np.array([9, 8, 1, 7, 6, 5, 4, 3, 2, 0], dtype=float)
    m = lira.metrics(member, scores)
    # No false positive above 8: TPR at FPR 0 is 2/3.
    self.assertAlmostEqual(m["tpr_at_1%_fpr"], 2 / 3)
    self.assertAlmostEqual(m["tpr_at_0.1%_fpr"], 2 / 3)
    # Pairs ranked right: 7 + 7 + 1 of 21.
    self.assertAlmostEqual(m["auc"], 15 / 21)
    self.assertAlmostEqual(m["balanced_accuracy"], (2 / 3 + 1) / 2)

  def test_statistics_and_plot(self):
    logits = np.log(np.array([[0.8, 0.2], [0.5, 0.5]]))
    stats = lira.statistics([logits, logits], np.array([0, 1]))
    np.testing.assert_allclose(stats[:, 0], [np.log(4), 0.0], atol=1e-6)
    self.assertEqual(stats.shape, (2, 2))
    out = os.path.join(self.create_tempdir().full_path, "roc.png")
    s, keep = simulated(models=4, n=50)
    lira.plot_roc([lira.Curve("x", keep[0], s[0, :, 0])], out, "t")
    self.assertGreater(os.path.getsize(out), 1000)
    self.assertTrue(os.path.exists(out[:-4] + ".pdf"))


if __name__ == "__main__":
  absltest.main()
