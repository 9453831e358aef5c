"""CelebA targets and protected attribute, on TFDS mock data."""

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf.data import celeba
from prifa_tf.data import tfds_loader


class CelebATest(absltest.TestCase):

  def test_attribute_selection(self):
    self.assertLen(celeba.ALL_ATTRIBUTES, 40)
    self.assertLen(celeba.TARGET_ATTRIBUTES, 39)
    self.assertNotIn("Male", celeba.TARGET_ATTRIBUTES)
    self.assertLen(celeba.EVALUATED_ATTRIBUTES, 34)
    for a in ("5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns",
              "Wearing_Necktie"):
      self.assertNotIn(a, celeba.EVALUATED_ATTRIBUTES)
      self.assertIn(a, celeba.TARGET_ATTRIBUTES)
    for col, name in zip(celeba.EVALUATED_COLUMNS,
                         celeba.EVALUATED_ATTRIBUTES):
      self.assertEqual(celeba.TARGET_ATTRIBUTES[col], name)

  def test_loader_on_mock_data(self):
    policy = tfds.testing.MockPolicy.USE_CODE
    with tfds.testing.mock_data(num_examples=12, policy=policy):
      data = tfds_loader.load_split("celeb_a", "train", image_size=(32, 32))
      raw = list(tfds.as_numpy(tfds.load("celeb_a", split="train")))
    self.assertEqual(data.images.shape, (12, 32, 32, 3))
    self.assertEqual(data.labels.shape, (12, 39))
    self.assertTrue(data.multilabel)
    for i, ex in enumerate(raw):
      attrs = ex["attributes"]
      np.testing.assert_array_equal(
          data.labels[i], [int(attrs[a]) for a in celeba.TARGET_ATTRIBUTES])
      self.assertEqual(data.domains[i], int(attrs["Male"]))


if __name__ == "__main__":
  absltest.main()
