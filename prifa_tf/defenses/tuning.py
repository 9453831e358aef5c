"""Training and regularised tuning of one non-private model (PAST study).

``train_phase`` runs SGD (momentum 0.9, cosine-decayed learning rate,
optional decoupled weight decay) on one training set for some epochs,
with the loss plus an optional regulariser:

- ``"none"``: the classification loss (the standard phase, λ = 0);
- ``"l1"`` / ``"l2"``: λ‖θ‖₁ / λ‖θ‖₂²;
- ``"past"``: λ Σ γ_i^α |θ_i|, with γ recomputed every step from a batch
  of training members and a batch of the inference (non-member) set.

A phase is resumable: it checkpoints after every epoch and appends one
record per epoch (loss gap on the inference sets, Gini sparsity, test
accuracy) to its history.
"""

import dataclasses
import os
from typing import Callable, List

import numpy as np
import tensorflow as tf

from prifa_tf import errors
from prifa_tf.data import preprocess
from prifa_tf.data.image_set import ImageSet
from prifa_tf.defenses import past
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import evaluation

METHODS = ("none", "l1", "l2", "past")
HISTORY_FILE = "history.json"
WEIGHTS_FILE = "weights.h5"


@dataclasses.dataclass
class Phase:
  """One training or tuning phase.

  Attributes:
    method: regulariser, one of ``METHODS``.
    lam: λ, the regularisation strength.
    alpha: PAST's focusing exponent α (α = 0: L1).
    epochs: epochs of this phase.
    batch_size: examples per step (also the size of PAST's member and
      non-member batches).
    learning_rate: initial rate, cosine-decayed to 0 over the phase.
    weight_decay: decoupled weight decay of SGD.
    seed: batch order.
  """
  method: str = "none"
  lam: float = 0.0
  alpha: float = 0.0
  epochs: int = 1
  batch_size: int = 128
  learning_rate: float = 0.01
  weight_decay: float = 0.0
  seed: int = 0

  def validate(self) -> "Phase":
    if self.method not in METHODS:
      raise ValueError(f"method must be one of {METHODS}; got "
                       f"{self.method!r}.")
    if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
      raise ValueError("epochs, batch_size and learning_rate must be > 0.")
    if self.lam < 0 or self.alpha < 0 or self.weight_decay < 0:
      raise ValueError("lam, alpha and weight_decay must be >= 0.")
    if self.method != "none" and self.lam == 0:
      raise ValueError(f"method {self.method!r} needs lam > 0.")
    return self


def _standardize(images, dataset):
  return preprocess.standardize(tf.constant(images), dataset)


def train_phase(model: tf.keras.Model, phase: Phase, workdir: str,
                train: ImageSet, inference: ImageSet, test: ImageSet,
                dataset: str = "cifar10",
                log: Callable[[str], None] = print) -> List[dict]:
  """Runs (or resumes) one phase in ``workdir``; returns its history.

  Args:
    model: the model, holding the weights the phase starts from.
    phase: what to train.
    workdir: checkpoints, ``history.json`` and the final ``weights.h5``.
    train: the members.
    inference: the defender's non-members (PAST's loss gap).
    test: held-out examples for test accuracy.
    dataset: channel statistics.
    log: progress printer.
  """
  phase.validate()
  os.makedirs(workdir, exist_ok=True)
  history_path = os.path.join(workdir, HISTORY_FILE)
  weights_path = os.path.join(workdir, WEIGHTS_FILE)
  if os.path.exists(weights_path) and os.path.exists(history_path):
    done = results_lib.read_json(history_path)
    if len(done) >= phase.epochs:  # Finished: the final weights, as saved.
      model.load_weights(weights_path)
      return done
  steps_per_epoch = max(1, len(train) // phase.batch_size)
  schedule = tf.keras.optimizers.schedules.CosineDecay(
      phase.learning_rate, phase.epochs * steps_per_epoch)
  optimizer = tf.keras.optimizers.SGD(
      schedule, momentum=0.9,
      weight_decay=phase.weight_decay or None)
  variables = model.trainable_variables
  optimizer.build(variables)
  epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
  ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, epoch=epoch)
  manager = tf.train.CheckpointManager(ckpt, os.path.join(workdir, "ckpt"),
                                       max_to_keep=1)
  history = []
  if manager.latest_checkpoint:
    ckpt.restore(manager.latest_checkpoint).expect_partial()
    if os.path.exists(history_path):
      history = results_lib.read_json(history_path)[:int(epoch.numpy())]
    log(f"Resuming {workdir} at epoch {int(epoch.numpy())}.")
  kernels = past.regularised_variables(model)
  lam, alpha = phase.lam, phase.alpha

  def regulariser(gammas):
    if phase.method == "l1":
      return past.l1(kernels)
    if phase.method == "l2":
      return past.l2(kernels)
    if phase.method == "past":
      return past.past_regulariser(kernels, gammas, alpha)
    return tf.constant(0.0)

  @tf.function
  def step(x, y, xm, ym, xn, yn):
    gammas = [tf.ones_like(v) for v in kernels]
    if phase.method == "past":
      _, sens = past.privacy_sensitivity(model, kernels, xm, ym, xn, yn)
      gammas = past.adaptive_weights(sens)
    with tf.GradientTape() as tape:
      logits = model(x, training=True)
      loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
          y, logits, from_logits=True))
      total = loss + lam * regulariser(gammas)
    grads = tape.gradient(total, variables)
    optimizer.apply_gradients(zip(grads, variables))
    return loss, total

  x_train = _standardize(train.images, dataset)
  x_inf = _standardize(inference.images, dataset)
  y_train = tf.constant(train.labels.astype(np.int32))
  y_inf = tf.constant(inference.labels.astype(np.int32))
  b = phase.batch_size
  for e in range(int(epoch.numpy()), phase.epochs):
    rng = np.random.default_rng([phase.seed, e])
    order = rng.permutation(len(train))
    losses = []
    for s in range(steps_per_epoch):
      rows = order[s * b:(s + 1) * b]
      m_rows = rng.choice(len(train), min(b, len(train)), replace=False)
      n_rows = rng.choice(len(inference), min(b, len(inference)),
                          replace=False)
      loss, _ = step(tf.gather(x_train, rows), tf.gather(y_train, rows),
                     tf.gather(x_train, m_rows), tf.gather(y_train, m_rows),
                     tf.gather(x_inf, n_rows), tf.gather(y_inf, n_rows))
      losses.append(float(loss))
    if not np.isfinite(losses).all():
      raise errors.TrainingDivergedError(
          f"{workdir}: non-finite loss in epoch {e + 1} ({phase.method}, "
          f"λ={lam}, α={alpha}); lower lam or learning_rate.")
    record = {"epoch": e + 1, "train_loss": float(np.mean(losses)),
              **epoch_metrics(model, train, inference, test, dataset)}
    history.append(record)
    epoch.assign(e + 1)
    manager.save()
    results_lib.write_json_atomic(history_path, history)
    log(f"{phase.method} epoch {e + 1}/{phase.epochs}: loss "
        f"{record['train_loss']:.4f}, test acc {record['test_accuracy']:.4f}"
        f", loss gap {record['loss_gap']:.4f}, Gini {record['gini']:.4f}")
  tmp = weights_path[:-3] + ".tmp.h5"
  model.save_weights(tmp)
  os.replace(tmp, weights_path)
  return history


def epoch_metrics(model, train, inference, test, dataset,
                  limit: int = 2000) -> dict:
  """Loss gap (members vs inference set), Gini index, test accuracy."""
  def ce(s):
    s = s.take(np.arange(min(limit, len(s))))
    z = evaluation.predict_logits(model, s.images, dataset)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(s)), s.labels].mean())
  test_logits = evaluation.predict_logits(model, test.images, dataset)
  return {"loss_gap": abs(ce(train) - ce(inference)),
          "gini": past.gini_index(past.regularised_variables(model)),
          "test_accuracy": evaluation.accuracy(test_logits, test.labels)}

