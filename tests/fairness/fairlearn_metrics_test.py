"""Fairlearn's group metrics against ours, and their bootstrap intervals."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np

from prifa_tf.fairness import fairlearn_metrics
from prifa_tf.fairness import group_fairness


def predictions(n, seed, shift=0.1):
  rng = np.random.default_rng(seed)
  groups = rng.integers(0, 2, n)
  labels = rng.integers(0, 2, n)
  pred = (rng.random(n) < 0.4 + shift * groups + 0.3 * labels).astype(int)
  return pred, labels, groups


class FairlearnMetricsTest(parameterized.TestCase):

  @parameterized.parameters(0, 1, 2, 3)
  def test_gaps_equal_ours(self, seed):
    pred, labels, groups = predictions(500, seed)
    got = fairlearn_metrics.binary_group_metrics(pred, labels, groups,
                                                 n_boot=0)
    self.assertAlmostEqual(got["accuracy_gap"], group_fairness.accuracy_gap(
        pred, labels, groups), places=12)
    self.assertAlmostEqual(
        got["delta_demp"],
        group_fairness.demographic_parity_difference(pred, groups),
        places=12)
    self.assertAlmostEqual(
        got["delta_eo"],
        group_fairness.equal_opportunity_difference(pred, labels, groups),
        places=12)
    for g in (0, 1):
      m = groups == g
      self.assertAlmostEqual(got[f"selection_rate_{g}"], pred[m].mean())
      self.assertAlmostEqual(got[f"true_positive_rate_{g}"],
                             pred[m & (labels == 1)].mean())

  def test_interval_covers_and_has_the_binomial_width(self):
    pred, labels, groups = predictions(4000, 7, shift=0.1)
    got = fairlearn_metrics.binary_group_metrics(pred, labels, groups,
                                                 n_boot=400, seed=1)
    self.assertEqual(got["bootstrap_resamples"], 400)
    self.assertEqual(got, fairlearn_metrics.binary_group_metrics(
        pred, labels, groups, n_boot=400, seed=1))  # Seeded.
    for gap in ("accuracy_gap", "delta_demp", "delta_eo"):
      self.assertLess(got[f"{gap}_ci_low"], got[gap])
      self.assertGreater(got[f"{gap}_ci_high"], got[gap])
    # ΔDemP is a difference of two proportions: its 95% interval is about
    # 2 x 1.96 x sqrt(p0 q0 / n0 + p1 q1 / n1) wide.
    p = [pred[groups == g].mean() for g in (0, 1)]
    n = [(groups == g).sum() for g in (0, 1)]
    se = np.sqrt(sum(pi * (1 - pi) / ni for pi, ni in zip(p, n)))
    width = got["delta_demp_ci_high"] - got["delta_demp_ci_low"]
    self.assertAlmostEqual(width / (2 * 1.96 * se), 1.0, delta=0.2)
    # The true ΔDemP here is 0.1 (by construction): inside the interval.
    self.assertLess(got["delta_demp_ci_low"], 0.1)
    self.assertGreater(got["delta_demp_ci_high"], 0.1)

  def test_vectorised_resamples_equal_metric_frames(self):
    pred, labels, groups = predictions(300, 5)
    idx = next(fairlearn_metrics.resample(groups, 5, seed=2))
    fast = fairlearn_metrics.resampled_gaps(pred, labels, groups, idx)
    for r in range(5):
      frame = fairlearn_metrics.metric_frame(pred[idx[r]], labels[idx[r]],
                                             groups[idx[r]])
      diff = frame.difference()
      for metric, gap in fairlearn_metrics.GAPS.items():
        self.assertAlmostEqual(fast[gap][r], diff[metric], places=12)
      # Group sizes are kept.
      self.assertEqual(np.bincount(groups[idx[r]]).tolist(),
                       np.bincount(groups).tolist())

  def test_bad_groups(self):
    pred, labels, _ = predictions(50, 0)
    with self.assertRaisesRegex(ValueError, "two groups"):
      fairlearn_metrics.binary_group_metrics(pred, labels, np.zeros(50))
    groups = np.arange(50) % 2
    with self.assertRaisesRegex(ValueError, "no positives"):
      fairlearn_metrics.binary_group_metrics(pred, groups * 0 + (groups == 0),
                                             groups)


if __name__ == "__main__":
  absltest.main()
