"""The per_layer strategy: the loop strategy's clipped sum, by other means.

Every path (instantiated per-example kernels, one op per example or one
batched matmul of patches; ghost norms from patch and raw-activation Grams; the
WS
projection with and without its variance floor; GroupNorm and Dense rules;
augmentation views; padding rows) is compared with the sequential
per-example loop to 1e-5.
"""

from unittest import mock

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.models import ws_conv
from prifa_tf.privacy import per_example
from prifa_tf.privacy import per_layer
from prifa_tf.training import losses
from tests import fixtures

LOSS = losses.softmax_cross_entropy


def wrn(ws=True, normalization="group", seed=0, size=8):
  tf.keras.utils.set_random_seed(seed)
  cfg = models.named_config("wrn_10_1", input_shape=(size, size, 3),
                            weight_standardization=ws,
                            normalization=normalization)
  return models.build_wide_resnet(cfg, private=True)


def batch(n, views, size=8, seed=0):
  rng = np.random.default_rng(seed)
  x = tf.constant(rng.normal(size=(n * views, size, size, 3)).astype(
      np.float32) * 3)
  y = tf.constant(np.repeat(rng.integers(0, 10, n), views).astype(np.int32))
  return x, y


def conv_rule(layer, a, n, views, ws):
  """A _Conv holding just what its Gram methods read."""
  conv = object.__new__(per_layer._Conv)  # pylint: disable=protected-access
  conv.layer, conv.a, conv.n, conv.views, conv.is_ws = layer, a, n, views, ws
  conv.k = int(np.prod(layer.kernel.shape[:-1]))
  return conv


def clipped(fn, model, x, y, weights, views, clip, **kwargs):
  return tf.function(lambda: fn(model, LOSS, x, y, weights, views, clip,
                                **kwargs))()


def assert_same(got, want, atol=1e-5):
  """(sums, norms, losses, logits) equal to ``atol`` (and 1e-4 relative)."""
  for name, a, b in zip(("sums", "norms", "losses", "logits"), got, want):
    pairs = zip(a, b) if name == "sums" else [(a, b)]
    for s, t in pairs:
      np.testing.assert_allclose(s.numpy(), t.numpy(), atol=atol, rtol=1e-4,
                                 err_msg=name)


class PerLayerTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()

  def assert_same(self, got, want, atol=1e-5):
    assert_same(got, want, atol)

  # Each path with WS on and off, and with one and three views.
  # Instantiated WS layers take their projection's statistics from the
  # outputs where those are smaller, else from the kernel gradients; both
  # occur at one and at three views (test_ghost_choice_follows_cost).
  @parameterized.parameters((True, 1, "never"), (True, 3, "always"),
                            (False, 1, "always"), (False, 3, "never"),
                            (True, 3, "never"), (True, 1, "auto"))
  def test_matches_loop(self, ws, views, ghost):
    model = wrn(ws=ws)
    x, y = batch(4, views)
    weights = tf.constant([1, 0, 1, 1], tf.float32)  # Row 1 is padding.
    for clip in (0.05, 100.0):  # Every example clipped / none clipped.
      want = clipped(per_example.clipped_sum_loop, model, x, y, weights,
                     views, clip)
      got = clipped(per_layer.clipped_sum_per_layer, model, x, y, weights,
                    views, clip, ghost=ghost)
      self.assert_same(got, want)
      self.assertEqual(float(tf.reduce_sum(got[0][0] * 0)), 0.0)

  @parameterized.parameters(True, False)
  def test_patch_instantiation_matches_loop(self, ws):
    # The route for more than _MAX_UNSTACKED examples, unknown batch sizes
    # and GPUs: one batched matmul of patches and output gradients.
    # tests/privacy/per_example_matrix_test.py covers batch sizes to 256.
    model = wrn(ws=ws)
    x, y = batch(4, 2)
    want = clipped(per_example.clipped_sum_loop, model, x, y, tf.ones([4]),
                   2, 0.5)
    got = clipped(per_layer.clipped_sum_per_layer, model, x, y,
                  tf.ones([4]), 2, 0.5, ghost="never", instantiate="patches")
    self.assert_same(got, want)
    with self.assertRaisesRegex(ValueError, "instantiate"):
      per_layer.clipped_sum_per_layer(model, LOSS, x, y, tf.ones([4]), 2,
                                      0.5, instantiate="grouped")

  def test_ws_variance_floor(self):
    # Channels whose fan_in * variance is below WS_EPS: the standardisation's
    # floor is active and u no longer depends on w through its norm.
    model = wrn()
    layer = model.get_layer("group1_block1_conv1")
    kernel = layer.kernel.numpy()
    rng = np.random.default_rng(3)
    kernel[..., :3] = 0.01 + 1e-4 * rng.normal(size=kernel[..., :3].shape)
    layer.kernel.assign(kernel)
    _, var = tf.nn.moments(layer.kernel, axes=[0, 1, 2])
    self.assertLess(float(var[0]) * 144, ws_conv.WS_EPS)
    x, y = batch(3, 1)
    for ghost in ("never", "always"):
      want = clipped(per_example.clipped_sum_loop, model, x, y, tf.ones([3]),
                     1, 100.0)
      got = clipped(per_layer.clipped_sum_per_layer, model, x, y,
                    tf.ones([3]), 1, 100.0, ghost=ghost)
      self.assert_same(got, want)

  def test_standardization_vjp_and_norms_match_autodiff(self):
    # Channel 0 has its variance floor active, channel 1 not. Gradients with
    # a large part along u make the u-term (and the floor switch) matter.
    rng = np.random.default_rng(0)
    kernel = rng.normal(size=(3, 3, 4, 2)).astype(np.float32)
    kernel[..., 0] = 0.01 + 5e-4 * kernel[..., 0]
    kernel = tf.constant(kernel)
    gain = tf.constant([0.7, 1.3])
    std = per_layer._Standardization(kernel)  # pylint: disable=protected-access
    np.testing.assert_array_equal(std.free.numpy(), [0.0, 1.0])
    grads = tf.constant(
        3 * std.u.numpy()[None] +
        rng.normal(size=(5, 3, 3, 4, 2)).astype(np.float32))
    sq, dgain = std.per_example_sq(grads, gain)
    # The same norms from the statistics (as read from the outputs).
    sq_stats = std.per_example_sq_from_stats(
        grads, tf.reduce_sum(grads, axis=[1, 2, 3]), dgain, gain)
    np.testing.assert_allclose(sq_stats.numpy(), sq.numpy(), rtol=1e-4,
                               atol=1e-4 * float(tf.reduce_max(sq)))
    for i in range(5):
      w, g = tf.Variable(kernel), tf.Variable(gain)
      with tf.GradientTape() as tape:
        used = ws_conv.standardize_kernel(w, g)
      dw, dg = tape.gradient(used, [w, g], output_gradients=grads[i])
      np.testing.assert_allclose(
          sq[i].numpy() / std.s2.numpy(),
          tf.reduce_sum(tf.square(dw), axis=[0, 1, 2]).numpy(), rtol=1e-4)
      np.testing.assert_allclose(dgain[i].numpy(), dg.numpy(), rtol=1e-4,
                                 atol=1e-5)
      np.testing.assert_allclose(std.vjp(grads[i] * gain).numpy(), dw.numpy(),
                                 rtol=1e-4, atol=1e-4)

  def test_frozen_layer_is_left_out(self):
    model = wrn(normalization="none")
    model.get_layer("stem_conv").trainable = False
    x, y = batch(3, 1)
    want = clipped(per_example.clipped_sum_loop, model, x, y, tf.ones([3]),
                   1, 0.5)
    got = clipped(per_layer.clipped_sum_per_layer, model, x, y, tf.ones([3]),
                  1, 0.5)
    self.assertLen(got[0], len(model.trainable_variables))
    self.assert_same(got, want)

  def test_dense_on_any_rank_with_activation(self):
    tf.keras.utils.set_random_seed(1)
    inputs = tf.keras.Input((6, 6, 3))
    h = tf.keras.layers.Conv2D(4, 3, strides=2, padding="valid",
                               activation="relu")(inputs)
    h = tf.keras.layers.Dense(5, activation="relu")(h)  # On [2, 2, 4] rows.
    h = tf.keras.layers.Flatten()(h)
    h = tf.keras.layers.Dense(8, activation="tanh")(h)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(h))
    x, y = batch(5, 1, size=6)
    want = clipped(per_example.clipped_sum_loop, model, x, y, tf.ones([5]),
                   1, 0.3)
    got = clipped(per_layer.clipped_sum_per_layer, model, x, y, tf.ones([5]),
                  1, 0.3)
    self.assert_same(got, want)

  def test_uncovered_layer_is_refused_and_auto_falls_back(self):
    inputs = tf.keras.Input((4, 4, 3))
    h = tf.keras.layers.LayerNormalization(name="ln")(inputs)
    h = tf.keras.layers.Flatten()(h)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(h))
    self.assertEqual(per_layer.unsupported_layers(model),
                     ["ln (LayerNormalization)"])
    with self.assertRaisesRegex(per_layer.UnsupportedLayerError,
                                r"ln \(LayerNormalization\).*loop"):
      per_example.resolve("per_layer", model)
    if not tf.config.list_physical_devices("GPU"):
      self.assertEqual(per_example.resolve("auto", model), "loop")
      self.assertEqual(per_example.resolve("auto", wrn()), "per_layer")
      self.assertEqual(per_example.resolve("auto", wrn(), views=16), "loop")
    # With a GPU visible: per_layer at any K (its batched-matmul route),
    # vectorized for uncovered models.
    fake_gpu = [tf.config.PhysicalDevice("/physical_device:GPU:0", "GPU")]
    with mock.patch.object(tf.config, "list_physical_devices",
                           return_value=fake_gpu):
      self.assertEqual(per_example.resolve("auto", wrn(), views=16),
                       "per_layer")
      self.assertEqual(per_example.resolve("auto", model), "vectorized")
      self.assertEqual(per_layer.instantiation_route(8), "patches")
    with self.assertRaisesRegex(ValueError, "ghost"):
      per_layer.clipped_sum_per_layer(wrn(), LOSS, *batch(1, 1),
                                      tf.ones([1]), 1, 1.0, ghost="sometimes")

  def assert_refused_and_auto_picks_loop(self, model, layer_name):
    with self.assertRaisesRegex(per_layer.UnsupportedLayerError, layer_name):
      per_example.resolve("per_layer", model)
    if not tf.config.list_physical_devices("GPU"):
      self.assertEqual(per_example.resolve("auto", model), "loop")

  def test_shared_layer_is_refused_and_loop_bounds_it(self):
    # A Dense layer tied 4 times: its calls' gradients add, so per-call
    # squared norms would understate the sensitivity (1.89 C measured).
    tf.keras.utils.set_random_seed(2)
    inputs = tf.keras.Input((6,))
    tied = tf.keras.layers.Dense(6, name="tied")
    h = inputs
    for _ in range(4):
      h = tied(h)
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10)(h))
    self.assertEqual(per_layer.unsupported_layers(model),
                     ["tied (called 4 times: shared weights)"])
    self.assert_refused_and_auto_picks_loop(model, "tied")
    x = tf.constant(np.random.default_rng(0).normal(size=(3, 6)) * 5,
                    tf.float32)
    y = tf.constant([1, 2, 3])
    clip = 0.1
    for i in range(3):  # Each example's clipped gradient has norm <= C.
      summed, norms, _, _ = clipped(per_example.clipped_sum_loop, model,
                                    x[i:i + 1], y[i:i + 1], tf.ones([1]), 1,
                                    clip)
      self.assertLessEqual(float(tf.linalg.global_norm(summed)),
                           clip * (1 + 1e-5))
      self.assertGreater(float(norms[0]), clip)

  def test_variable_tied_across_two_layers_is_refused(self):
    # Two covered layers holding one kernel: the kernel's per-example
    # gradient is the sum of both layers' parts, so adding the two layers'
    # squared norms separately would understate it.
    tf.keras.utils.set_random_seed(3)
    inputs = tf.keras.Input((6,))
    d1 = tf.keras.layers.Dense(6, name="d1")
    d2 = tf.keras.layers.Dense(6, name="d2")
    h = d2(tf.nn.relu(d1(inputs)))
    model = tf.keras.Model(inputs, tf.keras.layers.Dense(10, name="head")(h))
    d2.kernel = d1.kernel
    d2._trainable_weights = [d1.kernel, d2.bias]  # pylint: disable=protected-access
    self.assertEqual(len(model.trainable_variables), 5)  # One kernel fewer.
    self.assertEqual(len(per_layer.unsupported_layers(model)), 1)
    self.assertIn("d2 (shares variables", per_layer.unsupported_layers(
        model)[0])
    self.assert_refused_and_auto_picks_loop(model, "d2")
    # What per_layer's rules would compute here is not the loop's norm.
    x = tf.constant(np.random.default_rng(0).normal(size=(4, 6)) * 3,
                    tf.float32)
    y = tf.constant([1, 2, 3, 4])
    _, loop_norms, _, _ = clipped(per_example.clipped_sum_loop, model, x, y,
                                  tf.ones([4]), 1, 1e6)
    with mock.patch.object(per_layer, "check_supported"):
      _, layer_norms, _, _ = clipped(per_layer.clipped_sum_per_layer, model,
                                     x, y, tf.ones([4]), 1, 1e6)
    self.assertGreater(
        float(np.max(np.abs(loop_norms.numpy() - layer_norms.numpy()))),
        1e-3)

  # Strides, dilation, VALID padding, non-square kernels and inputs, views.
  @parameterized.product(
      geometry=[((3, 3), (1, 1), "same", (1, 1)),
                ((3, 3), (2, 2), "same", (1, 1)),
                ((1, 1), (2, 2), "same", (1, 1)),
                ((3, 3), (1, 1), "valid", (1, 1)),
                ((3, 3), (1, 1), "same", (2, 2)),
                ((5, 3), (2, 1), "same", (1, 1)),
                ((4, 4), (3, 2), "valid", (1, 1))],
      views=[1, 3], ws=[False, True])
  def test_raw_gram_equals_patch_gram(self, geometry, views, ws):
    kernel, strides, padding, dilation = geometry
    layer = tf.keras.layers.Conv2D(4, kernel, strides=strides,
                                   padding=padding, dilation_rate=dilation)
    n, cin = 2, 5
    rng = np.random.default_rng(0)
    # Positive activations (as after a ReLU): centring matters for WS.
    a = tf.constant(np.abs(rng.normal(size=(n * views, 7, 9, cin))).astype(
        np.float32) + 1.0)
    layer.build(a.shape)
    conv = conv_rule(layer, a, n, views, ws)
    raw, patch = conv._raw_gram().numpy(), conv._patch_gram().numpy()  # pylint: disable=protected-access
    self.assertEqual(raw.shape, patch.shape)
    np.testing.assert_allclose(raw, patch, rtol=1e-5,
                               atol=1e-5 * np.abs(patch).max())

  def test_ghost_choice_follows_cost(self):
    # 8x8 inputs: the last stage has 2x2 outputs (ghost), the stem 8x8 with
    # 27 inputs and 16 outputs (instantiate).
    model = wrn()
    x, _ = batch(2, 1)
    with tf.GradientTape() as tape:
      _, taps = per_layer._forward_with_taps(model, x, tape, 1, "auto")  # pylint: disable=protected-access
    ghost = {layer.name: kept.ghost for rule, layer, _, kept, _ in taps
             if rule is per_layer._Conv}  # pylint: disable=protected-access
    self.assertFalse(ghost["stem_conv"])
    self.assertTrue(ghost["group3_block1_conv2"])
    # Ghost layers take the cheaper Gram: the raw one at stride 1, the patch
    # one for the strided conv (so ghost="always" above exercises both).
    raw = {layer.name: conv_rule(layer, a, 2, 1, True)._raw_gram_is_cheaper()  # pylint: disable=protected-access
           for rule, layer, a, _, _ in taps if rule is per_layer._Conv}  # pylint: disable=protected-access
    self.assertTrue(raw["group3_block1_conv2"])
    self.assertTrue(raw["group1_block1_conv2"])
    self.assertFalse(raw["group2_block1_conv1"])
    # Instantiated WS layers: the projection's statistics from the outputs
    # where there are fewer output positions than kernel inputs.
    for views in (1, 3):
      from_outputs = {
          layer.name: per_layer._Conv._ws_stats_from_outputs(layer, a, views)  # pylint: disable=protected-access
          for rule, layer, a, _, _ in taps if rule is per_layer._Conv}  # pylint: disable=protected-access
      self.assertFalse(from_outputs["stem_conv"])
      self.assertTrue(from_outputs["group2_block1_conv2"])
      self.assertEqual(from_outputs["group1_block1_conv2"], views == 1)


if __name__ == "__main__":
  absltest.main()
