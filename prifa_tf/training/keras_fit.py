"""DP-SGD / DP-SAT through ``model.fit``.

``PrivateModel`` wraps a Keras model. Its ``train_step`` feeds each physical
batch to the same ``GradientEngine`` the Trainer uses and, every
``accumulation_steps`` batches (one logical batch), noises the accumulated
clipped sum once, divides by the logical batch size and applies the
optimizer. DP-SAT's perturbation is applied at the first physical batch of a
logical batch and removed (exactly) before the update.

  private = PrivateModel(model, l2_norm_clip=1.0, noise_multiplier=1.1,
                         accumulation_steps=4, noise_seed=1234)
  private.compile(optimizer=tf.keras.optimizers.SGD(2.0), metrics=["acc"])
  private.fit(dataset.batch(physical_batch, drop_remainder=True), ...)

The dataset must yield full physical batches (``drop_remainder=True``):
the logical batch size is ``accumulation_steps * physical batch``. This is
for users who prefer Keras' loop; the resumable Trainer (checkpoints, budget
guard, accounting) is the reference path. Accounting is the caller's job
here: use ``prifa_tf.privacy.accounting`` with the number of logical steps.
"""

import os

import tensorflow as tf

from prifa_tf.optim import gradient_engine
from prifa_tf.training import losses


class PrivateModel(tf.keras.Model):
  """A Keras model trained with DP-SGD (or DP-SAT) by ``fit``.

  Args:
    model: the Keras model to train (its variables are shared).
    l2_norm_clip: C.
    noise_multiplier: sigma.
    accumulation_steps: physical batches per logical batch.
    noise_seed: seed of the per-logical-step noise. None (the default)
      draws it from OS entropy and keeps it in memory only, as DP needs; a
      fixed seed makes the noise reproducible by anyone who knows it.
    sharpness_rho: DP-SAT radius (0 = DP-SGD).
    multilabel: sigmoid BCE instead of softmax cross-entropy.
    per_example: per-example gradient strategy.
  """

  def __init__(self, model, l2_norm_clip=1.0, noise_multiplier=1.0,
               accumulation_steps=1, noise_seed=None, sharpness_rho=0.0,
               multilabel=False, per_example="auto", **kwargs):
    super().__init__(**kwargs)
    self.inner = model
    self.accumulation_steps = int(accumulation_steps)
    self.noise_seed = (int.from_bytes(os.urandom(8), "little") >> 2
                       if noise_seed is None else int(noise_seed))
    self.rho = float(sharpness_rho)
    self.engine = gradient_engine.GradientEngine(
        model, losses.for_labels(multilabel), views=1, private=True,
        l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier,
        strategy=per_example)
    variables = model.trainable_variables
    self.micro_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.logical_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.prev_grad = [tf.Variable(tf.zeros_like(v), trainable=False)
                      for v in variables]
    self.backup = [tf.Variable(tf.zeros_like(v), trainable=False)
                   for v in variables]

  def call(self, inputs, training=False):
    return self.inner(inputs, training=training)

  def _perturb(self):
    variables = self.inner.trainable_variables
    norm = tf.maximum(tf.linalg.global_norm(self.prev_grad), 1e-12)
    for b, v, g in zip(self.backup, variables, self.prev_grad):
      b.assign(v)
      v.assign_add(self.rho * g / norm)

  def train_step(self, data):
    x, y = data
    b = tf.shape(x)[0]
    first = tf.equal(self.micro_step % self.accumulation_steps, 0)
    use_sat = self.rho > 0
    if use_sat:
      tf.cond(tf.logical_and(first, self.logical_step > 0),
              lambda: self._perturb() or tf.constant(True),
              lambda: tf.constant(False))
    self.engine._accumulate_single(  # pylint: disable=protected-access
        x, y, tf.ones([b]))
    self.micro_step.assign_add(1)

    def apply():
      variables = self.inner.trainable_variables
      if use_sat:
        perturbed = self.logical_step > 0
        for v, bk in zip(variables, self.backup):
          v.assign(tf.where(perturbed, bk, v))
      # The engine's own privatisation: noise once, divide by B.
      grads = self.engine._finalize_fn(  # pylint: disable=protected-access
          tf.cast(b * self.accumulation_steps, tf.float32),
          tf.stack([tf.constant(self.noise_seed, tf.int64),
                    self.logical_step]))
      self.optimizer.apply_gradients(zip(grads, variables))
      for p, g in zip(self.prev_grad, grads):
        p.assign(g)
      self.engine.reset()
      self.logical_step.assign_add(1)
      return tf.constant(True)

    tf.cond(tf.equal(self.micro_step % self.accumulation_steps, 0), apply,
            lambda: tf.constant(False))
    self.compiled_metrics.update_state(y, self.inner(x, training=False))
    return {m.name: m.result() for m in self.metrics}
