"""Logical-batch gradients: accumulate physical batches, privatise once.

A logical batch of B examples (OBS) is processed as physical batches of b.
For private training each physical batch contributes the *sum of clipped
per-example gradients*; when the logical batch is complete, Gaussian noise
N(0, sigma^2 C^2) is added **once** and the result divided by B. TF-Privacy's
``gradient_accumulation_steps`` instead noises every micro-step, which this
engine avoids (README, "Fidelity notes").

Non-private training accumulates plain per-example loss gradients and
divides by the number of real examples.
"""

import tensorflow as tf

from prifa_tf.privacy import noise as noise_lib
from prifa_tf.privacy import per_example


def _example_losses(model, loss_fn, x, y, views, training=True):
  """Loss per example: mean over its ``views`` contiguous rows."""
  logits = model(x, training=training)
  losses = loss_fn(y, logits)
  return tf.reduce_mean(tf.reshape(losses, [-1, views]), axis=1), logits


class GradientEngine(tf.Module):
  """Accumulates gradient sums over physical batches of a logical batch.

  Args:
    model: Keras model mapping images to logits.
    loss_fn: per-row loss ``loss_fn(labels, logits) -> [rows]``.
    views: rows per example (augmentation multiplicity, >= 1).
    private: clip and noise (DP-SGD) or not.
    l2_norm_clip: C.
    noise_multiplier: sigma.
    strategy: per-example gradient strategy (see privacy.per_example).
  """

  def __init__(self, model, loss_fn, views=1, private=True, l2_norm_clip=1.0,
               noise_multiplier=0.0, strategy="loop"):
    super().__init__(name="gradient_engine")
    self.model = model
    self.loss_fn = loss_fn
    self.views = int(views)
    self.private = bool(private)
    self.l2_norm_clip = float(l2_norm_clip)
    self.noise_multiplier = float(noise_multiplier)
    self._clipped_sum = per_example.get_strategy(strategy)
    variables = model.trainable_variables
    self.sums = [tf.Variable(tf.zeros_like(v), trainable=False,
                             name="grad_sum") for v in variables]
    # Statistics of the current logical batch.
    self.examples = tf.Variable(0.0, trainable=False)
    self.clipped = tf.Variable(0.0, trainable=False)
    self.norm_sum = tf.Variable(0.0, trainable=False)
    self.norm_max = tf.Variable(0.0, trainable=False)
    self.loss_sum = tf.Variable(0.0, trainable=False)
    self.correct = tf.Variable(0.0, trainable=False)
    # Number of noise draws ever made (tested: one per logical batch).
    self.noise_draws = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.accumulate = tf.function(self._accumulate)
    self._finalize_fn = tf.function(self._finalize)

  def _accumulate(self, x, y, weights):
    """Adds one physical batch. ``weights`` is 1 for real examples, 0 for pad.

    Returns:
      Per-example losses [n] (for logging).
    """
    weights = tf.cast(weights, tf.float32)
    variables = self.model.trainable_variables
    if self.private:
      sums, norms = self._clipped_sum(self.model, self.loss_fn, x, y, weights,
                                      self.views, self.l2_norm_clip)
      real = weights > 0
      real_norms = tf.boolean_mask(norms, real)
      self.clipped.assign_add(tf.reduce_sum(
          tf.cast(real_norms > self.l2_norm_clip, tf.float32)))
      self.norm_sum.assign_add(tf.reduce_sum(real_norms))
      self.norm_max.assign(tf.maximum(self.norm_max, tf.reduce_max(
          tf.concat([real_norms, [0.0]], 0))))
      losses, logits = _example_losses(self.model, self.loss_fn, x, y,
                                       self.views, training=False)
    else:
      with tf.GradientTape() as tape:
        losses, logits = _example_losses(self.model, self.loss_fn, x, y,
                                         self.views)
        total = tf.reduce_sum(losses * weights)
      sums = tape.gradient(total, variables,
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
    for acc, g in zip(self.sums, sums):
      acc.assign_add(g)
    self.examples.assign_add(tf.reduce_sum(weights))
    self.loss_sum.assign_add(tf.reduce_sum(losses * weights))
    if y.shape.rank == 1:  # single-label: training accuracy on view 0.
      pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
      hit = tf.cast(tf.equal(pred, tf.cast(y, tf.int32)), tf.float32)
      hit = tf.reshape(hit, [-1, self.views])[:, 0]
      self.correct.assign_add(tf.reduce_sum(hit * weights))
    return losses

  def _finalize(self, denominator, seed):
    grads = [tf.identity(s) for s in self.sums]
    if self.private:
      grads = noise_lib.add_gaussian_noise(grads, self.l2_norm_clip,
                                           self.noise_multiplier, seed)
      self.noise_draws.assign_add(1)
    grads = [g / tf.cast(denominator, g.dtype) for g in grads]
    return grads

  def finalize(self, denominator, seed=(0, 0)):
    """Privatises the accumulated sum once and returns the mean gradient.

    Args:
      denominator: B for private training (expected logical batch size);
        ignored in favour of the real example count when non-private.
      seed: [2] ints, the noise seed of this logical batch.

    Returns:
      (list of gradient tensors, dict of batch statistics). Accumulators are
      reset afterwards.
    """
    examples = float(self.examples.numpy())
    if not self.private:
      denominator = max(examples, 1.0)
    grads = self._finalize_fn(tf.constant(denominator, tf.float32),
                              tf.constant(seed, tf.int64))
    stats = {
        "examples": examples,
        "loss": float(self.loss_sum.numpy()) / max(examples, 1.0),
        "train_accuracy": float(self.correct.numpy()) / max(examples, 1.0),
    }
    if self.private:
      stats.update(
          clipped_fraction=float(self.clipped.numpy()) / max(examples, 1.0),
          grad_norm_mean=float(self.norm_sum.numpy()) / max(examples, 1.0),
          grad_norm_max=float(self.norm_max.numpy()))
    self.reset()
    return grads, stats

  def reset(self):
    for s in self.sums:
      s.assign(tf.zeros_like(s))
    for v in (self.examples, self.clipped, self.norm_sum, self.norm_max,
              self.loss_sum, self.correct):
      v.assign(0.0)
