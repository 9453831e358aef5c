"""Eq. 2, weighted AP and skewness on a constructed CelebA-like table."""

from absl.testing import absltest
import numpy as np
from sklearn import metrics as skm

from prifa_tf.fairness import celeba_bias


class CelebABiasTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    # Training table: 6 women then 4 men; two attributes.
    self.train_male = np.array([0] * 6 + [1] * 4)
    self.train = np.array([[1, 0], [1, 0], [1, 1], [0, 0], [0, 0], [0, 0],
                           [1, 1], [0, 1], [0, 1], [0, 0]])
    # attr 0: N_w=3, N_m=1 ; attr 1: N_w=1, N_m=3.

  def test_counts_and_skewness(self):
    n_w, n_m = celeba_bias.attribute_counts(self.train, self.train_male)
    np.testing.assert_array_equal(n_w, [3, 1])
    np.testing.assert_array_equal(n_m, [1, 3])
    np.testing.assert_allclose(
        celeba_bias.skewness(self.train, self.train_male), [0.75, 0.75])

  def test_eq2(self):
    test_male = np.array([0, 0, 1, 1])
    pred = np.array([[1, 0], [1, 0], [0, 1], [0, 0]])
    # attr 0: P_w=2, P_m=0 -> 1.0 - 3/4 = 0.25 (amplified towards women).
    # attr 1: P_w=0, P_m=1 -> 0.0 - 1/4 = -0.25.
    np.testing.assert_allclose(
        celeba_bias.bias(pred, test_male, self.train, self.train_male),
        [0.25, -0.25])
    none = celeba_bias.bias(np.zeros((4, 2)), test_male, self.train,
                            self.train_male)
    self.assertTrue(np.all(np.isnan(none)))

  def test_weighted_ap(self):
    labels = np.array([1, 1, 1, 0, 1, 0])
    male = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([0.9, 0.2, 0.6, 0.7, 0.4, 0.1])
    # N_w=3, N_m=1: women's positives weigh 4/6, the man's 4/2, negatives 1.
    w = np.array([4 / 6, 4 / 6, 4 / 6, 1, 2, 1])
    expected = skm.average_precision_score(labels, scores, sample_weight=w)
    # By hand: ranking .9(+,2/3) .7(-,1) .6(+,2/3) .4(+,2) .2(+,2/3) .1(-,1)
    # total positive weight 4; AP = sum over positives of
    # precision@k * weight/4.
    hand = (1.0 * (2 / 3) + (4 / 3) / (7 / 3) * (2 / 3)
            + (10 / 3) / (13 / 3) * 2 + 4 / 5 * (2 / 3)) / 4
    self.assertAlmostEqual(expected, hand, places=10)
    self.assertAlmostEqual(
        celeba_bias.weighted_average_precision(scores, labels, male), hand,
        places=10)
    with self.assertRaisesRegex(ValueError, "both genders"):
      celeba_bias.weighted_average_precision(scores, labels, np.zeros(6))

  def test_f1_threshold(self):
    scores = np.array([[0.1], [0.4], [0.6], [0.9]])
    labels = np.array([[0], [0], [1], [1]])
    self.assertEqual(celeba_bias.f1_thresholds(scores, labels)[0], 0.6)

  def test_amplification_orients_by_majority(self):
    # attr 0 is women-majority (3 vs 1), attr 1 men-majority (1 vs 3): the
    # Eq. 2 values [0.25, -0.25] both amplify the training imbalance.
    amp = celeba_bias.amplification([0.25, -0.25], self.train,
                                    self.train_male)
    np.testing.assert_allclose(amp, [0.25, 0.25])

  def test_attribute_report(self):
    # Validation picks threshold 0.5 for attr 0 and 0.3 for attr 1.
    val_scores = np.array([[0.2, 0.1], [0.5, 0.3], [0.8, 0.9], [0.4, 0.2]])
    val_labels = np.array([[0, 0], [1, 1], [1, 1], [0, 0]])
    test_male = np.array([0, 0, 1, 1])
    test_scores = np.array([[0.6, 0.1], [0.7, 0.2], [0.3, 0.35],
                            [0.1, 0.4]])
    test_labels = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
    rep = celeba_bias.attribute_report(val_scores, val_labels, test_scores,
                                       test_labels, test_male, self.train,
                                       self.train_male)
    np.testing.assert_allclose(rep["threshold"], [0.5, 0.3])
    # Predictions: attr 0 -> women 2, men 0: 1 - 3/4; attr 1 -> women 0,
    # men 2: 0 - 1/4.
    np.testing.assert_allclose(rep["bias"], [0.25, -0.25])
    np.testing.assert_allclose(rep["amplification"], [0.25, 0.25])
    np.testing.assert_array_equal(rep["majority"], ["women", "men"])
    self.assertAlmostEqual(rep["weighted_ap"][0],
                           celeba_bias.weighted_average_precision(
                               test_scores[:, 0], test_labels[:, 0],
                               test_male))
    # attr 1 has a test positive of one gender only (a woman): NaN.
    self.assertTrue(np.isnan(rep["weighted_ap"][1]))


if __name__ == "__main__":
  absltest.main()
