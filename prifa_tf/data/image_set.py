"""In-memory image dataset with stable example ids and optional domains."""

import dataclasses
from typing import Optional

import numpy as np


@dataclasses.dataclass
class ImageSet:
  """Images with labels, stable ids and (for skewed data) domains.

  Attributes:
    images: uint8 array [n, H, W, C].
    labels: int array [n] (class) or [n, L] (multi-label, 0/1).
    ids: int64 array [n]; an example's position in its TFDS split, stable
      across subsets and removals, so attacks know who was trained on.
    domains: optional int array [n]; e.g. 0 = colour, 1 = gray (CIFAR-S) or
      0 = female, 1 = male (CelebA's protected attribute).
    num_classes: number of classes (or labels, for multi-label data).
  """
  images: np.ndarray
  labels: np.ndarray
  ids: np.ndarray
  num_classes: int
  domains: Optional[np.ndarray] = None

  def __post_init__(self):
    n = len(self.images)
    for name in ("labels", "ids"):
      if len(getattr(self, name)) != n:
        raise ValueError(f"ImageSet.{name} has {len(getattr(self, name))} rows "
                         f"but there are {n} images.")
    if self.domains is not None and len(self.domains) != n:
      raise ValueError("ImageSet.domains must have one entry per image.")

  def __len__(self):
    return len(self.images)

  def take(self, index) -> "ImageSet":
    """Returns the rows selected by a positional index or boolean mask."""
    return ImageSet(
        images=self.images[index], labels=self.labels[index],
        ids=self.ids[index], num_classes=self.num_classes,
        domains=None if self.domains is None else self.domains[index])

  @property
  def multilabel(self) -> bool:
    return self.labels.ndim == 2
