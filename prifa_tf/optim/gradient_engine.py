"""Logical-batch gradients: accumulate physical batches, privatise once.

A logical batch of B examples (OBS) is processed as physical batches of b.
For private training each physical batch contributes the *sum of clipped
per-example gradients*; when the logical batch is complete, Gaussian noise
N(0, sigma^2 C^2) is added **once** and the result divided by B. TF-Privacy's
``gradient_accumulation_steps`` instead noises every micro-step, which this
engine avoids (docs/sharp_edges.md#noise-once).

Under a ``tf.distribute`` strategy with R replicas, each replica computes
the clipped sum of its b / R examples; the sums are all-reduced (SUM) and
noise is added once, in cross-replica context, from the step's seed. The
result is the single-device result: neither the update nor the noise scales
with R (TF-Privacy's optimizers scale both).

Non-private training accumulates plain per-example loss gradients and
divides by the number of real examples.
"""

import functools

import tensorflow as tf

from prifa_tf.privacy import noise as noise_lib
from prifa_tf.privacy import per_example

_SUM_STATS = ("examples", "clipped", "norm_sum", "loss_sum", "correct")


class GradientEngine(tf.Module):
  """Accumulates gradient sums over physical batches of a logical batch.

  Args:
    model: Keras model mapping images to logits (built under ``strategy``).
    loss_fn: per-row loss ``loss_fn(labels, logits) -> [rows]``.
    views: rows per example (augmentation multiplicity, >= 1).
    private: clip and noise (DP-SGD) or not.
    l2_norm_clip: C.
    noise_multiplier: sigma.
    strategy: per-example gradient strategy (see privacy.per_example).
    distribution: optional tf.distribute.Strategy; default the current one.
    secure_noise: draw the noise from the OS CSPRNG with Opacus' secure-mode
      floating-point mitigation (``privacy.noise.secure_gaussian_noise``)
      instead of the seeded stateless generator; the seed is then unused.
  """

  def __init__(self, model, loss_fn, views=1, private=True, l2_norm_clip=1.0,
               noise_multiplier=0.0, strategy="auto", distribution=None,
               secure_noise=False):
    super().__init__(name="gradient_engine")
    self.model = model
    self.loss_fn = loss_fn
    self.views = int(views)
    self.private = bool(private)
    self.l2_norm_clip = float(l2_norm_clip)
    self.noise_multiplier = float(noise_multiplier)
    self.secure_noise = bool(secure_noise)
    # Only private training needs per-example gradients (and their checks).
    self.strategy_name = per_example.resolve(
        strategy, model if private else None, views=int(views))
    self._clipped_sum = per_example.get_strategy(self.strategy_name)
    self.distribution = distribution or tf.distribute.get_strategy()
    self.replicas = self.distribution.num_replicas_in_sync
    with self.distribution.scope():
      self.sums = [tf.Variable(tf.zeros_like(v), trainable=False,
                               name="grad_sum")
                   for v in model.trainable_variables]
      # Statistics of the current logical batch.
      self.stats = {k: tf.Variable(0.0, trainable=False, name=k)
                    for k in _SUM_STATS + ("norm_max",)}
      # Number of noise draws ever made (tested: one per logical batch).
      self.noise_draws = tf.Variable(0, dtype=tf.int64, trainable=False)
    # Traced without AutoGraph: nothing here branches or loops on a tensor,
    # and converting every layer of the model would double the trace time.
    trace = functools.partial(tf.function, autograph=False)
    self._accumulate_single = trace(self._accumulate_single_fn)
    self._accumulate_replicated = trace(self._accumulate_replicated_fn)
    self._finalize_fn = trace(self._finalize)
    self._finalize_given_fn = trace(self._finalize_given)

  @property
  def examples(self):
    return self.stats["examples"]

  # ------------------------------------------------------------ per shard --
  def _local(self, x, y, weights):
    """Gradient sum and statistics of one (shard of a) physical batch."""
    weights = tf.cast(weights, tf.float32)
    variables = self.model.trainable_variables
    if self.private:
      sums, norms, losses, logits = self._clipped_sum(
          self.model, self.loss_fn, x, y, weights, self.views,
          self.l2_norm_clip)
      # Statistics are float32 whatever the model's dtype.
      norms, losses = tf.cast(norms, tf.float32), tf.cast(losses, tf.float32)
      real = weights > 0
      real_norms = tf.boolean_mask(norms, real)
      clipped = tf.reduce_sum(tf.cast(real_norms > self.l2_norm_clip,
                                      tf.float32))
      norm_sum = tf.reduce_sum(real_norms)
      norm_max = tf.reduce_max(tf.concat([real_norms, [0.0]], 0))
    else:
      with tf.GradientTape() as tape:
        all_logits = self.model(x, training=True)
        losses = tf.reduce_mean(tf.reshape(
            self.loss_fn(y, all_logits), [-1, self.views]), axis=1)
        losses = tf.cast(losses, tf.float32)
        total = tf.reduce_sum(losses * weights)
      sums = tape.gradient(total, variables,
                           unconnected_gradients=tf.UnconnectedGradients.ZERO)
      logits = all_logits[::self.views]
      clipped = norm_sum = norm_max = tf.constant(0.0)
    correct = tf.constant(0.0)
    if y.shape.rank == 1:  # single-label: training accuracy on view 0.
      pred = tf.argmax(logits, axis=-1, output_type=tf.int32)
      hit = tf.cast(tf.equal(pred, tf.cast(y[::self.views], tf.int32)),
                    tf.float32)
      correct = tf.reduce_sum(hit * weights)
    stats = dict(examples=tf.reduce_sum(weights), clipped=clipped,
                 norm_sum=norm_sum, loss_sum=tf.reduce_sum(losses * weights),
                 correct=correct, norm_max=norm_max)
    return sums, stats

  def _add(self, sums, stats):
    for acc, g in zip(self.sums, sums):
      acc.assign_add(g)
    for k in _SUM_STATS:
      self.stats[k].assign_add(stats[k])
    self.stats["norm_max"].assign(tf.maximum(self.stats["norm_max"],
                                             stats["norm_max"]))

  def _accumulate_single_fn(self, x, y, weights):
    self._add(*self._local(x, y, weights))

  def _accumulate_replicated_fn(self, x, y, weights):
    def local(x, y, weights):
      sums, stats = self._local(x, y, weights)
      # ReduceOp has no MAX: put this replica's max (>= 0) in its own slot.
      slot = tf.distribute.get_replica_context().replica_id_in_sync_group
      stats["norm_max"] = tf.one_hot(slot, self.replicas) * stats["norm_max"]
      return sums, stats
    sums, stats = self.distribution.run(local, args=(x, y, weights))
    def total(t):
      return self.distribution.reduce(tf.distribute.ReduceOp.SUM, t, axis=None)
    reduced = {k: total(stats[k]) for k in _SUM_STATS}
    reduced["norm_max"] = tf.reduce_max(total(stats["norm_max"]))
    self._add([total(s) for s in sums], reduced)

  def _shard(self, x, y, weights):
    """Splits a physical batch into whole examples per replica.

    A batch that does not divide by the replica count is padded with
    weight-0 examples (which add nothing to any sum), so every replica gets
    the same number of whole examples, all their views together.
    """
    b = int(weights.shape[0])
    pad = -b % self.replicas
    if pad:
      rows_pad = pad * self.views
      x = tf.concat([x, tf.zeros([rows_pad, *x.shape[1:]], x.dtype)], 0)
      y = tf.concat([y, tf.repeat(y[:1], rows_pad, axis=0)], 0)
      weights = tf.concat([weights, tf.zeros([pad], weights.dtype)], 0)
      b += pad
    per = b // self.replicas
    rows = per * self.views

    def value(ctx, t, size):
      i = ctx.replica_id_in_sync_group
      return t[i * size:(i + 1) * size]
    distribute = self.distribution.experimental_distribute_values_from_function
    return (distribute(lambda c: value(c, x, rows)),
            distribute(lambda c: value(c, y, rows)),
            distribute(lambda c: value(c, weights, per)))

  def accumulate(self, x, y, weights):
    """Adds one physical batch. ``weights`` is 1 for real examples, 0 for pad.

    Args:
      x: [b * views, H, W, C] images, an example's views contiguous.
      y: [b * views] (or [b * views, L]) labels.
      weights: [b] floats.
    """
    if self.replicas == 1:
      self._accumulate_single(x, y, weights)
    else:
      self._accumulate_replicated(*self._shard(x, y, weights))

  # ------------------------------------------------------------ finalize --
  def _finalize(self, denominator, seed):
    grads = [tf.identity(s) for s in self.sums]
    if not self.private:
      return [g / tf.cast(denominator, g.dtype) for g in grads]
    return noise_lib.privatize_sum(grads, self.l2_norm_clip,
                                   self.noise_multiplier, denominator,
                                   self.noise_draws, seed=seed)

  def _finalize_given(self, denominator, noise):
    """Like ``_finalize`` with the noise drawn outside the graph."""
    return noise_lib.privatize_sum([tf.identity(s) for s in self.sums],
                                   self.l2_norm_clip, self.noise_multiplier,
                                   denominator, self.noise_draws,
                                   noise=noise)

  def _release(self, denominator, seed):
    if self.private and self.secure_noise:
      noise = noise_lib.secure_gaussian_noise(
          [tuple(s.shape) for s in self.sums],
          noise_lib.noise_stddev(self.l2_norm_clip, self.noise_multiplier))
      return self._finalize_given_fn(tf.constant(denominator, tf.float32),
                                     [tf.constant(z) for z in noise])
    return self._finalize_fn(tf.constant(denominator, tf.float32),
                             tf.constant(seed, tf.int64))

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
    s = {k: float(v.numpy()) for k, v in self.stats.items()}
    examples = max(s["examples"], 1.0)
    if not self.private:
      denominator = examples
    grads = self._release(denominator, seed)
    stats = {"examples": s["examples"], "loss": s["loss_sum"] / examples,
             "train_accuracy": s["correct"] / examples}
    if self.private:
      stats.update(clipped_fraction=s["clipped"] / examples,
                   grad_norm_mean=s["norm_sum"] / examples,
                   grad_norm_max=s["norm_max"])
    self.reset()
    return grads, stats

  # --------------------------------------------------------------- audits --
  def current_sum(self):
    """The accumulated (clipped) sum as numpy arrays, without releasing it.

    For the white-box step audit (``attacks/step_audit.py``), which measures
    the sensitivity of exactly this sum.
    """
    return [s.numpy() for s in self.sums]

  def noised_sum(self, seed):
    """The sum as the engine would release it (noised once).

    Not divided and not reset: the step audit draws many of these from one
    accumulation.
    """
    return [g.numpy() for g in self._release(1.0, seed)]

  def reset(self):
    for acc in self.sums:
      acc.assign(tf.zeros_like(acc))
    for v in self.stats.values():
      v.assign(0.0)
