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
the logical batch size is ``accumulation_steps * physical batch``. An
example must never appear twice in one logical batch, so ``fit`` refuses a
dataset whose batches per epoch are unknown or not a multiple of
``accumulation_steps`` (a logical batch would span two epochs), and checks
that every epoch, and the call, ends on a logical-batch boundary.

Accounting: give ``num_examples`` and ``target_epsilon`` (and ``delta``),
and ``fit`` tracks ε after every logical step (``logs["epsilon"]``) and
stops before a step that would exceed the target. Keras datasets shuffle,
so this ε is the accountant's Poisson ε *assumed* for shuffled batches
(``privacy/guarantee.py``); the resumable Trainer samples Poisson and is the
reference path.
"""

import os

import tensorflow as tf

from prifa_tf.optim import gradient_engine
from prifa_tf.privacy import accounting
from prifa_tf.privacy import guarantee
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
               multilabel=False, per_example="auto", num_examples=None,
               target_epsilon=None, delta=1e-5, accountant="rdp", **kwargs):
    super().__init__(**kwargs)
    if target_epsilon is not None and not num_examples:
      raise ValueError("target_epsilon needs num_examples (the training set "
                       "size n, for q = B / n).")
    self.budget = None if target_epsilon is None else dict(
        n=int(num_examples), target=float(target_epsilon),
        delta=float(delta), accountant=accountant,
        sigma=float(noise_multiplier))
    self.inner = model
    self.accumulation_steps = int(accumulation_steps)
    self.noise_seed = (int.from_bytes(os.urandom(8), "little") >> 2
                       if noise_seed is None else int(noise_seed))
    self.rho = float(sharpness_rho)
    self.per_example_loss = losses.for_labels(multilabel)
    # The mean loss of each physical batch at its current weights, shown in
    # fit's progress bar and history beside every compiled metric. Like
    # them it is computed without noise: not covered by the DP guarantee.
    self.loss_tracker = tf.keras.metrics.Mean(name="loss")
    self.engine = gradient_engine.GradientEngine(
        model, self.per_example_loss, views=1, private=True,
        l2_norm_clip=l2_norm_clip, noise_multiplier=noise_multiplier,
        strategy=per_example)
    variables = model.trainable_variables
    self.micro_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.last_physical_batch = tf.Variable(0, dtype=tf.int64,
                                           trainable=False)
    self.epsilon_spent, self.stop_reason = None, None
    self.logical_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.prev_grad = [tf.Variable(tf.zeros_like(v), trainable=False)
                      for v in variables]
    self.backup = [tf.Variable(tf.zeros_like(v), trainable=False)
                   for v in variables]

  def call(self, inputs, training=False):
    return self.inner(inputs, training=training)

  @property
  def metrics(self):
    return [self.loss_tracker] + super().metrics

  # ------------------------------------------------------------------ fit --
  def fit(self, x=None, y=None, batch_size=None, epochs=1, callbacks=None,
          steps_per_epoch=None, **kwargs):
    """``Model.fit``, refusing inputs that would put an example twice into
    one logical batch, with the budget guard when a target ε is set."""
    k = self.accumulation_steps
    if not isinstance(x, tf.data.Dataset):
      raise ValueError("PrivateModel.fit needs a tf.data.Dataset of full "
                       "physical batches (batch(b, drop_remainder=True)).")
    batches = steps_per_epoch
    if batches is None:
      cardinality = int(x.cardinality().numpy())
      if cardinality < 0:
        raise ValueError(
            "PrivateModel.fit needs a known number of batches per epoch (the "
            "dataset's cardinality is unknown or infinite): give "
            "steps_per_epoch, a multiple of accumulation_steps.")
      batches = cardinality
    if batches % k:
      raise ValueError(
          f"{batches} physical batches per epoch is not a multiple of "
          f"accumulation_steps={k}: a logical batch would span two epochs "
          "and could hold an example twice. Drop or add batches so that it "
          "divides.")
    if int(self.micro_step.numpy()) % k:
      raise ValueError("A partial logical batch is pending from an earlier "
                       "call; it cannot be carried into this one.")
    callbacks = list(callbacks or []) + [_Boundaries(self)]
    if self.budget is not None:
      callbacks.append(_Budget(self))
    return super().fit(x, y, batch_size=batch_size, epochs=epochs,
                       callbacks=callbacks, steps_per_epoch=steps_per_epoch,
                       **kwargs)

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
    self.last_physical_batch.assign(tf.cast(b, tf.int64))
    self.engine._accumulate_single(  # pylint: disable=protected-access
        x, y, tf.ones([b]))
    # Data-dependent, so that it never runs when the iterator is exhausted
    # (graph ops without a dependency on x may run before get_next fails).
    self.micro_step.assign_add(tf.cast(tf.size(x) > 0, tf.int64))
    # Loss and metrics at the weights this batch's gradients were taken at
    # (before the logical batch's update), as Keras reports them.
    predictions = self.inner(x, training=False)
    self.loss_tracker.update_state(
        tf.reduce_mean(self.per_example_loss(y, predictions)))
    self.compiled_metrics.update_state(y, predictions)

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
    return {m.name: m.result() for m in self.metrics}


class _Boundaries(tf.keras.callbacks.Callback):
  """Checks that epochs and the call end on logical-batch boundaries."""

  def __init__(self, private):
    super().__init__()
    self.private = private

  def _check(self, where):
    k = self.private.accumulation_steps
    pending = float(self.private.engine.stats["examples"].numpy()) > 0
    if pending or int(self.private.micro_step.numpy()) % k:
      self.private.engine.reset()
      self.private.micro_step.assign(0)
      raise RuntimeError(
          f"A logical batch was left incomplete at the end of the {where} "
          "(its clipped sum was discarded, unreleased); the dataset yielded "
          "a number of batches that is not a multiple of "
          f"accumulation_steps={k}.")

  def on_epoch_end(self, epoch, logs=None):
    self._check(f"epoch {epoch + 1}")

  def on_train_end(self, logs=None):
    self._check("fit call")


class _Budget(tf.keras.callbacks.Callback):
  """Logs the accountant's ε and stops before a step that would exceed it."""

  def __init__(self, private):
    super().__init__()
    self.private = private
    self._logical_batch = None

  def _epsilon(self, steps):
    b = self.private.budget
    batch = self._logical_batch
    return accounting.epsilon(b["n"], batch, b["sigma"], steps, b["delta"],
                              b["accountant"])

  def on_train_batch_end(self, batch, logs=None):
    p = self.private
    if int(p.micro_step.numpy()) % p.accumulation_steps:
      return
    if self._logical_batch is None:
      self._logical_batch = int(p.last_physical_batch.numpy()) * \
          p.accumulation_steps
    steps = int(p.logical_step.numpy())
    eps = self._epsilon(steps)
    if logs is not None:
      logs["epsilon"] = eps
    p.epsilon_spent = eps
    if self._epsilon(steps + 1) > p.budget["target"]:
      p.stop_training = True
      p.stop_reason = (f"privacy budget: one more logical step would exceed "
                       f"target_epsilon={p.budget['target']} "
                       f"({guarantee.console_tag('shuffle')}={eps:.3f} after "
                       f"{steps} steps)")
