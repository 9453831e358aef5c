"""Gender-imbalanced, smile-balanced CelebA subsets (seed 004)."""

from absl.testing import absltest
import numpy as np

from prifa_tf.data import celeba
from prifa_tf.data import imbalance
from prifa_tf.data.image_set import ImageSet


def celeba_like(n=2000, seed=0):
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, 2, (n, len(celeba.TARGET_ATTRIBUTES)))
  return ImageSet(np.zeros((n, 4, 4, 3), np.uint8), labels.astype(np.int32),
                  np.arange(n, dtype=np.int64), labels.shape[1],
                  rng.integers(0, 2, n).astype(np.int32))


class ImbalanceTest(absltest.TestCase):

  def test_ratios_and_smile_balance(self):
    data = celeba_like()
    for fraction, females in ((0.999, 299), (0.9, 270), (0.7, 210)):
      sub = imbalance.smile_subset(data, 300, fraction, seed=1)
      self.assertLen(sub, 300)
      self.assertEqual(int((sub.domains == 0).sum()), females)
      self.assertEqual(sub.labels.ndim, 1)
      np.testing.assert_array_equal(
          sub.labels, data.labels[sub.ids, imbalance.SMILING])
      for male in (0, 1):
        smiles = sub.labels[sub.domains == male]
        self.assertLessEqual(abs(int(smiles.sum()) * 2 - len(smiles)), 1)
    again = imbalance.smile_subset(data, 300, 0.9, seed=1)
    np.testing.assert_array_equal(
        again.ids, imbalance.smile_subset(data, 300, 0.9, seed=1).ids)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "Only"):
      imbalance.smile_subset(celeba_like(n=40), 200, 0.5)
    with self.assertRaisesRegex(ValueError, "female_fraction"):
      imbalance.group_sizes(10, 1.0)
    self.assertEqual(imbalance.group_sizes(30, 0.999), (29, 1))


if __name__ == "__main__":
  absltest.main()
