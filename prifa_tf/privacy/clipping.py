"""Per-example clipping to a global L2 norm (Abadi et al. 2016)."""

import tensorflow as tf


def per_example_squared_norms(per_example_grads):
  """Squared global L2 norm over all variables, per example.

  Args:
    per_example_grads: list of tensors, each [n, *variable_shape].

  Returns:
    Tensor [n] of squared norms.
  """
  return tf.add_n([tf.reduce_sum(tf.reshape(tf.square(g),
                                            [tf.shape(g)[0], -1]), axis=1)
                   for g in per_example_grads])


def per_example_global_norms(per_example_grads):
  """Global L2 norm over all variables, per example ([n])."""
  return tf.sqrt(per_example_squared_norms(per_example_grads))


def clip_factors(norms, l2_norm_clip):
  """min(1, C / ||g||): multiplying g by it gives norm <= C."""
  norms = tf.convert_to_tensor(norms)
  one = tf.ones([], norms.dtype)
  return tf.minimum(one, tf.cast(l2_norm_clip, norms.dtype) /
                    tf.maximum(norms, tf.cast(1e-12, norms.dtype)))


def clipped_weighted_sum(per_example_grads, l2_norm_clip, weights=None):
  """Clips each example's gradient to ``l2_norm_clip`` and sums them.

  Args:
    per_example_grads: list of tensors [n, *shape].
    l2_norm_clip: clipping bound C.
    weights: optional [n] weights (1 for real rows, 0 for padding).

  Returns:
    (list of summed clipped gradients, norms [n]).
  """
  norms = per_example_global_norms(per_example_grads)
  factors = clip_factors(norms, l2_norm_clip)
  if weights is not None:
    factors = factors * tf.cast(weights, factors.dtype)
  summed = [tf.tensordot(factors, g, axes=1) for g in per_example_grads]
  return summed, norms
