"""Stable subsets, removals and membership by id."""

from absl.testing import absltest
import numpy as np

from prifa_tf.data import subsets
from tests import fixtures


class SubsetsTest(absltest.TestCase):

  def test_random_ids_stable_and_order_independent(self):
    data = fixtures.synthetic_set(100)
    a = subsets.random_ids(data, 10, seed=1)
    shuffled = data.take(np.random.default_rng(0).permutation(100))
    np.testing.assert_array_equal(a, subsets.random_ids(shuffled, 10, seed=1))
    self.assertFalse(np.array_equal(a, subsets.random_ids(data, 10, seed=2)))

  def test_select_and_remove(self):
    data = fixtures.synthetic_set(50)
    ids = [3, 7, 11]
    sel = subsets.select_ids(data, ids)
    np.testing.assert_array_equal(sel.ids, ids)
    np.testing.assert_array_equal(sel.images, data.images[ids])
    rest = subsets.remove_ids(data, ids)
    self.assertLen(rest, 47)
    self.assertEmpty(np.intersect1d(rest.ids, ids))
    with self.assertRaisesRegex(ValueError, "not in the dataset"):
      subsets.select_ids(data, [999])

  def test_membership_and_stratified(self):
    data = fixtures.synthetic_set(100)
    train = subsets.stratified_ids(data, 3, seed=0)
    self.assertLen(train, 30)
    sel = subsets.select_ids(data, train)
    np.testing.assert_array_equal(np.bincount(sel.labels), [3] * 10)
    mask = subsets.membership(train, data.ids)
    self.assertEqual(mask.sum(), 30)


if __name__ == "__main__":
  absltest.main()
