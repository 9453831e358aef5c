"""Weight-standardised 2D convolution (Qiao et al. 2019; De et al. 2022)."""

import numpy as np
import tensorflow as tf

# Floor on fan_in * var, as jax_privacy's WSConv2D does
# (docs/sharp_edges.md#ws-variance-floor).
WS_EPS = 1e-4


def standardize_kernel(kernel, gain, eps=WS_EPS):
  """Scaled weight standardisation of a conv kernel.

  Computes ``(w - mean) * gain / sqrt(max(fan_in * var, eps))`` per output
  channel, where mean and var are taken over (kh, kw, cin).

  Args:
    kernel: float tensor of shape [kh, kw, cin, cout].
    gain: float tensor of shape [cout].
    eps: floor on ``fan_in * var``.

  Returns:
    The standardised kernel, same shape as ``kernel``.
  """
  return standardize_with_moments(kernel, *kernel_moments(kernel), gain, eps)


def kernel_moments(kernel):
  """Per output channel: the mean and fan_in * variance, [1, 1, 1, cout]."""
  mean, var = tf.nn.moments(kernel, axes=[0, 1, 2], keepdims=True)
  return mean, var * float(np.prod(kernel.shape[:-1]))


def standardize_with_moments(kernel, mean, spread, gain, eps=WS_EPS):
  """standardize_kernel given ``kernel_moments(kernel)``."""
  scale = tf.math.rsqrt(tf.maximum(spread, eps)) * gain
  return kernel * scale - mean * scale


class WSConv2D(tf.keras.layers.Conv2D):
  """Conv2D whose kernel is weight-standardised on every call.

  Has a learnable per-output-channel ``gain`` (initialised to 1) and always a
  bias, as in De et al. (2022).
  """

  def __init__(self, filters, kernel_size, **kwargs):
    kwargs.setdefault("use_bias", True)
    kwargs.setdefault(
        "kernel_initializer",
        tf.keras.initializers.VarianceScaling(1.0, "fan_in", "normal"))
    super().__init__(filters, kernel_size, **kwargs)

  def build(self, input_shape):
    super().build(input_shape)
    self.gain = self.add_weight(
        name="gain", shape=(self.filters,), initializer="ones",
        trainable=True)

  def standardized_kernel(self):
    return standardize_kernel(self.kernel, self.gain)

  def convolution_op(self, inputs, kernel):
    return super().convolution_op(inputs, standardize_kernel(kernel, self.gain))
