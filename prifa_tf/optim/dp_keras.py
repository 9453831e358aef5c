"""DP-SGD and DP-SAT as TF-Privacy's vectorized DP-Keras optimizers.

A TF-Privacy user swaps the optimizer and keeps everything else:

  opt = DPSATKerasSGDOptimizer(l2_norm_clip=1.0, noise_multiplier=1.1,
                               num_microbatches=None, rho=0.05,
                               gradient_accumulation_steps=4,
                               learning_rate=0.1, momentum=0.9)
  model.compile(optimizer=opt, loss=tf.keras.losses.SparseCategorical
                Crossentropy(from_logits=True,
                             reduction=tf.losses.Reduction.NONE))
  model.fit(ds, callbacks=[keras_fit.PrivacyCallback(...)])

Every class here subclasses TF-Privacy's ``VectorizedDPKeras*Optimizer``
(``isinstance`` holds) and keeps its constructor (``l2_norm_clip``,
``noise_multiplier``, ``num_microbatches``, then the base optimizer's
arguments). Per-example gradients are taken from the loss vector exactly as
TF-Privacy takes them (``tape.jacobian`` of the microbatch losses), then the
toolkit's own privatisation runs instead of TF-Privacy's:

* **Noise once per logical batch.** Each ``minimize`` adds the *clipped sum*
  of its microbatches to an accumulator; every
  ``gradient_accumulation_steps``-th call noises the sum once with
  N(0, (σC)²), divides by the number of microbatches accumulated (the
  logical batch B) and applies the base optimizer. TF-Privacy's
  accumulation noises every call (√k too much noise).
* **Replica-exact.** Under a ``tf.distribute`` strategy each replica's
  clipped sum is all-reduced (SUM) and the noise is drawn once, in
  cross-replica context; the update is the single-device one. TF-Privacy's
  optimizers divide by the replica's batch and then let Keras sum the
  replicas: R times the update, R^1.5 times the noise.
* **Augmentation multiplicity.** ``augmult=K``: the batch holds K
  contiguous views per example; an example's loss is the mean over its
  views, clipped once (TF-Privacy reaches the same with
  ``num_microbatches = rows / K``, which changes with the batch).
* **DP-SAT** (``rho > 0``): after each logical step the weights are moved
  to w + ρ g̃/‖g̃‖, g̃ the step's privatised gradient, so the next logical
  batch's gradients are taken there; before the next update the weights are
  restored exactly (from a copy). Between steps the model's variables hold
  the *perturbed* weights: ``fit`` needs ``keras_fit.PrivacyCallback``,
  which restores them for validation and at the end of ``fit`` (a run
  without it stops with an error). In a custom loop call
  ``remove_perturbation()`` before evaluating and set
  ``perturbation_managed = True``.
* **Noise seed.** Stateless Philox keyed by (noise seed, logical step), as
  the Trainer's; the seed is drawn from OS entropy unless given, kept in
  memory only: never in ``get_config``, a graph, a SavedModel or a
  checkpoint (it is read inside the step from an untracked variable).
* **One example per clipped unit.** ``num_microbatches`` may only be None
  or the physical batch size: TF-Privacy's larger microbatches, clipped as
  a mean, have sensitivity up to 2C and would make the callback count
  microbatches as examples.

Accounting (ε) is not the optimizer's job: ``keras_fit.PrivacyCallback``
logs it and stops at a target.
"""

import functools
import os
import threading

import tensorflow as tf
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized

from prifa_tf.privacy import clipping
from prifa_tf.privacy import noise as noise_lib

_EPS = 1e-12


class _SecretSeed:
  """Holds the noise seed in a variable that nothing saves or embeds.

  A Python int or an eager tensor used inside a traced step becomes a
  ``Const`` node of the graph, which Keras' TensorBoard callback writes
  (``write_graph=True``) and a SavedModel may keep. A variable is captured
  by handle, so the graph holds no value; and since this holder is a plain
  object, not a ``Trackable``, the variable is in no checkpoint or
  SavedModel (``tests/optim/dp_keras_privacy_test.py`` searches every file
  a fit writes for the seed).
  """

  def __init__(self):
    self._variable = None

  def create(self, seed: int):
    if self._variable is None:
      self._variable = tf.Variable(seed, dtype=tf.int64, trainable=False,
                                   name="dp_noise_seed")

  def read(self):
    return tf.identity(self._variable)


def make_dp_keras_class(tfp_class, sharpness: bool):
  """A DP-SGD (or DP-SAT) subclass of a TF-Privacy vectorized optimizer."""

  class DPKerasOptimizer(tfp_class):
    """See the module docstring."""

    def __init__(self, l2_norm_clip, noise_multiplier, num_microbatches=None,
                 *args, gradient_accumulation_steps=1, augmult=1,
                 noise_seed=None, rho=0.0, unconnected_gradients_to_zero=True,
                 **kwargs):
      # Unconnected variables always get zero gradients here (their
      # per-example gradient is zero, and None would drop them from the
      # noised update); the argument is accepted for TF-Privacy's signature.
      del unconnected_gradients_to_zero
      if sharpness and not rho > 0:
        raise ValueError(f"{type(self).__name__} needs rho > 0 (the DP-SAT "
                         "radius); rho=0 is DP-SGD, the DPSGD class.")
      if not sharpness and rho:
        raise ValueError("rho is DP-SAT's radius; use the DPSAT class.")
      if int(gradient_accumulation_steps) < 1 or int(augmult) < 1:
        raise ValueError("gradient_accumulation_steps and augmult must be "
                         ">= 1.")
      if num_microbatches is not None and int(augmult) > 1:
        raise ValueError("Give augmult (views per example) or "
                         "num_microbatches, not both.")
      if float(l2_norm_clip) <= 0 or float(noise_multiplier) < 0:
        raise ValueError("l2_norm_clip must be > 0 and noise_multiplier "
                         ">= 0.")
      super().__init__(l2_norm_clip, noise_multiplier, num_microbatches,
                       True, *args, **kwargs)
      self.gradient_accumulation_steps = int(gradient_accumulation_steps)
      self.augmult = int(augmult)
      self.rho = float(rho)
      self.noise_seed = (int.from_bytes(os.urandom(8), "little") >> 2
                         if noise_seed is None else int(noise_seed))
      self.perturbation_managed = False
      self.expected_batch_size = 0.0  # 0: divide by the realised count.
      self._secret = _SecretSeed()  # Untracked: in no graph or checkpoint.
      self._pending = threading.local()  # Per replica thread.
      self._counters = None
      self._dp_var_list = []

    # ------------------------------------------------------------ state --
    def _counter(self, name, dtype, initializer="zeros"):
      return self.add_weight(
          name, shape=[], dtype=dtype, trainable=False,
          initializer=initializer,
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)

    def _create_all_weights(self, var_list):
      super()._create_all_weights(var_list)
      self._dp_var_list = list(var_list)
      if self._counters is None:
        with self._distribution_strategy_scope():
          self._secret.create(self.noise_seed)
          self._counters = dict(
              micro_steps=self._counter("dp_micro_steps", tf.int64),
              examples=self._counter("dp_pending_examples", tf.float32),
              noise_draws=self._counter("dp_noise_draws", tf.int64),
              last_batch=self._counter("dp_last_logical_batch", tf.float32),
              perturbed=self._counter("dp_sat_perturbed", tf.bool),
              expected=self._counter(
                  "dp_expected_batch", tf.float32,
                  tf.keras.initializers.Constant(self.expected_batch_size)),
              # Set from the Python flag at creation: an assign here would
              # be a cross-replica sync in one replica's thread only.
              managed=self._counter(
                  "dp_sat_managed", tf.bool,
                  "ones" if self.perturbation_managed else "zeros"))

    def _create_slots(self, var_list):
      super()._create_slots(var_list)
      for v in var_list:
        self.add_slot(v, "dp_sum")
        if sharpness:
          self.add_slot(v, "dp_sat_backup")
          self.add_slot(v, "dp_sat_step")

    @property
    def counters(self):
      """Scalars: micro_steps, examples pending, noise_draws, last_batch."""
      if self._counters is None:
        raise RuntimeError("The optimizer has not taken a step yet.")
      return self._counters

    @property
    def logical_steps(self):
      """Noisy updates applied (the base optimizer's ``iterations``)."""
      return self.iterations

    def has_pending(self) -> bool:
      """Whether a logical batch is partly accumulated and unreleased.

      That is: examples pending, or a count of physical batches (empty ones
      too) that is not a whole logical batch.
      """
      if self._counters is None:
        return False
      micro = int(self._counters["micro_steps"].numpy())
      return (micro % self.gradient_accumulation_steps != 0
              or self.pending_examples() > 0)

    def set_expected_batch_size(self, batch_size):
      """Sets the divisor of every release.

      This B (Poisson sampling), or, with None, the examples the logical
      batch held (fixed-size batches).
      """
      self.expected_batch_size = float(batch_size or 0.0)
      if self._counters is not None:
        self._counters["expected"].assign(self.expected_batch_size)

    def pending_examples(self) -> float:
      """Microbatches accumulated but not yet released (0 at a boundary)."""
      if self._counters is None:
        return 0.0
      return float(self._counters["examples"].numpy())

    def discard_pending(self):
      """Drops a partial logical batch's clipped sum, unreleased."""
      if self._counters is None:
        return
      for v in self._dp_vars():
        self.get_slot(v, "dp_sum").assign(tf.zeros_like(v))
      self._counters["examples"].assign(0.0)
      self._counters["micro_steps"].assign(0)

    def _dp_vars(self):
      return list(self._dp_var_list)

    # ------------------------------------------------------ gradients --
    def _compute_gradients(self, loss, var_list, grad_loss=None, tape=None):
      """Clipped per-microbatch gradient *sums* (noise comes at apply)."""
      self._was_dp_gradients_called = True
      if not callable(loss) and tape is None:
        raise ValueError("`tape` is required when a `Tensor` loss is passed.")
      tape = tape if tape is not None else tf.GradientTape()
      with tape:
        if callable(loss):
          if not callable(var_list):
            tape.watch(var_list)
          loss = loss()
        if callable(var_list):
          var_list = var_list()
        loss = tf.reshape(loss, [-1])
        rows = tf.shape(loss)[0]
        units = rows // self.augmult
        whole = ("The loss vector must hold one entry per row and split into "
                 f"whole examples of augmult={self.augmult} contiguous "
                 "views; compile with a per-example loss (reduction NONE).")
        if loss.shape[0] is not None and loss.shape[0] % self.augmult:
          raise ValueError(f"{whole} Got {loss.shape[0]} rows.")
        checks = [tf.debugging.assert_equal(rows % self.augmult, 0,
                                            message=whole)]
        if self._num_microbatches is not None:
          # A microbatch of m > 1 examples, clipped as a mean, has add/remove
          # sensitivity up to 2C, which the accountant does not know of.
          checks.append(tf.debugging.assert_equal(
              rows, int(self._num_microbatches), message=(
                  f"num_microbatches={self._num_microbatches} must equal the "
                  "physical batch size (one example per microbatch): larger "
                  "microbatches change the sensitivity and the count of "
                  "examples the privacy accounting rests on. Leave it None.")))
        with tf.control_dependencies(checks):
          loss = tf.identity(loss)
        unit_losses = tf.reduce_mean(
            tf.reshape(loss, [units, self.augmult]), axis=1)
      var_list = tf.nest.flatten(var_list)
      with tf.name_scope(self._name + "/gradients"):
        jacobian = tape.jacobian(
            unit_losses, var_list,
            unconnected_gradients=tf.UnconnectedGradients.ZERO)
        # Shaped explicitly: an empty batch (a Poisson draw can be) gets a
        # mis-shaped empty jacobian from pfor.
        jacobian = [tf.reshape(j, tf.concat([[units], tf.shape(v)], 0))
                    for j, v in zip(jacobian, var_list)]
        sums, _ = clipping.clipped_weighted_sum(jacobian, self._l2_norm_clip)
      self._pending.units = tf.cast(units, tf.float32)
      return list(zip(sums, var_list))

    # ---------------------------------------------------------- apply --
    def apply_gradients(self, grads_and_vars, name=None,
                        experimental_aggregate_gradients=True):
      """Accumulates the clipped sums; every k-th call releases once.

      Called by ``minimize`` in replica context.
      """
      del experimental_aggregate_gradients  # Always all-reduced (SUM).
      units = getattr(self._pending, "units", None)
      if units is None:
        raise RuntimeError(
            "apply_gradients got gradients that did not come from this "
            "optimizer's per-example clipping: call minimize(loss, vars, "
            "tape=tape) with a per-example loss (model.fit does).")
      self._pending.units = None
      if sharpness and not self.perturbation_managed:
        raise ValueError(
            "DP-SAT keeps the model at perturbed weights between steps: "
            "pass callbacks=[keras_fit.PrivacyCallback(...)] to fit (it "
            "restores them for validation and at the end), or in a custom "
            "loop call remove_perturbation() before evaluating and set "
            "perturbation_managed = True.")
      grads_and_vars = list(grads_and_vars)
      var_list = [v for _, v in grads_and_vars]
      with tf.name_scope(self._name):
        with tf.init_scope():
          self._create_all_weights(var_list)
        if tf.distribute.in_cross_replica_context():
          raise RuntimeError("apply_gradients must be called in replica "
                             "context (inside strategy.run or fit).")
        ctx = tf.distribute.get_replica_context()
        grads = [g for g, _ in grads_and_vars]
        return ctx.merge_call(
            functools.partial(self._merge, var_list=var_list, name=name),
            args=(grads, units))

    def _merge(self, distribution, grads, units, var_list, name):
      """Sums the replicas' clipped sums into the accumulators.

      Cross-replica, with the strategy's cross-device SUM (as Keras
      aggregates gradients); releases at a logical-batch boundary.
      """
      c = self._counters
      reduced = distribution.extended.batch_reduce_to(
          tf.distribute.ReduceOp.SUM,
          list(zip(grads, var_list)) + [(units, c["examples"])])
      grads, units = reduced[:-1], reduced[-1]
      update = distribution.extended.update
      for g, v in zip(grads, var_list):
        update(self.get_slot(v, "dp_sum"), lambda a, x: a.assign_add(x),
               args=(g,), group=False)
      update(c["examples"], lambda a, x: a.assign_add(x), args=(units,),
             group=False)
      c["micro_steps"].assign_add(1)
      boundary = tf.equal(c["micro_steps"] % self.gradient_accumulation_steps,
                          0)
      return tf.cond(boundary,
                     lambda: self._release(distribution, var_list, name),
                     lambda: tf.constant(False))

    def _release(self, distribution, var_list, name):
      c = self._counters
      sums = [tf.identity(self.get_slot(v, "dp_sum")) for v in var_list]
      seed = tf.stack([self._secret.read(),
                       tf.cast(self.iterations, tf.int64)])
      batch = tf.identity(c["examples"])
      expected = tf.identity(c["expected"])
      # Poisson sampling divides by the expected B (the realised count
      # would depend on the data); fixed-size batches by what they held.
      denominator = tf.where(expected > 0, expected, tf.maximum(batch, 1.0))
      grads = noise_lib.privatize_sum(
          sums, self._l2_norm_clip, self._noise_multiplier, denominator,
          c["noise_draws"], seed=seed)
      if sharpness:
        tf.debugging.Assert(c["managed"], [
            "DP-SAT weights not managed: fit needs keras_fit.PrivacyCallback "
            "(or set perturbation_managed and call remove_perturbation)."])
        perturbed = tf.identity(c["perturbed"])
        for v in var_list:
          v.assign(tf.where(perturbed, self.get_slot(v, "dp_sat_backup"), v))
      with tf.control_dependencies(grads):
        self._distributed_apply(distribution, list(zip(grads, var_list)),
                                None, name)
      c["last_batch"].assign(batch)
      c["examples"].assign(0.0)
      for v in var_list:
        self.get_slot(v, "dp_sum").assign(tf.zeros_like(v))
      if sharpness:
        norm = tf.maximum(tf.linalg.global_norm(grads), _EPS)
        for v, g in zip(var_list, grads):
          self.get_slot(v, "dp_sat_step").assign(self.rho * g / norm)
        self._perturb(var_list)
      return tf.constant(True)

    # --------------------------------------------------------- DP-SAT --
    def _perturb(self, var_list):
      for v in var_list:
        self.get_slot(v, "dp_sat_backup").assign(v)
        v.assign_add(self.get_slot(v, "dp_sat_step"))
      self._counters["perturbed"].assign(True)

    def remove_perturbation(self):
      """Restores the unperturbed weights (exact copy); eager."""
      if not sharpness or self._counters is None:
        return
      if bool(self._counters["perturbed"].numpy()):
        for v in self._dp_vars():
          v.assign(self.get_slot(v, "dp_sat_backup"))
        self._counters["perturbed"].assign(False)

    def apply_perturbation(self):
      """Moves the weights back to the DP-SAT point after an evaluation."""
      if not sharpness or self._counters is None:
        return
      if (self.iterations.numpy() > 0 and
          not bool(self._counters["perturbed"].numpy())):
        self._perturb(self._dp_vars())

    def set_managed(self, managed: bool):
      self.perturbation_managed = bool(managed)
      if self._counters is not None:
        self._counters["managed"].assign(bool(managed))

    # ------------------------------------------------------------ I/O --
    def get_config(self):
      config = super().get_config()
      config.update(l2_norm_clip=self._l2_norm_clip,
                    noise_multiplier=self._noise_multiplier,
                    num_microbatches=self._num_microbatches,
                    gradient_accumulation_steps=(
                        self.gradient_accumulation_steps),
                    augmult=self.augmult)
      if sharpness:
        config["rho"] = self.rho
      return config  # The noise seed is a secret: never in the config.

  return DPKerasOptimizer


def _named(tfp_class, sharpness, name, base):
  cls = make_dp_keras_class(tfp_class, sharpness)
  cls.__name__ = cls.__qualname__ = name
  cls.__doc__ = (f"{'DP-SAT' if sharpness else 'DP-SGD'} with "
                 f"tf.keras.optimizers.legacy.{base}'s update; a subclass of "
                 f"TF-Privacy's {tfp_class.__name__} (see module docstring).")
  return cls


_V = dp_optimizer_keras_vectorized
DPSGDKerasSGDOptimizer = _named(_V.VectorizedDPKerasSGDOptimizer, False,
                                "DPSGDKerasSGDOptimizer", "SGD")
DPSGDKerasAdamOptimizer = _named(_V.VectorizedDPKerasAdamOptimizer, False,
                                 "DPSGDKerasAdamOptimizer", "Adam")
DPSATKerasSGDOptimizer = _named(_V.VectorizedDPKerasSGDOptimizer, True,
                                "DPSATKerasSGDOptimizer", "SGD")
DPSATKerasAdamOptimizer = _named(_V.VectorizedDPKerasAdamOptimizer, True,
                                 "DPSATKerasAdamOptimizer", "Adam")
