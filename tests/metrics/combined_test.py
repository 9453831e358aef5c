"""Harmonic Score (Eq. 3), generalization gap and P1 with hand values."""

from absl.testing import absltest

from prifa_tf import metrics


class CombinedTest(absltest.TestCase):

  def test_paper_worked_cases(self):
    # Case 1: accuracy 0.5, 1 - bias_scaled 0.5, 1 - AUC_scaled 0.5.
    # 1 - AUC_scaled = 0.5 <=> AUC = 0.75; 1 - Bias_scaled = 0.5 <=> bias 0.25.
    self.assertAlmostEqual(metrics.harmonic_score(0.5, 0.75, 0.25), 0.5)
    # Case 2: accuracy 0.1, 1 - bias 0.5, 1 - AUC 0.9. Eq. 3 gives
    # 3 / (10 + 1.111 + 2) = 0.2288; the paper prints "~0.136", which does
    # not follow from its own Eq. 3 (docs/sharp_edges.md).
    self.assertAlmostEqual(metrics.harmonic_score(0.1, 0.55, 0.25),
                           3 / (10 + 1 / 0.9 + 2), places=12)
    self.assertAlmostEqual(metrics.harmonic_score(0.1, 0.55, 0.25), 0.2288,
                           delta=5e-5)
    self.assertAlmostEqual(metrics.harmonic_score_from_terms(0.1, 0.9, 0.5),
                           metrics.harmonic_score(0.1, 0.55, 0.25))

  def test_edge_cases(self):
    self.assertEqual(metrics.harmonic_score(0.0, 0.6, 0.1), 0.0)
    self.assertEqual(metrics.harmonic_score(0.9, 1.0, 0.1), 0.0)  # AUC 1.
    self.assertEqual(metrics.harmonic_score(0.9, 0.6, 0.5), 0.0)  # Max bias.
    # AUC below 0.5 is no leakage, like 0.5; negative bias is no bias.
    self.assertEqual(metrics.harmonic_score(0.8, 0.3, 0.1),
                     metrics.harmonic_score(0.8, 0.5, 0.1))
    self.assertEqual(metrics.harmonic_score(0.8, 0.6, -0.2),
                     metrics.harmonic_score(0.8, 0.6, 0.0))
    self.assertAlmostEqual(metrics.harmonic_score(1.0, 0.5, 0.0), 1.0)
    self.assertEqual(metrics.scale_auc(0.75), 0.5)
    self.assertEqual(metrics.scale_bias(0.1), 0.2)
    with self.assertRaises(ValueError):
      metrics.harmonic_score(1.5, 0.6, 0.1)

  def test_gap_and_p1(self):
    self.assertAlmostEqual(metrics.generalization_gap(0.9, 0.7), 0.2)
    # P1 = 2 * 0.8 * 0.9 / (0.8 + 0.9)
    self.assertAlmostEqual(metrics.p1_score(0.8, 0.1), 1.44 / 1.7)
    self.assertEqual(metrics.p1_score(0.0, 1.0), 0.0)


if __name__ == "__main__":
  absltest.main()
