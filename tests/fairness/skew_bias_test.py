"""Eq. 1 on constructed predictions."""

from absl.testing import absltest
import numpy as np

from prifa_tf import fairness


class SkewBiasTest(absltest.TestCase):

  def test_unbiased(self):
    pred = np.array([0, 1, 2, 0, 1, 2])
    self.assertEqual(fairness.skew_bias(pred, pred, 3), 0.0)

  def test_maximally_biased(self):
    # Class 0 only ever predicted on COLOR, class 1 only on GRAY.
    self.assertEqual(fairness.skew_bias([0, 0, 0], [1, 1, 1], 2), 0.5)

  def test_hand_computed(self):
    color = [0, 0, 0, 1]  # Col: c0=3, c1=1
    gray = [0, 1, 1, 1]   # Gr:  c0=1, c1=3
    # c0: 3/4 - 0.5 = 0.25; c1: 3/4 - 0.5 = 0.25; class 2 never predicted.
    self.assertAlmostEqual(fairness.skew_bias(color, gray, 3), 0.25)
    color = [0, 0, 1, 1]  # c0: Col 2, Gr 1 -> 2/3; c1: Col 2, Gr 3 -> 3/5
    gray = [0, 1, 1, 1]
    self.assertAlmostEqual(fairness.skew_bias(color, gray, 2),
                           ((2 / 3 - 0.5) + (3 / 5 - 0.5)) / 2)

  def test_domain_accuracies(self):
    acc = fairness.domain_accuracies([0, 1, 1, 0], [0, 0, 0, 0],
                                     np.array([0, 1, 1, 1]))
    self.assertEqual(acc, {"color_accuracy": 0.75, "gray_accuracy": 0.25,
                           "mean_accuracy": 0.5})


if __name__ == "__main__":
  absltest.main()
