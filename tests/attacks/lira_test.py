"""LiRA: keep matrix, score direction, metrics, per-example calibration."""


from absl.testing import absltest
import numpy as np

from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import advanced_mia as amia  # noqa: E501 (import)

from prifa_tf.attacks import lira
from prifa_tf.attacks import rmia


def simulated(models=16, n=400, effect=1.5, seed=0, keep_fn=None):
  """Statistics = per-example difficulty + membership effect + noise.

  Difficulty varies far more across examples than membership moves them,
  so a global threshold does poorly and per-example calibration (LiRA)
  does well.
  """
  rng = np.random.default_rng(seed)
  keep = (keep_fn or lira.keep_matrix)(models, n, seed=seed)
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

  def test_offline_is_one_sided_by_default(self):
    # Carlini et al.'s Algorithm 1 scores Pr[Z <= x] under the out Gaussian:
    # only a confidence above the out mean points to a member. The density
    # (the original code's and TF-Privacy's score) also ranks a confidence
    # far below the mean as a member, which costs AUC on simulated
    # statistics where membership only raises the confidence (10 models,
    # 4,000 examples, global variance; 4 seeds: one-sided 0.78-0.81,
    # two-sided 0.65-0.67).
    aucs = {t: [] for t in lira.OFFLINE_TESTS}
    for seed in range(4):
      stats, keep = simulated(models=10, n=4000, effect=0.5, seed=seed,
                              keep_fn=lira.independent_keep)
      for test in lira.OFFLINE_TESTS:
        aucs[test].append(lira.metrics(keep[0], lira.scores(
            stats, keep, 0, online=False, fix_variance=True,
            offline_test=test))["auc"])
    self.assertGreater(min(np.subtract(aucs["one_sided"],
                                       aucs["two_sided"])), 0.08)
    stats, keep = simulated(models=10, n=400, seed=0,
                            keep_fn=lira.independent_keep)
    np.testing.assert_array_equal(
        lira.scores(stats, keep, 0, online=False),
        lira.scores(stats, keep, 0, online=False, offline_test="one_sided"))
    # Two-sided is TF-Privacy's "out" score, negated, exactly.
    idx = np.flatnonzero(~keep[1:].all(axis=0))
    stat_out = [stats[1:][~keep[1:, i], i] for i in idx]
    want = -amia.compute_score_lira(stats[0][idx], None, stat_out,
                                    option="out")
    got = lira.scores(stats, keep, 0, online=False, offline_test="two_sided")
    np.testing.assert_array_equal(got[idx], want)
    # One example, two tests: far below the out mean, the density calls it
    # a member as surely as far above; the one-sided test does not.
    out = [np.array([[0.0], [1.0], [-1.0], [0.5], [-0.5]])]
    low = lira.one_sided_offline(np.array([[-4.0]]), out)
    high = lira.one_sided_offline(np.array([[4.0]]), out)
    self.assertLess(low[0], np.log(0.01))
    self.assertGreater(high[0], np.log(0.99))
    # One out reference per candidate: no spread to fit, so unscored (the
    # two-sided score divides by 1e-30 there and ranks by the sign alone).
    single = [np.array([[0.5]]), np.array([[1.5]])]
    self.assertTrue(np.isnan(lira.one_sided_offline(
        np.array([[1.0], [1.0]]), single, fix_variance=True)).all())
    self.assertTrue(np.isnan(lira.one_sided_offline(
        np.array([[1.0], [1.0]]), single)).all())
    with self.assertRaisesRegex(ValueError, "offline_test"):
      lira.scores(stats, keep, 0, online=False, offline_test="both")

  def test_no_signal_no_advantage(self):
    stats, keep = simulated(effect=0.0)
    auc = lira.metrics(keep[0], lira.scores(stats, keep, 0))["auc"]
    self.assertAlmostEqual(auc, 0.5, delta=0.08)

  def test_independent_keep(self):
    keep = lira.independent_keep(8, 4000, seed=1)
    self.assertEqual(keep.shape, (8, 4000))
    self.assertBetween(keep.mean(), 0.48, 0.52)
    # Not balanced: column sums spread binomially (some 0 or 8 of 8).
    self.assertGreater(len(set(keep.sum(axis=0))), 5)
    np.testing.assert_array_equal(keep, lira.independent_keep(8, 4000, 1))

  def test_leave_one_out_needs_an_independent_keep_matrix(self):
    """Contract: references say nothing about the target's membership.

    With a balanced keep matrix and leave-one-out, a member is in N/2 - 1
    of the other models and a non-member in N/2, so at N = 4 LiRA scores
    members and non-members apart with no signal at all. Drawn entry by
    entry, it stays at chance.
    """
    def mean_auc(keep_fn, online, offline_test="one_sided"):
      stats, keep = simulated(models=4, n=4000, effect=0.0, keep_fn=keep_fn)
      return np.mean([lira.metrics(keep[t], lira.scores(
          stats, keep, t, online=online, fix_variance=True,
          offline_test=offline_test))["auc"] for t in range(4)])
    self.assertLess(mean_auc(lira.keep_matrix, True), 0.42)
    self.assertLess(mean_auc(lira.keep_matrix, False, "two_sided"), 0.46)
    # The one-sided test is biased too, the other way (0.529 here).
    self.assertGreater(mean_auc(lira.keep_matrix, False), 0.52)
    self.assertAlmostEqual(mean_auc(lira.independent_keep, True), 0.5,
                           delta=0.02)
    for test in lira.OFFLINE_TESTS:
      self.assertAlmostEqual(mean_auc(lira.independent_keep, False, test),
                             0.5, delta=0.02)

  def test_balanced_keep_inflates_rmia_online(self):
    """With a real effect, a member's Pr(x) averages one "in" model fewer
    under a balanced matrix, so RMIA online looks stronger than it is."""
    def mean_auc(keep_fn, seed):
      stats, keep = simulated(models=4, n=4000, effect=0.5, seed=seed,
                              keep_fn=keep_fn)
      rng = np.random.default_rng(seed + 100)
      p = 1 / (1 + np.exp(-stats[:, :, 0]))
      z = 1 / (1 + np.exp(-(rng.normal(0, 4, 1000)[None] +
                            rng.normal(0, 0.5, (4, 1000)))))
      aucs = []
      for t in range(4):
        refs = np.array([m for m in range(4) if m != t])
        aucs.append(lira.metrics(keep[t], rmia.scores(
            p[t], p[refs], keep[refs], z[t], z[refs]))["auc"])
      return np.mean(aucs)
    for seed in (0, 1):
      self.assertGreater(mean_auc(lira.keep_matrix, seed),
                         mean_auc(lira.independent_keep, seed) + 0.03)

  def test_unscored_candidates(self):
    stats, keep = simulated(models=4, n=2000, keep_fn=lira.independent_keep)
    online = lira.scores(stats, keep, 0, online=True)
    offline = lira.scores(stats, keep, 0, online=False)
    ins = keep[1:].sum(axis=0)
    np.testing.assert_array_equal(np.isnan(online), (ins == 0) | (ins == 3))
    np.testing.assert_array_equal(np.isnan(offline), ins == 3)
    m = lira.metrics(keep[0], online)
    self.assertAlmostEqual(m["scored"], np.mean((ins > 0) & (ins < 3)))
    self.assertGreater(m["auc"], 0.65)  # 3 shadows, per-example variance.
    none = lira.metrics(keep[0], np.full(2000, np.nan))
    self.assertTrue(np.isnan(none["auc"]))
    self.assertEqual(none["scored"], 0.0)

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

  def test_statistics(self):
    logits = np.log(np.array([[0.8, 0.2], [0.5, 0.5]]))
    stats = lira.statistics([logits, logits], np.array([0, 1]))
    np.testing.assert_allclose(stats[:, 0], [np.log(4), 0.0], atol=1e-6)
    self.assertEqual(stats.shape, (2, 2))


if __name__ == "__main__":
  absltest.main()
