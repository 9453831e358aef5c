"""Augmentation multiplicity: shapes, contiguity, independence."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf.data import augment


class AugmentTest(parameterized.TestCase):

  @parameterized.parameters(1, 4, 16)
  def test_shapes_and_labels(self, k):
    x = tf.random.normal([3, 32, 32, 3])
    out = augment.augment_views(x, k, tf.constant([1, 2]))
    self.assertEqual(out.shape, (3 * k, 32, 32, 3))
    labels = augment.repeat_labels(tf.constant([7, 8, 9]), k)
    np.testing.assert_array_equal(labels.numpy(), np.repeat([7, 8, 9], k))

  def test_views_are_contiguous(self):
    # Example i is a constant image of value i: every view of it stays
    # constant (symmetric padding), so rows i*K..i*K+K-1 must all equal i.
    k = 5
    x = tf.constant(np.arange(4, dtype=np.float32)[:, None, None, None]
                    * np.ones((4, 8, 8, 3), np.float32))
    out = augment.augment_views(x, k, tf.constant([0, 0])).numpy()
    for i in range(4):
      np.testing.assert_array_equal(out[i * k:(i + 1) * k], float(i))

  def test_views_are_crops_of_padded_image_and_independent(self):
    k = 16
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 1)).astype(np.float32)
    out = augment.augment_views(tf.constant(x), k, tf.constant([3, 4])).numpy()
    padded = np.pad(x, [(0, 0), (4, 4), (4, 4), (0, 0)], mode="symmetric")
    flips = 0
    for i in range(2):
      crops = {(dy, dx, f): (padded[i, dy:dy + 8, dx:dx + 8][:, ::-1] if f
                             else padded[i, dy:dy + 8, dx:dx + 8])
               for dy in range(9) for dx in range(9) for f in (0, 1)}
      distinct = set()
      for v in range(k):
        view = out[i * k + v]
        hits = [key for key, c in crops.items() if np.array_equal(c, view)]
        self.assertNotEmpty(hits, f"view {v} of example {i} is not a crop")
        distinct.add(hits[0])
        flips += hits[0][2]
      self.assertGreater(len(distinct), k // 2)  # Views drawn independently.
    self.assertBetween(flips, 4, 28)

  def test_k0_is_identity_and_seeded(self):
    x = tf.random.normal([2, 8, 8, 3])
    np.testing.assert_array_equal(
        augment.augment_views(x, 0, tf.constant([0, 0])).numpy(), x.numpy())
    a = augment.augment_views(x, 3, tf.constant([5, 6]))
    b = augment.augment_views(x, 3, tf.constant([5, 6]))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    self.assertEqual(augment.num_views(0), 1)
    with self.assertRaises(ValueError):
      augment.num_views(-1)


if __name__ == "__main__":
  absltest.main()
