"""Builds the train / validation / evaluation sets a config asks for."""

import dataclasses
from typing import Dict, Optional

import numpy as np

from prifa_tf.data import skewed
from prifa_tf.data import subsets
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet

TEST_SPLIT = {"cifar10": "test", "cifar100": "test", "celeb_a": "test"}


@dataclasses.dataclass
class RunData:
  train: ImageSet
  validation: Optional[ImageSet]
  evaluation: Dict[str, ImageSet]
  dataset: str  # base dataset name, for channel statistics.
  # Held-out examples drawn like the training set, for membership
  # inference (CIFAR-S: the test set skewed by the training rule, so that
  # an attack cannot tell members by colour alone). None: the first
  # evaluation set.
  membership_test: Optional[ImageSet] = None

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
  return RunData(train, validation, evaluation, base, membership_test)


def train_ids(data: RunData) -> np.ndarray:
  return np.sort(data.train.ids)
