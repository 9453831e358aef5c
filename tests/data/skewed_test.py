"""CIFAR-10S / CIFAR-100S construction (Wang et al. 2020)."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from PIL import Image

from prifa_tf.data import skewed
from prifa_tf.data.image_set import ImageSet


def fake_train(classes, per_class, size=2, seed=0):
  rng = np.random.default_rng(seed)
  n = classes * per_class
  labels = np.repeat(np.arange(classes), per_class)
  perm = rng.permutation(n)
  images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
  return ImageSet(images, labels[perm].astype(np.int32),
                  np.arange(n, dtype=np.int64), classes)


class SkewedTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cifar10 = fake_train(10, 5000)

  @parameterized.parameters(0.95, 0.75)
  def test_cifar10s_counts(self, p):
    out = skewed.make_skewed_train(self.cifar10, p, seed=3)
    self.assertLen(out, 50_000)  # All images kept.
    np.testing.assert_array_equal(out.labels, self.cifar10.labels)
    majority = int(5000 * p)
    for c in range(10):
      dom = out.domains[out.labels == c]
      colour_major = c in (1, 3, 5, 7, 9)  # automobile, cat, dog, horse, truck
      n_color = int(np.sum(dom == skewed.COLOR))
      self.assertEqual(n_color, majority if colour_major else 5000 - majority)
      self.assertEqual(len(dom) - n_color,
                       5000 - majority if colour_major else majority)
    # Overall balance between domains.
    self.assertEqual(int(np.sum(out.domains == skewed.COLOR)), 25_000)

  def test_gray_images_are_gray_and_colour_untouched(self):
    out = skewed.make_skewed_train(self.cifar10, 0.95, seed=0)
    gray = out.domains == skewed.GRAY
    g = out.images[gray]
    np.testing.assert_array_equal(g[..., 0], g[..., 1])
    np.testing.assert_array_equal(g[..., 0], g[..., 2])
    np.testing.assert_array_equal(out.images[~gray],
                                  self.cifar10.images[~gray])

  def test_deterministic_for_seed(self):
    a = skewed.make_skewed_train(self.cifar10, 0.95, seed=7)
    b = skewed.make_skewed_train(self.cifar10, 0.95, seed=7)
    c = skewed.make_skewed_train(self.cifar10, 0.95, seed=8)
    np.testing.assert_array_equal(a.domains, b.domains)
    np.testing.assert_array_equal(a.images, b.images)
    self.assertFalse(np.array_equal(a.domains, c.domains))

  def test_independent_of_row_order(self):
    perm = np.random.default_rng(1).permutation(len(self.cifar10))
    shuffled = self.cifar10.take(perm)
    a = skewed.make_skewed_train(self.cifar10, 0.95, seed=7)
    b = skewed.make_skewed_train(shuffled, 0.95, seed=7)
    dom_a = dict(zip(a.ids.tolist(), a.domains.tolist()))
    dom_b = dict(zip(b.ids.tolist(), b.domains.tolist()))
    self.assertEqual(dom_a, dom_b)

  def test_cifar100s(self):
    data = fake_train(100, 500)
    out = skewed.make_skewed_train(data, 0.95, seed=0)
    for c in range(100):
      n_color = int(np.sum(out.domains[out.labels == c] == skewed.COLOR))
      self.assertEqual(n_color, 475 if c % 2 else 25)

  def test_pil_luma_bit_exact(self):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    ours = skewed.to_gray(img)
    pil = np.asarray(Image.fromarray(img).convert("L"))
    np.testing.assert_array_equal(ours[..., 0], pil)
    np.testing.assert_array_equal(ours[..., 2], pil)

  def test_domain_test_sets(self):
    test = fake_train(10, 20)
    color, gray = skewed.make_domain_test_sets(test)
    np.testing.assert_array_equal(color.images, test.images)
    np.testing.assert_array_equal(gray.images[..., 0], gray.images[..., 1])
    np.testing.assert_array_equal(gray.images[..., 1], gray.images[..., 2])
    np.testing.assert_array_equal(gray.labels, test.labels)
    self.assertTrue(np.all(gray.domains == skewed.GRAY))

  @parameterized.parameters(0.5, 1.0, 0.3)
  def test_bad_skew(self, p):
    with self.assertRaisesRegex(ValueError, "skew"):
      skewed.make_skewed_train(fake_train(10, 10), p)


if __name__ == "__main__":
  absltest.main()
