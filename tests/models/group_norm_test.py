"""GroupNorm equals Keras' GroupNormalization, values and gradients."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf.models import group_norm


def pair(groups, dtype, channels=16):
  """Keras' layer and ours, with the same random gamma and beta."""
  rng = np.random.default_rng(groups)
  layers = []
  for cls in (tf.keras.layers.GroupNormalization, group_norm.GroupNorm):
    layer = cls(groups=groups, epsilon=1e-5, dtype=dtype)
    layer.build((None, 6, 6, channels))
    layer.gamma.assign(rng.normal(size=channels).astype(dtype) + 1)
    layer.beta.assign(rng.normal(size=channels).astype(dtype))
    rng = np.random.default_rng(groups)  # The same draws for both.
    layers.append(layer)
  return layers


class GroupNormTest(parameterized.TestCase):

  # float64 shows the math is the same; float32 that rounding stays small
  # (both take moments in another order, hence not exactly equal).
  @parameterized.product(groups=[1, 4, 16], dtype=["float64", "float32"])
  def test_values_and_gradients_equal_keras(self, groups, dtype):
    keras_layer, ours = pair(groups, dtype)
    x = tf.constant(np.random.default_rng(7).normal(
        2.0, 3.0, size=(5, 6, 6, 16)).astype(dtype))
    outs, grads = [], []
    for layer in (keras_layer, ours):
      with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
        loss = tf.reduce_sum(y * tf.sin(y))
      outs.append(y.numpy())
      grads.append([g.numpy() for g in tape.gradient(
          loss, [x, layer.gamma, layer.beta])])
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(outs[1], outs[0], rtol=tol, atol=tol)
    for a, b in zip(grads[1], grads[0]):
      np.testing.assert_allclose(a, b, rtol=tol, atol=tol * 10)

  def test_same_weights_and_config(self):
    keras_layer, ours = pair(4, "float32")
    self.assertEqual([w.name.split("/")[-1] for w in ours.weights],
                     [w.name.split("/")[-1] for w in keras_layer.weights])
    self.assertEqual(ours.get_config(), {**keras_layer.get_config(),
                                         "name": ours.name})
    restored = tf.keras.layers.deserialize(
        tf.keras.layers.serialize(ours))
    self.assertIsInstance(restored, group_norm.GroupNorm)

  def test_mask_goes_to_keras(self):
    keras_layer, ours = pair(4, "float64")
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 6, 6, 16)))
    mask = tf.constant(np.random.default_rng(2).random((2, 6, 6, 1)) > 0.3)
    np.testing.assert_allclose(ours(x, mask=mask), keras_layer(x, mask=mask))


if __name__ == "__main__":
  absltest.main()
