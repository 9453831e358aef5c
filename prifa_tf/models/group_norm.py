"""GroupNorm: Keras' GroupNormalization with a lean forward pass.

Keras 2.15's ``GroupNormalization.call`` builds a mask of ones the size of
its input and takes weighted moments over it, through autograph. The math
is per example and group: the mean and (biased) variance over space and
the group's channels, then ``gamma * (x - mean) / sqrt(var + eps) + beta``.
``GroupNorm`` computes exactly that with plain moments, without the mask
and without autograph: the same weights, names and config (HDF5 weights
load either way), a third of the graph ops to trace and run.

Guarantees and edge cases:
  * Equal to Keras' layer to float rounding (``tests/models/
    group_norm_test.py`` checks float64 to 1e-12, float32 to 1e-5, values
    and gradients, for 1, 4 and 16 groups).
  * A mask, or a normalized axis other than the last, goes to Keras' own
    ``call`` (a WRN uses neither).
  * ``privacy/per_layer.py`` applies its GroupNormalization rule to this
    class too.
"""

import tensorflow as tf


@tf.keras.utils.register_keras_serializable(package="prifa_tf")
class GroupNorm(tf.keras.layers.GroupNormalization):
  """``tf.keras.layers.GroupNormalization`` without the mask's cost."""

  @tf.autograph.experimental.do_not_convert
  def call(self, inputs, mask=None, training=None):
    del training  # Keras passes it through the wrapper; GN has no mode.
    rank = inputs.shape.rank
    if mask is not None or self.axis not in (-1, rank - 1):
      return super().call(inputs, mask=mask)
    shape = tf.shape(inputs)
    channels = inputs.shape[-1]
    grouped = tf.reshape(inputs, tf.concat(
        [shape[:-1], [self.groups, channels // self.groups]], 0))
    # Statistics per example and group: every axis but 0 and the group's.
    axes = list(range(1, rank - 1)) + [rank]
    mean, variance = tf.nn.moments(grouped, axes=axes, keepdims=True)
    group_shape = [self.groups, channels // self.groups]
    normalized = tf.nn.batch_normalization(  # Two full-size ops: x*a + b.
        grouped, mean, variance,
        offset=tf.reshape(self.beta, group_shape) if self.center else None,
        scale=tf.reshape(self.gamma, group_shape) if self.scale else None,
        variance_epsilon=self.epsilon)
    return tf.reshape(normalized, shape)
