"""Mislabelled canaries for the privacy audit (data side).

``make_canaries`` picks m training examples and gives each a wrong label;
each is inserted into training (with the wrong label) independently with
probability 1/2, as Steinke et al.'s one-run audit requires; the others are
left out. ``insert`` applies that to a training set. The choice is
a pure function of the training set, m and the seed, so a run's data can be
rebuilt identically for its evaluation.
"""

import dataclasses

import numpy as np

from prifa_tf.data import subsets
from prifa_tf.data.image_set import ImageSet


@dataclasses.dataclass
class Canaries:
  """Mislabelled canaries.

  Attributes:
    ids: training ids used as canaries.
    labels: their wrong labels.
    included: whether each was inserted into training.
  """
  ids: np.ndarray
  labels: np.ndarray
  included: np.ndarray


def make_canaries(train: ImageSet, m: int, seed: int = 0) -> Canaries:
  """M canaries from ``train``, each included independently w.p. 1/2."""
  if train.multilabel:
    raise ValueError("Canaries need single-label data (not CelebA); set "
                     "audit_canaries=0.")
  if not 2 <= m <= len(train):
    raise ValueError(f"The audit needs 2 <= canaries <= {len(train)} "
                     f"training examples; got {m}.")
  rng = np.random.default_rng(seed)
  pick = rng.choice(len(train), m, replace=False)
  shift = rng.integers(1, train.num_classes, m)
  labels = (train.labels[pick] + shift) % train.num_classes
  included = rng.random(m) < 0.5
  return Canaries(train.ids[pick].astype(np.int64), labels.astype(np.int32),
                  included)


def insert(train: ImageSet, canaries: Canaries):
  """(training set with canaries, all canaries as an ImageSet).

  Included canaries keep their place in training with their wrong label;
  left-out canaries are removed from training.
  """
  left_out = canaries.ids[~canaries.included]
  out = subsets.remove_ids(train, left_out)
  labels = out.labels.copy()
  position = {int(i): k for k, i in enumerate(out.ids)}
  for i, label, inc in zip(canaries.ids, canaries.labels, canaries.included):
    if inc:
      labels[position[int(i)]] = label
  out = dataclasses.replace(out, labels=labels)
  chosen = subsets.select_ids(train, canaries.ids)
  order = {int(i): k for k, i in enumerate(chosen.ids)}
  chosen = chosen.take(np.array([order[int(i)] for i in canaries.ids]))
  canary_set = dataclasses.replace(chosen, labels=canaries.labels.copy())
  return out, canary_set
