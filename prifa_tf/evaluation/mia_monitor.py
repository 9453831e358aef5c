"""Membership inference during training (the paper's Figure 2).

``MIAMonitor`` runs a chosen set of TF-Privacy attacks every ``every`` steps
(or epochs) and records, over time: train/test accuracy and loss, each
attack's AUC, and the membership probability (Song & Mittal) of chosen
training ids. It logs to TensorBoard, keeps ``mia_history.json`` in the
workdir and can plot the curves with the early-stopping point (best test
accuracy) and the overfitting point (lowest test loss) marked.

Use it as the Trainer's ``step_callback`` or, through ``KerasMIACallback``,
with ``model.fit``.
"""

import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf

from prifa_tf import attacks as attacks_lib
from prifa_tf.data import subsets
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import evaluation

HISTORY_FILE = "mia_history.json"


def _loss(logits, labels):
  return float(np.mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels.astype(np.int64), logits).numpy()))


def draw_history(ax, history, parts=("accuracy", "auc", "membership")):
  """Draws an MIA history on ``ax``.

  Accuracies, attack AUCs, tracked ids' membership probabilities, and the
  early-stopping and overfitting steps.

  Every series has markers (a short history may have one point), and the
  two step markers are told apart by style and legend when they coincide.
  Returns (early-stopping step, overfitting step) for the caller's title.
  """
  steps = [h["step"] for h in history]
  style = dict(marker="o", markersize=3)
  if "accuracy" in parts:
    ax.plot(steps, [h["train_accuracy"] for h in history],
            label="train accuracy", **style)
    ax.plot(steps, [h["test_accuracy"] for h in history],
            label="test accuracy", **style)
  if "auc" in parts and history:
    for name in history[-1]["auc"]:
      ax.plot(steps, [h["auc"][name] for h in history],
              label=f"MIA AUC ({name} attack)", **style)
  if "membership" in parts and history:
    for i in history[-1]["membership_probability"]:
      ax.plot(steps, [h["membership_probability"][i] for h in history],
              ls="--", label=f"membership probability of id {i}", **style)
  es, of = markers(history) if history else (None, None)
  if es is not None:
    ax.axvline(es, color="g", ls="--", lw=2.2, alpha=0.6,
               label="early stopping (best test acc)")
    ax.axvline(of, color="r", ls=":", lw=1.4,
               label="overfitting (lowest test loss)")
  ax.set_xlabel("training step")
  ylabel = {("accuracy",): "accuracy",
            ("auc", "membership"): "AUC / membership probability"}.get(
                tuple(parts), "accuracy / AUC / probability")
  ax.set_ylabel(ylabel)
  return es, of


def markers(history):
  """(early-stopping step, overfitting step) of a history.

  Early stopping: the evaluation with the best test accuracy. Overfitting:
  the evaluation with the lowest test loss (after it, test loss rises).
  """
  if not history:
    return None, None
  steps = [h["step"] for h in history]
  es = steps[int(np.argmax([h["test_accuracy"] for h in history]))]
  of = steps[int(np.argmin([h["test_loss"] for h in history]))]
  return es, of


class MIAMonitor:
  """Tracks membership inference over training.

  Args:
    members: training examples to attack (an ImageSet, e.g. a subset).
    nonmembers: held-out examples (ImageSet).
    dataset: channel statistics name ("cifar10", ...).
    every: run every this many steps (or epochs for the Keras callback).
    attacks: attack names (cheap ones by default).
    track_ids: member ids whose membership probability is recorded.
    workdir: where mia_history.json (and plots) go; None keeps it in memory.
  """

  def __init__(self, members, nonmembers, dataset, every=100,
               attacks: Sequence[str] = ("threshold",), track_ids=(),
               workdir: Optional[str] = None):
    if every < 1:
      raise ValueError("every must be >= 1.")
    unknown = set(track_ids) - set(members.ids.tolist())
    if unknown:
      raise ValueError(f"track_ids {sorted(unknown)[:5]} are not members.")
    self.members, self.nonmembers, self.dataset = members, nonmembers, dataset
    self.every, self.attacks = every, tuple(attacks)
    self.track_ids = [int(i) for i in track_ids]
    self.workdir = workdir
    self.history = []
    if workdir and os.path.exists(os.path.join(workdir, HISTORY_FILE)):
      self.history = results_lib.read_json(os.path.join(workdir,
                                                        HISTORY_FILE))

  def record(self, model, step, writer=None) -> dict:
    """Evaluates ``model`` now and appends a history entry."""
    lt = evaluation.predict_logits(model, self.members.images, self.dataset)
    ln = evaluation.predict_logits(model, self.nonmembers.images,
                                   self.dataset)
    data = attacks_lib.MembershipData(
        lt, self.members.labels, self.members.ids, ln,
        self.nonmembers.labels, self.nonmembers.ids)
    outcomes = attacks_lib.run(data, self.attacks)
    probs, _ = attacks_lib.membership_probabilities(data)
    by_id = dict(zip(self.members.ids.tolist(), probs.tolist()))
    entry = {
        "step": int(step),
        "train_accuracy": evaluation.accuracy(lt, self.members.labels),
        "test_accuracy": evaluation.accuracy(ln, self.nonmembers.labels),
        "train_loss": _loss(lt, self.members.labels),
        "test_loss": _loss(ln, self.nonmembers.labels),
        "auc": {n: o.auc for n, o in outcomes.items()},
        "membership_probability": {str(i): by_id[i] for i in self.track_ids},
    }
    self.history = [h for h in self.history if h["step"] != entry["step"]]
    self.history.append(entry)
    if writer is not None:
      with writer.as_default(step=int(step)):
        for n, auc in entry["auc"].items():
          tf.summary.scalar(f"mia_during_training/{n}_auc", auc)
        for i, p in entry["membership_probability"].items():
          tf.summary.scalar(f"mia_during_training/mp_id_{i}", p)
    if self.workdir:
      results_lib.write_json_atomic(
          os.path.join(self.workdir, HISTORY_FILE), self.history)
    return entry

  def __call__(self, trainer, step, force=False):
    """Trainer ``step_callback``: records every ``every`` steps."""
    if force or step % self.every == 0:
      with trainer._eval_weights_context():  # pylint: disable=protected-access
        self.record(trainer.model, step, trainer.writer)

  def plot(self, path: str):
    """Accuracy, AUC and tracked membership probabilities over steps."""
    if not self.history:
      raise ValueError("no history to plot yet.")
    fig, (a, b) = figures.subplots(1, 2, figsize=(11, 3.6))
    es, of = draw_history(a, self.history, ("accuracy",))
    a.set_title(f"Accuracy during training (early stopping at step {es}, "
                f"overfitting from step {of})", fontsize=9)
    draw_history(b, self.history, ("auc", "membership"))
    b.set_title("Membership inference during training", fontsize=9)
    for ax in (a, b):
      figures.legend_outside(ax)
    out_dir, name = os.path.split(path)
    figures.save(fig, out_dir or ".", os.path.splitext(name)[0],
                 title="Memorization during training (Figure 2)")


class KerasMIACallback(tf.keras.callbacks.Callback):
  """Runs a MIAMonitor every ``monitor.every`` epochs of ``model.fit``."""

  def __init__(self, monitor: MIAMonitor, writer=None):
    super().__init__()
    self.monitor, self.writer = monitor, writer

  def on_epoch_end(self, epoch, logs=None):
    if (epoch + 1) % self.monitor.every == 0:
      self.monitor.record(self.model, epoch + 1, self.writer)


class TrainerMIACallback:
  """Trainer ``step_callback`` that builds its MIAMonitor from the run's data.

  Members are ``size`` seeded training examples, non-members as many
  held-out examples (``RunData.nonmembers``: drawn like the training set).
  """

  def __init__(self, every, size=1000, attacks=("threshold",), track_ids=(),
               seed=0):
    self.every, self.size, self.attacks = every, size, attacks
    self.track_ids, self.seed = list(track_ids), seed
    self.monitor = None

  def setup(self, trainer):
    """Builds the monitor (checking track_ids) before training starts."""
    if self.monitor is not None:
      return
    train = datasets.members(trainer.data)  # Without audit canaries.
    test = trainer.data.nonmembers
    unknown = np.setdiff1d(self.track_ids, train.ids)
    if unknown.size:
      raise ValueError(f"--mia_track_ids {unknown[:5].tolist()} are not "
                       f"training ids of this run (e.g. "
                       f"{np.sort(train.ids)[:5].tolist()}).")
    ids = subsets.random_ids(train, min(self.size, len(train)), self.seed)
    ids = np.union1d(ids, self.track_ids).astype(np.int64)
    self.monitor = MIAMonitor(
        subsets.select_ids(train, ids),
        test.take(np.arange(min(self.size, len(test)))),
        trainer.data.dataset, self.every, self.attacks, self.track_ids,
        trainer.workdir if trainer.chief else None)

  def __call__(self, trainer, step):
    self.setup(trainer)
    self.monitor(trainer, step)
    last = step == trainer.plan.total_steps
    if last and step % self.every:
      self.monitor(trainer, step, force=True)  # The end is always recorded.
    if trainer.chief and last:
      self.monitor.plot(os.path.join(trainer.workdir, "mia_history.png"))
