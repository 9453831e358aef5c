"""Builds the train / validation / evaluation sets a config asks for."""

import dataclasses
from typing import Dict, Optional

import numpy as np

from prifa_tf.data import canaries as canaries_lib
from prifa_tf.data import skewed
from prifa_tf.data import subsets
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet

TEST_SPLIT = {"cifar10": "test", "cifar100": "test", "celeb_a": "test"}


@dataclasses.dataclass
class RunData:
  """The image sets one run trains, validates, evaluates and attacks on."""
  train: ImageSet
  validation: Optional[ImageSet]
  evaluation: Dict[str, ImageSet]
  dataset: str  # base dataset name, for channel statistics.
  # Held-out examples drawn like the training set, for membership
  # inference (CIFAR-S: the test set skewed by the training rule, so that
  # an attack cannot tell members by colour alone). None: the first
  # evaluation set.
  membership_test: Optional[ImageSet] = None
  # Privacy audit (config ``audit_canaries``): the canaries, and all of
  # them (inserted or not) with their wrong labels. Not members for the
  # membership attacks.
  canaries: Optional[canaries_lib.Canaries] = None
  canary_set: Optional[ImageSet] = None

  @property
  def nonmembers(self) -> ImageSet:
    if self.membership_test is not None:
      return self.membership_test
    return next(iter(self.evaluation.values()))


def build(cfg, remove_ids=None) -> RunData:
  """Loads and prepares data for ``cfg`` (a TrainConfig).

  Args:
    cfg: the run configuration.
    remove_ids: optional training ids to drop (Onion-effect experiments).

  Returns:
    RunData. Validation examples are held out of training by id.
  """
  base = cfg.base_dataset
  data_seed = cfg.data_seed
  size = (cfg.image_size, cfg.image_size) if cfg.image_size else None
  train = tfds_loader.load_split(base, "train", cfg.data_dir, cfg.download,
                                 image_size=size)
  test = tfds_loader.load_split(base, TEST_SPLIT[base], cfg.data_dir,
                                cfg.download, image_size=size)
  if cfg.skewed:
    train = skewed.make_skewed_train(train, cfg.skew, seed=data_seed)
  if cfg.train_subset:
    train = subsets.select_ids(
        train, subsets.random_ids(train, cfg.train_subset, seed=data_seed))
  if remove_ids is not None and len(remove_ids):
    train = subsets.remove_ids(train, remove_ids)
  validation = None
  if cfg.val_size:
    if cfg.val_size >= len(train):
      raise ValueError(f"val_size {cfg.val_size} leaves no training data.")
    val_ids = subsets.random_ids(train, cfg.val_size, seed=data_seed + 1)
    validation = subsets.select_ids(train, val_ids)
    train = subsets.remove_ids(train, val_ids)
  if cfg.test_subset:
    test = subsets.select_ids(
        test, subsets.random_ids(test, cfg.test_subset, seed=data_seed))
  membership_test = None
  if cfg.skewed:
    color, gray = skewed.make_domain_test_sets(test)
    evaluation = {"color": color, "gray": gray}
    membership_test = skewed.make_skewed_train(test, cfg.skew,
                                               seed=data_seed)
  else:
    evaluation = {"test": test}
  return with_canaries(
      RunData(train, validation, evaluation, base, membership_test), cfg)


def with_canaries(data: RunData, cfg) -> RunData:
  """``data`` with the config's audit canaries in training (idempotent).

  The canaries are drawn from the training set (after removals and the
  validation split) with ``cfg.audit_seed``, so that rebuilding the data of
  a run for its evaluation draws the same ones.
  """
  if not cfg.audit_canaries or data.canaries is not None:
    return data
  chosen = canaries_lib.make_canaries(data.train, cfg.audit_canaries,
                                      seed=cfg.audit_seed)
  train, canary_set = canaries_lib.insert(data.train, chosen)
  return dataclasses.replace(data, train=train, canaries=chosen,
                             canary_set=canary_set)


def members(data: RunData) -> ImageSet:
  """Training examples that are members for membership inference.

  Audit canaries (mislabelled on purpose) are left out.
  """
  if data.canaries is None:
    return data.train
  keep = ~np.isin(data.train.ids, data.canaries.ids)
  return data.train.take(np.flatnonzero(keep))


def train_ids(data: RunData) -> np.ndarray:
  return np.sort(data.train.ids)
