"""Weight standardisation statistics and behaviour."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.models import ws_conv


class WSConvTest(absltest.TestCase):

  def test_standardized_kernel_statistics(self):
    layer = ws_conv.WSConv2D(32, 3)
    layer.build((None, 8, 8, 16))
    layer.kernel.assign(tf.random.normal(layer.kernel.shape, 0.3, 2.0))
    w = layer.standardized_kernel().numpy()
    fan_in = 3 * 3 * 16
    flat = w.reshape(fan_in, 32)
    np.testing.assert_allclose(flat.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(flat.var(axis=0), 1.0 / fan_in, rtol=1e-4)

  def test_gain_scales_each_output_channel(self):
    layer = ws_conv.WSConv2D(4, 1)
    layer.build((None, 4, 4, 8))
    gain = np.array([1.0, 2.0, 0.5, 3.0], np.float32)
    layer.gain.assign(gain)
    flat = layer.standardized_kernel().numpy().reshape(8, 4)
    np.testing.assert_allclose(flat.var(axis=0), gain**2 / 8, rtol=1e-4)

  def test_variance_floor(self):
    kernel = tf.constant(np.full((1, 1, 4, 2), 0.5, np.float32))
    out = ws_conv.standardize_kernel(kernel, tf.ones([2]))
    self.assertTrue(np.all(np.isfinite(out.numpy())))
    np.testing.assert_allclose(out.numpy(), 0.0, atol=1e-6)

  def test_call_uses_standardized_kernel(self):
    layer = ws_conv.WSConv2D(6, 3, padding="same")
    x = tf.random.normal([2, 5, 5, 3])
    y = layer(x)
    ref = tf.nn.conv2d(x, layer.standardized_kernel(), 1, "SAME") + layer.bias
    np.testing.assert_allclose(y.numpy(), ref.numpy(), atol=1e-5)
    self.assertIn("gain", [v.name.split("/")[-1].split(":")[0]
                           for v in layer.trainable_variables])


if __name__ == "__main__":
  absltest.main()
