"""Gaussian noise of the Gaussian mechanism, added once per logical batch."""

import tensorflow as tf


def noise_stddev(l2_norm_clip: float, noise_multiplier: float) -> float:
  """Per-coordinate std of the noise added to the *sum*: sigma * C."""
  return float(l2_norm_clip) * float(noise_multiplier)


def add_gaussian_noise(summed_grads, l2_norm_clip, noise_multiplier, seed):
  """Returns ``summed_grads + N(0, (sigma C)^2 I)``.

  Args:
    summed_grads: list of tensors (sum of clipped per-example gradients).
    l2_norm_clip: C.
    noise_multiplier: sigma.
    seed: int tensor [2] for stateless sampling; every variable gets an
      independent stream derived from it.

  Returns:
    List of noised tensors.
  """
  std = noise_stddev(l2_norm_clip, noise_multiplier)
  if std == 0.0:
    return list(summed_grads)
  seeds = tf.random.experimental.stateless_split(
      tf.cast(seed, tf.int64), len(summed_grads))
  return [g + tf.random.stateless_normal(tf.shape(g), seeds[i], stddev=std,
                                         dtype=g.dtype)
          for i, g in enumerate(summed_grads)]
