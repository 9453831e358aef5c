"""Data assembly: CIFAR-S non-members are drawn like the members."""

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf.data import skewed
from prifa_tf.training import datasets
from tests import fixtures


class DatasetsTest(absltest.TestCase):

  def test_skewed_nonmembers_match_the_training_mix(self):
    cfg = fixtures.private_config(dataset="cifar10s", skew=0.8)
    with tfds.testing.mock_data(num_examples=400):
      data = datasets.build(cfg)
    held = data.nonmembers
    self.assertIs(held, data.membership_test)
    self.assertEqual(sorted(data.evaluation), ["color", "gray"])
    np.testing.assert_array_equal(np.sort(held.ids),
                                  np.sort(data.evaluation["color"].ids))
    colour_classes = set(skewed.color_classes(10).tolist())
    for part in (data.train, held):
      for c in range(10):
        dom = part.domains[part.labels == c]
        if len(dom) < 10:
          continue
        majority = skewed.COLOR if c in colour_classes else skewed.GRAY
        self.assertBetween(np.mean(dom == majority), 0.7, 0.9)
    # Gray held-out images really are gray.
    g = held.images[held.domains == skewed.GRAY]
    np.testing.assert_array_equal(g[..., 0], g[..., 1])

  def test_unskewed_nonmembers_are_the_test_set(self):
    cfg = fixtures.private_config(dataset="cifar10")
    with tfds.testing.mock_data(num_examples=50):
      data = datasets.build(cfg)
    self.assertIsNone(data.membership_test)
    self.assertIs(data.nonmembers, data.evaluation["test"])

  def test_audit_canaries_are_drawn_alike_and_are_not_members(self):
    cfg = fixtures.private_config(dataset="cifar10", audit_canaries=20,
                                  audit_seed=3)
    with tfds.testing.mock_data(num_examples=120):
      first, again = datasets.build(cfg), datasets.build(cfg)
    can = first.canaries
    self.assertLen(can.ids, 20)
    np.testing.assert_array_equal(can.ids, again.canaries.ids)
    np.testing.assert_array_equal(can.labels, again.canaries.labels)
    self.assertLen(first.train, 120 - int((~can.included).sum()))  # Left out.
    self.assertIs(datasets.with_canaries(first, cfg), first)  # Idempotent.
    members = datasets.members(first)
    self.assertLen(members, 120 - 20)
    self.assertEmpty(np.intersect1d(members.ids, can.ids))
    # Without canaries, every training example is a member.
    plain = datasets.with_canaries(
        datasets.RunData(first.train, None, first.evaluation, "cifar10"),
        fixtures.private_config())
    self.assertIs(datasets.members(plain), plain.train)


if __name__ == "__main__":
  absltest.main()
