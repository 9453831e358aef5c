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


if __name__ == "__main__":
  absltest.main()
