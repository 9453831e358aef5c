"""Pretrained import: body loaded, head reset, clear errors."""

import os

from absl.testing import absltest
import numpy as np

from prifa_tf import models


class CheckpointImportTest(absltest.TestCase):

  def _model(self, classes, name="wrn_10_1"):
    return models.build_wide_resnet(models.named_config(name,
                                                        num_classes=classes))

  def test_loads_body_and_resets_head(self):
    src = self._model(20)
    path = os.path.join(self.create_tempdir().full_path, "pre.h5")
    src.save_weights(path)
    dst = self._model(10)
    models.load_pretrained(dst, path)
    for name in ("stem_conv", "group2_block1_conv1", "head_norm"):
      for a, b in zip(src.get_layer(name).weights, dst.get_layer(name).weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    head = dst.get_layer("classifier")
    self.assertEqual(head.kernel.shape, (64, 10))
    np.testing.assert_array_equal(head.bias.numpy(), 0.0)
    self.assertGreater(np.abs(head.kernel.numpy()).sum(), 0.0)

  def test_missing_file(self):
    with self.assertRaisesRegex(models.CheckpointImportError,
                                "does not exist.*downloads nothing"):
      models.load_pretrained(self._model(10), "/nonexistent/w.h5")

  def test_wrong_architecture(self):
    src = self._model(10, "wrn_16_1")
    path = os.path.join(self.create_tempdir().full_path, "other.h5")
    src.save_weights(path)
    # Same layer names for the first blocks, other shapes and depth.
    dst = models.build_wide_resnet(models.named_config("wrn_10_1", width=2))
    with self.assertRaisesRegex(models.CheckpointImportError,
                                "same architecture"):
      models.load_pretrained(dst, path)

  def test_structural_format_refused(self):
    path = os.path.join(self.create_tempdir().full_path, "x.weights.h5")
    self._model(10).save_weights(path)
    with self.assertRaisesRegex(models.CheckpointImportError, "by layer name"):
      models.load_pretrained(self._model(10), path)

  def test_corrupt_file(self):
    path = os.path.join(self.create_tempdir().full_path, "bad.h5")
    with open(path, "wb") as f:
      f.write(b"not an hdf5 file")
    with self.assertRaisesRegex(models.CheckpointImportError, "Could not read"):
      models.load_pretrained(self._model(10), path)


if __name__ == "__main__":
  absltest.main()
