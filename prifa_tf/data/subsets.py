"""Stable subsets, removals and membership by example id."""

from typing import Iterable

import numpy as np

from prifa_tf.data.image_set import ImageSet


def random_ids(data: ImageSet, size: int, seed: int = 0) -> np.ndarray:
  """A seeded, sorted choice of ``size`` ids, independent of row order."""
  if not 0 < size <= len(data):
    raise ValueError(f"subset size must be in [1, {len(data)}]; got {size}.")
  ids = np.sort(data.ids)
  chosen = np.random.default_rng(seed).choice(len(ids), size, replace=False)
  return np.sort(ids[chosen])


def select_ids(data: ImageSet, ids: Iterable[int]) -> ImageSet:
  """The examples whose id is in ``ids`` (unknown ids are an error)."""
  ids = np.unique(np.asarray(list(ids), dtype=np.int64))
  unknown = np.setdiff1d(ids, data.ids)
  if unknown.size:
    raise ValueError(f"{unknown.size} requested ids are not in the dataset, "
                     f"e.g. {unknown[:5].tolist()}.")
  return data.take(np.isin(data.ids, ids))


def remove_ids(data: ImageSet, ids: Iterable[int]) -> ImageSet:
  """The dataset without the examples whose id is in ``ids``."""
  ids = np.asarray(list(ids), dtype=np.int64)
  return data.take(~np.isin(data.ids, ids))


def stratified_ids(data: ImageSet, per_class: int, seed: int = 0):
  """``per_class`` seeded ids of every class (single-label data)."""
  rng = np.random.default_rng(seed)
  out = []
  for c in range(data.num_classes):
    ids = np.sort(data.ids[data.labels == c])
    if len(ids) < per_class:
      raise ValueError(f"class {c} has {len(ids)} examples < {per_class}.")
    out.append(ids[rng.choice(len(ids), per_class, replace=False)])
  return np.sort(np.concatenate(out))


def membership(train_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
  """Boolean mask: which of ``ids`` were in the training set."""
  return np.isin(ids, train_ids)
