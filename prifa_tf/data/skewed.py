"""CIFAR-10S / CIFAR-100S: colour/gray domain skew (Wang et al. 2020).

All training images are kept. Half of the classes are *mostly colour*, the
other half *mostly gray*: with skew ``p``, ``int(n_c * p)`` images of each class
(n_c = 5000 for CIFAR-10, 500 for CIFAR-100) stay in the class's majority
domain and the rest are moved to the other domain. Which images move is a
seeded per-class permutation, so the split is deterministic for a seed.

Colour classes are the odd class ids: for CIFAR-10 that is automobile, cat,
dog, horse and truck (1, 3, 5, 7, 9), as in Wang et al.; for CIFAR-100 it is
the 50 odd fine-label ids (1, 3, ..., 99), the same rule.

Test sets: COLOR (the original test images) and GRAY (the same images in
gray). Gray is PIL's 'L' conversion, stacked to three channels.
"""

import numpy as np

from prifa_tf.data.image_set import ImageSet

COLOR, GRAY = 0, 1
DOMAIN_NAMES = {COLOR: "color", GRAY: "gray"}


def to_gray(images: np.ndarray) -> np.ndarray:
  """PIL 'L' luma (ITU-R 601-2, integer arithmetic), stacked to 3 channels.

  PIL computes ``(R*19595 + G*38470 + B*7471 + 0x8000) >> 16``, i.e.
  0.299R + 0.587G + 0.114B rounded; this reproduces it bit for bit.

  Args:
    images: uint8 array [..., 3].

  Returns:
    uint8 array of the same shape with three equal channels.
  """
  if images.dtype != np.uint8 or images.shape[-1] != 3:
    raise ValueError("to_gray expects uint8 RGB images [..., 3].")
  rgb = images.astype(np.uint32)
  luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471
          + 0x8000) >> 16
  return np.repeat(luma.astype(np.uint8)[..., None], 3, axis=-1)


def color_classes(num_classes: int) -> np.ndarray:
  """Ids of the mostly-colour classes (the odd ids)."""
  return np.arange(1, num_classes, 2)


def make_skewed_train(train: ImageSet, skew: float = 0.95,
                      seed: int = 0) -> ImageSet:
  """Builds the skewed training set (CIFAR-10S/100S).

  Args:
    train: the full colour training set (10 or 100 classes).
    skew: fraction p in (0.5, 1) of each class kept in its majority domain.
    seed: seed of the per-class choice of minority images.

  Returns:
    An ImageSet with the same ids and labels, gray images where the domain
    is GRAY, and ``domains`` set.
  """
  if not 0.5 < skew < 1.0:
    raise ValueError(f"skew must be in (0.5, 1); got {skew}.")
  if train.multilabel:
    raise ValueError("Skewed CIFAR needs single-label class data.")
  rng = np.random.default_rng(seed)
  colour = set(color_classes(train.num_classes).tolist())
  domains = np.empty(len(train), dtype=np.int32)
  for c in range(train.num_classes):
    members = np.flatnonzero(train.labels == c)
    # Order by id first so the result does not depend on the input order.
    members = members[np.argsort(train.ids[members], kind="stable")]
    members = members[rng.permutation(len(members))]
    majority = COLOR if c in colour else GRAY
    n_major = int(len(members) * skew)
    domains[members[:n_major]] = majority
    domains[members[n_major:]] = 1 - majority
  images = train.images.copy()
  gray = domains == GRAY
  images[gray] = to_gray(train.images[gray])
  return ImageSet(images, train.labels.copy(), train.ids.copy(),
                  train.num_classes, domains)


def make_domain_test_sets(test: ImageSet):
  """Returns (COLOR, GRAY) versions of the test set, domains set."""
  n = len(test)
  color = ImageSet(test.images, test.labels, test.ids, test.num_classes,
                   np.full(n, COLOR, np.int32))
  gray = ImageSet(to_gray(test.images), test.labels, test.ids,
                  test.num_classes, np.full(n, GRAY, np.int32))
  return color, gray
