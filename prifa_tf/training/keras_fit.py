"""``model.fit`` with the DP-Keras optimizers: the privacy callback.

  opt = dp_keras.DPSGDKerasSGDOptimizer(l2_norm_clip=1.0,
                                        noise_multiplier=1.1,
                                        gradient_accumulation_steps=4,
                                        learning_rate=0.1)
  model.compile(optimizer=opt, loss=<per-example loss, reduction NONE>)
  model.fit(ds.batch(b, drop_remainder=True), epochs=...,
            callbacks=[PrivacyCallback(num_examples=n, batch_size=4 * b,
                                       target_epsilon=8.0)])

``PrivacyCallback`` does what the optimizer cannot see from inside a step:

* **ε.** After every logical step it puts the accountant's ε into the logs
  and progress bar, under a key that states its basis, and writes it to
  TensorBoard (``log_dir``). Keras datasets shuffle, so the ε is the Poisson
  ε *assumed* for shuffled batches (``eps[assumed-poisson,shuffled]``;
  ``privacy/guarantee.py``), unless ``sampling="poisson"`` says the
  dataset really samples that way.
* **Budget guard.** With ``target_epsilon`` it stops before a logical step
  that would exceed it, and refuses to start a run already at it.
* **Logical batches.** An example must never appear twice in one logical
  batch: it refuses a fit whose batches per epoch are unknown or not a
  multiple of ``gradient_accumulation_steps``, and data whose passes (n // b
  physical batches each, for a repeated dataset) do not hold whole logical
  batches; it discards (never carries, never releases) a logical batch left
  incomplete. The logical batch the optimizer saw is checked against
  ``batch_size``, on which ε rests. What it cannot see is a pipeline that
  batches across passes (``repeat()`` before ``batch()``, or ``shuffle()``
  after ``repeat()``): batch first, then repeat.
* **One logical step per check.** ``steps_per_execution`` must divide
  ``gradient_accumulation_steps``, so that the budget guard sees every
  logical step (with more, one execution could take several steps past
  the target).
* **DP-SAT weights.** It restores the unperturbed weights for validation and
  at the end of ``fit``, and moves them back to the DP-SAT point when
  training goes on.
* **Poisson sampling.** ``poisson_dataset`` draws each logical batch as
  the accountant assumes; with ``sampling="poisson"`` the callback makes
  the optimizer divide by the expected B and accepts batches of any size.

The resumable ``Trainer`` (Poisson sampling, checkpoints) remains the
reference path; these pieces are the TF-Privacy drop-in.
"""

import os

import numpy as np
import tensorflow as tf

from prifa_tf.privacy import accounting
from prifa_tf.privacy import guarantee


def poisson_dataset(x, y, batch_size, gradient_accumulation_steps=1,
                    steps_per_epoch=None, seed=None):
  """Poisson-sampled logical batches for ``model.fit``, as DP-SGD assumes.

  Every logical step includes each of the n examples independently with
  probability q = B / n, so its size varies (Binomial(n, q)); its examples
  come in ``gradient_accumulation_steps`` physical batches of nearly equal
  size (some may be empty). Use it with ``PrivacyCallback(
  sampling="poisson", num_examples=n, batch_size=B)``, which makes the
  optimizer divide by B: the ε is then the accountant's, proven, not
  assumed.

  Args:
    x, y: arrays of the n training examples (first axis).
    batch_size: the expected logical batch B.
    gradient_accumulation_steps: k, physical batches per logical step.
    steps_per_epoch: logical steps per epoch (default n // B).
    seed: sampling seed. Default: OS entropy, never stored; a given seed
      makes the batches reproducible, and the ε then holds only against
      someone without it.

  Returns:
    A ``tf.data.Dataset`` of (x, y) physical batches with known
    cardinality k * steps_per_epoch; each epoch draws afresh.
  """
  x, y = np.asarray(x), np.asarray(y)
  n, k = len(x), int(gradient_accumulation_steps)
  if len(y) != n or n == 0:
    raise ValueError(f"x and y must hold the same n > 0 examples; got "
                     f"{len(x)} and {len(y)}.")
  if not 0 < batch_size <= n or k < 1:
    raise ValueError(f"batch_size must be in (0, n={n}] and "
                     f"gradient_accumulation_steps >= 1; got {batch_size}, "
                     f"{k}.")
  steps = int(steps_per_epoch or n // batch_size)
  rng = np.random.default_rng(
      seed if seed is not None else int.from_bytes(os.urandom(16), "little"))
  q = batch_size / n

  def batches():
    for _ in range(steps):
      chosen = np.flatnonzero(rng.random(n) < q)
      for part in np.array_split(chosen, k):
        yield x[part], y[part]

  spec = (tf.TensorSpec((None,) + x.shape[1:], tf.as_dtype(x.dtype)),
          tf.TensorSpec((None,) + y.shape[1:], tf.as_dtype(y.dtype)))
  return tf.data.Dataset.from_generator(
      batches, output_signature=spec).apply(
          tf.data.experimental.assert_cardinality(k * steps))


class PrivacyCallback(tf.keras.callbacks.Callback):
  """ε logging, budget guard, logical-batch checks and DP-SAT weights.

  Args:
    num_examples: training set size n (for q = B / n). Without it no ε is
      computed (the other duties remain).
    batch_size: the logical batch size B = gradient_accumulation_steps x
      physical batch; needed with ``target_epsilon``, else read from the
      first logical step.
    delta: δ of the ε.
    target_epsilon: stop before exceeding it.
    accountant: "rdp" or "pld".
    sampling: "shuffle" (what Keras datasets do; ε assumed) or "poisson"
      (the data comes from ``poisson_dataset``, or another pipeline that
      includes each example independently with probability B/n per logical
      step; needs num_examples and batch_size, and makes the optimizer
      divide by the expected B).
    log_dir: TensorBoard directory; ε goes to ``log_dir/privacy``.
  """

  def __init__(self, num_examples=None, batch_size=None, delta=1e-5,
               target_epsilon=None, accountant="rdp", sampling="shuffle",
               log_dir=None):
    super().__init__()
    self.key = guarantee.console_tag(sampling)
    self.tag = guarantee.summary_tag(sampling)
    if target_epsilon is not None and not (num_examples and batch_size):
      raise ValueError("target_epsilon needs num_examples (n) and "
                       "batch_size (the logical batch B), for q = B / n.")
    if sampling == "poisson" and not (num_examples and batch_size):
      raise ValueError("sampling='poisson' needs num_examples (n) and "
                       "batch_size (the expected logical batch B): each "
                       "release is divided by B, not by the realised count.")
    self.n = int(num_examples) if num_examples else None
    self.batch_size = int(batch_size) if batch_size else None
    self.delta = float(delta)
    self.target = None if target_epsilon is None else float(target_epsilon)
    self.accountant = accountant
    self.sampling = sampling
    self.log_dir = log_dir
    self.epsilon, self.stop_reason = None, None
    self._writer = None
    self._training = False

  # ------------------------------------------------------------ helpers --
  @property
  def optimizer(self):
    opt = self.model.optimizer
    if not hasattr(opt, "gradient_accumulation_steps"):
      raise TypeError(
          "PrivacyCallback needs one of prifa_tf.optim.dp_keras's optimizers "
          f"(got {type(opt).__name__}).")
    return opt

  def _eps(self, steps):
    sigma = float(self.optimizer._noise_multiplier)  # pylint: disable=protected-access
    if not self.n or sigma <= 0:
      return float("inf") if steps else 0.0
    return accounting.epsilon(self.n, self.batch_size, sigma, int(steps),
                              self.delta, self.accountant)

  def _check_pending(self, where):
    opt = self.optimizer
    if opt.has_pending():
      opt.discard_pending()
      raise RuntimeError(
          f"A logical batch was left incomplete at the end of the {where} "
          "(its clipped sum was discarded, unreleased): the dataset yielded "
          "a number of batches that is not a multiple of "
          f"gradient_accumulation_steps={opt.gradient_accumulation_steps}.")

  def _check_passes(self, batch_size):
    """Refuses data whose passes do not hold whole logical batches.

    A dataset batched with drop_remainder and then repeated (or cut by
    steps_per_epoch) yields n // b physical batches per pass over the data.
    Unless k divides that, some logical batch takes examples from two
    passes and may hold an example twice (sensitivity 2C).
    """
    k = self.optimizer.gradient_accumulation_steps
    if batch_size % k:
      raise ValueError(f"batch_size={batch_size} is not a multiple of "
                       f"gradient_accumulation_steps={k}.")
    physical = batch_size // k
    per_pass = self.n // physical
    if per_pass % k:
      raise ValueError(
          f"A pass over the data holds {per_pass} physical batches of "
          f"{physical} (n={self.n}), not a multiple of "
          f"gradient_accumulation_steps={k}: with a repeated dataset a "
          "logical batch would take examples from two passes and could hold "
          "one twice. Build the pipeline as shuffle(n).batch(b, "
          "drop_remainder=True).repeat() with k dividing n // b (or pass "
          "one whole pass per epoch).")

  # ---------------------------------------------------------- callbacks --
  def on_train_begin(self, logs=None):
    opt = self.optimizer
    k = opt.gradient_accumulation_steps
    steps = self.params.get("steps")
    if steps is None:
      raise ValueError(
          "The number of batches per epoch is unknown (the dataset's "
          "cardinality is unknown or infinite): give steps_per_epoch, a "
          f"multiple of gradient_accumulation_steps={k}.")
    if steps % k:
      raise ValueError(
          f"{steps} physical batches per epoch is not a multiple of "
          f"gradient_accumulation_steps={k}: a logical batch would span two "
          "epochs and could hold an example twice. Drop or add batches so "
          "that it divides.")
    execution = int(self.model._steps_per_execution.numpy())  # pylint: disable=protected-access
    if k % execution:
      raise ValueError(
          f"steps_per_execution={execution} must divide "
          f"gradient_accumulation_steps={k}: the callback runs once per "
          "execution, and must see every logical step to check its batch "
          "and stop at the privacy budget.")
    poisson = self.sampling == "poisson"
    if self.n and self.batch_size and not poisson:
      self._check_passes(self.batch_size)
    opt.set_expected_batch_size(self.batch_size if poisson else None)
    if opt.has_pending():
      raise ValueError("A partial logical batch is pending from an earlier "
                       "call; it cannot be carried into this one.")
    if self.target is not None:
      done = int(opt.iterations.numpy())
      if self._eps(done + 1) > self.target:
        raise ValueError(
            f"The privacy budget target_epsilon={self.target} allows no "
            f"further logical step ({self.key}={self._eps(done):.3f} after "
            f"{done} steps).")
    if self.log_dir and self._writer is None:
      self._writer = tf.summary.create_file_writer(
          os.path.join(self.log_dir, "privacy"))
    opt.set_managed(True)
    opt.apply_perturbation()
    self._training = True

  def on_train_batch_end(self, batch, logs=None):
    opt = self.optimizer
    if opt.has_pending():
      return  # Mid logical batch: nothing released yet.
    steps = int(opt.iterations.numpy())
    seen = int(round(float(opt.counters["last_batch"].numpy())))
    if self.batch_size is None:
      if self.n:
        self._check_passes(seen)
      self.batch_size = seen
    elif seen != self.batch_size and self.sampling != "poisson":
      raise ValueError(
          f"The logical batch held {seen} examples, not batch_size="
          f"{self.batch_size}: the ε would be wrong. Batch the dataset with "
          "drop_remainder=True.")
    if not self.n:
      return
    self.epsilon = self._eps(steps)
    if logs is not None:
      logs[self.key] = self.epsilon
    if self._writer is not None:
      with self._writer.as_default():
        tf.summary.scalar(self.tag, self.epsilon, step=steps)
    if self.target is not None and self._eps(steps + 1) > self.target:
      self.model.stop_training = True
      self.stop_reason = (
          f"privacy budget: one more logical step would exceed "
          f"target_epsilon={self.target} ({self.key}={self.epsilon:.3f} "
          f"after {steps} steps)")

  def on_epoch_end(self, epoch, logs=None):
    self._check_pending(f"epoch {epoch + 1}")
    if logs is not None and self.epsilon is not None:
      logs[self.key] = self.epsilon

  def on_test_begin(self, logs=None):
    if self._training:
      self.optimizer.remove_perturbation()

  def on_test_end(self, logs=None):
    if self._training:
      self.optimizer.apply_perturbation()

  def on_train_end(self, logs=None):
    self._training = False
    opt = self.optimizer
    opt.remove_perturbation()
    opt.set_managed(False)
    if self._writer is not None:
      self._writer.flush()
    self._check_pending("fit call")
