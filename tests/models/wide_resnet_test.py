"""Wide-ResNet: parameter count, block order, switches, errors."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.models import ws_conv


def expected_params(depth, width, classes=10, groups_norm=True, ws=True):
  """Independent count: convs (+bias, +gain if WS), GN affine, dense."""
  n = (depth - 4) // 6
  chans = [16, 16 * width, 32 * width, 64 * width]
  def per_conv(k, cin, cout):
    return k * k * cin * cout + cout + (cout if ws else 0)
  def norm(c):
    return 2 * c if groups_norm else 0
  total = per_conv(3, 3, 16)
  cin = 16
  for cout in chans[1:]:
    for b in range(n):
      total += norm(cin) + per_conv(3, cin, cout) + norm(cout) + \
          per_conv(3, cout, cout)
      if b == 0:  # The projection, with its own norm (jax_privacy's).
        total += norm(cin) + per_conv(1, cin, cout)
      cin = cout
  total += norm(cin) + cin * classes + classes
  return total


def inbound(layer):
  node = layer._inbound_nodes[0]  # pylint: disable=protected-access
  layers = node.inbound_layers
  return layers if isinstance(layers, list) else [layers]


class WideResNetTest(parameterized.TestCase):

  def test_wrn_16_4_parameter_count(self):
    model = models.build_wide_resnet(models.named_config("wrn_16_4"))
    self.assertEqual(model.count_params(), expected_params(16, 4))
    # The paper's model: about 2.75M parameters.
    self.assertAlmostEqual(model.count_params() / 1e6, 2.75, delta=0.01)

  @parameterized.parameters("wrn_10_1", "wrn_16_1", "wrn_28_10")
  def test_named_parameter_counts(self, name):
    cfg = models.named_config(name)
    model = models.build_wide_resnet(cfg)
    self.assertEqual(model.count_params(),
                     expected_params(cfg.depth, cfg.width))

  def test_block_order(self):
    model = models.build_wide_resnet(models.named_config("wrn_16_1"))
    stem = model.get_layer("stem_conv")
    self.assertIsInstance(stem, ws_conv.WSConv2D)
    self.assertIsInstance(inbound(stem)[0], tf.keras.layers.InputLayer)
    convs = [layer for layer in model.layers
             if isinstance(layer, ws_conv.WSConv2D)
             and layer.name != "stem_conv"]
    # 3 groups x 2 blocks x 2 convs + 3 projections.
    self.assertLen(convs, 15)
    for conv in convs:
      norm = inbound(conv)[0]
      self.assertIsInstance(norm, tf.keras.layers.GroupNormalization,
                            conv.name)
      self.assertEqual(norm.groups, 16)
      relu = inbound(norm)[0]
      self.assertIsInstance(relu, tf.keras.layers.ReLU, conv.name)
    # Projection shortcut in the first block of every group, group 1 too.
    for g in (1, 2, 3):
      proj = model.get_layer(f"group{g}_block1_proj")
      self.assertEqual(proj.kernel_size, (1, 1))
      self.assertEqual(proj.strides, (1, 1) if g == 1 else (2, 2))
      self.assertIn(f"group{g}_block1_proj",
                    [line.name for line in inbound(model.get_layer(
                        f"group{g}_block1_add"))])
      # Its own norm of the block's relu output (jax_privacy's skip_norm),
      # not the residual branch's.
      self.assertEqual(inbound(proj)[0].name, f"group{g}_block1_proj_norm")
      self.assertEqual(inbound(inbound(proj)[0])[0].name,
                       f"group{g}_block1_pre1_relu")
      # Later blocks add the identity (the previous block's output).
      self.assertIn(f"group{g}_block1_add",
                    [line.name for line in inbound(model.get_layer(
                        f"group{g}_block2_add"))])
    # Head: relu -> GN -> global average pool -> dense.
    dense = model.get_layer("classifier")
    pool = inbound(dense)[0]
    self.assertIsInstance(pool, tf.keras.layers.GlobalAveragePooling2D)
    self.assertIsInstance(inbound(pool)[0],
                          tf.keras.layers.GroupNormalization)
    self.assertIsInstance(inbound(inbound(pool)[0])[0], tf.keras.layers.ReLU)

  def test_output_shape_and_strides(self):
    model = models.build_wide_resnet(models.named_config("wrn_10_1"))
    self.assertEqual(model(np.zeros((2, 32, 32, 3), np.float32)).shape,
                     (2, 10))
    self.assertEqual(model.get_layer("group3_block1_add").output.shape[1:3],
                     (8, 8))

  def test_batchnorm_refused_for_private(self):
    cfg = models.named_config("wrn_10_1", normalization="batch")
    with self.assertRaisesRegex(models.PrivateBatchNormError, "per-example"):
      models.build_wide_resnet(cfg, private=True)
    model = models.build_wide_resnet(cfg, private=False)  # allowed.
    self.assertTrue(any(isinstance(layer, tf.keras.layers.BatchNormalization)
                        for layer in model.layers))

  def test_ablation_switches(self):
    plain = models.build_wide_resnet(models.named_config(
        "wrn_10_1", normalization="none", weight_standardization=False))
    self.assertFalse(any(isinstance(layer, (ws_conv.WSConv2D,
                                        tf.keras.layers.GroupNormalization))
                         for layer in plain.layers))
    self.assertEqual(plain.count_params(),
                     expected_params(10, 1, groups_norm=False, ws=False))

  @parameterized.parameters(11, 3, 17)
  def test_bad_depth(self, depth):
    with self.assertRaisesRegex(ValueError, "6n\\+4"):
      models.build_wide_resnet(models.WRNConfig(depth=depth, width=1))

  def test_unknown_name(self):
    with self.assertRaisesRegex(ValueError, "Unknown model"):
      models.named_config("resnet50")


if __name__ == "__main__":
  absltest.main()
