"""TFDS loading: mock data, slices, missing data, and the real CIFAR-10."""

import os
from unittest import mock

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf.data import tfds_loader
from tests import fixtures


class TfdsLoaderTest(absltest.TestCase):

  def test_mock_cifar(self):
    with tfds.testing.mock_data(num_examples=20):
      for name, classes in (("cifar10", 10), ("cifar100", 100)):
        data = tfds_loader.load_split(name, "train")
        self.assertEqual(data.images.shape, (20, 32, 32, 3))
        self.assertEqual(data.images.dtype, np.uint8)
        self.assertEqual(data.num_classes, classes)
        np.testing.assert_array_equal(data.ids, np.arange(20))
        self.assertTrue(np.all(data.labels < classes))

  def test_cached_loads_share_read_only_arrays(self):
    with tfds.testing.mock_data(num_examples=20):
      with tfds_loader.cached_loads():
        a = tfds_loader.load_split("cifar10", "train")
        b = tfds_loader.load_split("cifar10", "train")
        other = tfds_loader.load_split("cifar10", "test")
      c = tfds_loader.load_split("cifar10", "train")
    self.assertIs(a, b)
    self.assertIsNot(a, other)
    self.assertIsNot(a, c)  # No caching outside the block.
    self.assertFalse(a.images.flags.writeable)
    with self.assertRaises(ValueError):
      a.images[0, 0, 0, 0] = 1
    self.assertTrue(c.images.flags.writeable)

  def test_split_offsets(self):
    # (TFDS mock data ignores slices; the real-data test checks the rows.)
    self.assertEqual(tfds_loader._split_offset("train"), 0)
    self.assertEqual(tfds_loader._split_offset("train[:50]"), 0)
    self.assertEqual(tfds_loader._split_offset("train[120:200]"), 120)
    with self.assertRaisesRegex(ValueError, "absolute"):
      tfds_loader._split_offset("train[10%:]")

  def test_missing_dataset_message(self):
    empty = self.create_tempdir().full_path
    with self.assertRaisesRegex(tfds_loader.DatasetUnavailableError,
                                "not available in .*--download"):
      tfds_loader.load_split("cifar100", "train", data_dir=empty)

  def test_unknown_dataset(self):
    with self.assertRaisesRegex(ValueError, "Unsupported"):
      tfds_loader.load_split("mnist", "train")

  def test_disk_cache_stands_for_decoding(self):
    data_dir = fixtures.require_tfds()
    cache = self.create_tempdir().full_path
    with mock.patch.dict(os.environ, {tfds_loader.CACHE_ENV: cache}):
      first = tfds_loader.load_split("cifar10", "test[100:400]",
                                     data_dir=data_dir)
      self.assertLen(os.listdir(cache), 1)
      with mock.patch.object(tfds_loader, "_load",
                             side_effect=AssertionError("decoded again")):
        again = tfds_loader.load_split("cifar10", "test[100:400]",
                                       data_dir=data_dir)
      for field in ("images", "labels", "ids"):
        np.testing.assert_array_equal(getattr(again, field),
                                      getattr(first, field))
      self.assertEqual(again.num_classes, 10)
      self.assertIsNone(again.domains)
      self.assertEqual(again.ids[0], 100)
      # Another slice is another entry; mock data is never cached or read.
      tfds_loader.load_split("cifar10", "test[:50]", data_dir=data_dir)
      self.assertLen(os.listdir(cache), 2)
      with tfds.testing.mock_data(num_examples=20):
        mocked = tfds_loader.load_split("cifar10", "test[100:400]",
                                        data_dir=data_dir)
      self.assertLen(mocked, 20)
      self.assertLen(os.listdir(cache), 2)

  def test_disk_cache_key_follows_the_files(self):
    data_dir = self.create_tempdir().full_path
    os.makedirs(os.path.join(data_dir, "cifar10", "3.0.2"))
    record = os.path.join(data_dir, "cifar10", "3.0.2", "a.tfrecord")
    with open(record, "w") as f:
      f.write("x")

    def key():
      return tfds_loader._disk_cache_path("cifar10", "train", data_dir,
                                          False, None)
    with mock.patch.dict(os.environ, {tfds_loader.CACHE_ENV: "/c"}):
      before = key()
      self.assertEqual(key(), before)
      with open(record, "w") as f:
        f.write("xy")  # The folder was rebuilt: decode afresh.
      self.assertNotEqual(key(), before)
      self.assertIsNone(tfds_loader._disk_cache_path(
          "cifar10", "train", data_dir, True, None))  # May download.
    with mock.patch.dict(os.environ):
      os.environ.pop(tfds_loader.CACHE_ENV, None)
      self.assertIsNone(key())  # No variable, no cache.
    broken = os.path.join(data_dir, "half.npz")
    with open(broken, "wb") as f:
      f.write(b"PK\x03\x04 cut short")
    self.assertIsNone(tfds_loader._read_disk_cache(broken))

  def test_real_cifar10_test_split(self):
    data_dir = fixtures.require_tfds()
    data = tfds_loader.load_split("cifar10", "test", data_dir=data_dir)
    self.assertEqual(data.images.shape, (10_000, 32, 32, 3))
    np.testing.assert_array_equal(np.bincount(data.labels), [1000] * 10)
    self.assertGreater(data.images.std(), 40)  # Real photos, not blanks.
    again = tfds_loader.load_split("cifar10", "test[:100]", data_dir=data_dir)
    np.testing.assert_array_equal(again.images, data.images[:100])
    part = tfds_loader.load_split("cifar10", "test[40:60]", data_dir=data_dir)
    np.testing.assert_array_equal(part.ids, np.arange(40, 60))
    np.testing.assert_array_equal(part.images, data.images[40:60])
    np.testing.assert_array_equal(part.labels, data.labels[40:60])


if __name__ == "__main__":
  absltest.main()
