"""Clipped sums of per-example gradients: the replaceable part of DP-SGD.

Each strategy maps a physical batch to ``(sum_i w_i * clip(g_i), norms)``,
where ``g_i`` is the gradient of example i's loss. With augmentation
multiplicity K the batch holds K contiguous views per example and an
example's loss is the *mean* over its views, so its gradient is the mean of
the K view gradients and is clipped once (De et al. 2022).

Strategies:
  * ``loop``: a tf.while_loop over examples, accumulating clipped gradients.
    Memory O(parameters); fastest on CPU.
  * ``vectorized``: ``tf.vectorized_map`` over examples, materialising all
    per-example gradients, as TF-Privacy's vectorized optimizers do. Suited
    to accelerators.
"""

import tensorflow as tf

from prifa_tf.privacy import clipping

STRATEGIES = ("loop", "vectorized")


def _example_loss(model, loss_fn, x_views, y_views):
  logits = model(x_views, training=True)
  return tf.reduce_mean(loss_fn(y_views, logits))


def _split_views(x, y, k):
  n = tf.shape(x)[0] // k
  xs = tf.reshape(x, tf.concat([[n, k], tf.shape(x)[1:]], 0))
  ys = tf.reshape(y, tf.concat([[n, k], tf.shape(y)[1:]], 0))
  return xs, ys, n


def clipped_sum_loop(model, loss_fn, x, y, weights, views, l2_norm_clip):
  """Sequential strategy; see module docstring."""
  variables = model.trainable_variables
  xs, ys, n = _split_views(x, y, views)
  acc = [tf.zeros_like(v) for v in variables]
  norms = tf.TensorArray(tf.float32, size=n)
  for i in tf.range(n):
    with tf.GradientTape() as tape:
      loss = _example_loss(model, loss_fn, xs[i], ys[i])
    grads = tape.gradient(loss, variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norm = tf.linalg.global_norm(grads)
    factor = clipping.clip_factors(norm, l2_norm_clip) * tf.cast(
        weights[i], tf.float32)
    acc = [a + factor * g for a, g in zip(acc, grads)]
    norms = norms.write(i, norm)
  return acc, norms.stack()


def per_example_gradients(model, loss_fn, x, y, views):
  """All per-example gradients, [n, *shape] per variable (vectorized)."""
  variables = model.trainable_variables
  xs, ys, _ = _split_views(x, y, views)

  def one(args):
    xv, yv = args
    with tf.GradientTape() as tape:
      loss = _example_loss(model, loss_fn, xv, yv)
    return tape.gradient(loss, variables,
                         unconnected_gradients=tf.UnconnectedGradients.ZERO)

  return tf.vectorized_map(one, (xs, ys))


def clipped_sum_vectorized(model, loss_fn, x, y, weights, views,
                           l2_norm_clip):
  """Vectorized strategy; see module docstring."""
  grads = per_example_gradients(model, loss_fn, x, y, views)
  return clipping.clipped_weighted_sum(grads, l2_norm_clip, weights)


def get_strategy(name: str):
  """Returns the clipped-sum function called ``name``."""
  if name == "loop":
    return clipped_sum_loop
  if name == "vectorized":
    return clipped_sum_vectorized
  raise ValueError(f"Unknown per-example strategy {name!r}; choose one of "
                   f"{STRATEGIES}.")
