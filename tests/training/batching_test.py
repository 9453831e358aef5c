"""Logical batch sampling and physical splitting."""

from absl.testing import absltest
import numpy as np

from prifa_tf.training import batching


class BatchingTest(absltest.TestCase):

  def test_shuffle_epochs_cover_without_repeats(self):
    s = batching.BatchSampler(100, 10, "shuffle", seed=1)
    epoch = np.concatenate([s.indices(t) for t in range(10)])
    np.testing.assert_array_equal(np.sort(epoch), np.arange(100))
    self.assertFalse(np.array_equal(s.indices(0), s.indices(10)))

  def test_deterministic_random_access(self):
    a = batching.BatchSampler(1000, 50, "poisson", seed=3)
    b = batching.BatchSampler(1000, 50, "poisson", seed=3)
    np.testing.assert_array_equal(a.indices(7), b.indices(7))
    sizes = [len(a.indices(t)) for t in range(200)]
    self.assertAlmostEqual(np.mean(sizes), 50, delta=2.5)
    self.assertGreater(np.std(sizes), 2)  # Really Poisson-sampled.
    c = batching.BatchSampler(100, 10, "shuffle", seed=0)
    late = c.indices(23)
    np.testing.assert_array_equal(late, batching.BatchSampler(
        100, 10, "shuffle", seed=0).indices(23))

  def test_physical_batches_pad(self):
    chunks = list(batching.physical_batches(np.arange(10), 4))
    self.assertLen(chunks, 3)
    for rows, w in chunks:
      self.assertLen(rows, 4)
    np.testing.assert_array_equal(chunks[2][1], [1, 1, 0, 0])
    real = np.concatenate([r[w > 0] for r, w in chunks])
    np.testing.assert_array_equal(real, np.arange(10))
    empty = list(batching.physical_batches(np.array([], np.int64), 4))
    self.assertLen(empty, 1)
    np.testing.assert_array_equal(empty[0][1], 0)

  def test_errors(self):
    with self.assertRaisesRegex(ValueError, "exceeds"):
      batching.BatchSampler(10, 20)
    with self.assertRaisesRegex(ValueError, "sampling"):
      batching.BatchSampler(10, 2, "stratified")


if __name__ == "__main__":
  absltest.main()
