"""Seed 004's group fairness measures on hand-made predictions."""

from absl.testing import absltest
import numpy as np

from prifa_tf.fairness import group_fairness as gf


class GroupFairnessTest(absltest.TestCase):

  def test_values(self):
    group = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    labels = np.array([1, 1, 0, 0, 1, 1, 0, 0])
    pred = np.array([1, 1, 1, 0, 1, 0, 0, 0])
    # Accuracy: group1 3/4, group0 3/4 -> gap 0.
    self.assertEqual(gf.accuracy_gap(pred, labels, group), 0.0)
    # P(ŷ=1): 3/4 vs 1/4.
    self.assertEqual(gf.demographic_parity_difference(pred, group), 0.5)
    # TPR: 2/2 vs 1/2.
    self.assertEqual(gf.equal_opportunity_difference(pred, labels, group), 0.5)

  def test_missing_group(self):
    with self.assertRaisesRegex(ValueError, "both"):
      gf.demographic_parity_difference([1, 0], [1, 1])


if __name__ == "__main__":
  absltest.main()
