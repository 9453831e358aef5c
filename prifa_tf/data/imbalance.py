"""Gender-imbalanced, smile-balanced CelebA subsets (seed 004).

``smile_subset`` draws n training images in which a fraction
``female_fraction`` is female, and each gender is half smiling and half
not, so the task (smiling) stays balanced while the protected attribute
(gender) is imbalanced. Labels become the single binary ``Smiling`` target;
``domains`` keep ``Male`` (1 = male).
"""

import numpy as np

from prifa_tf.data import celeba
from prifa_tf.data.image_set import ImageSet

SMILING = celeba.TARGET_ATTRIBUTES.index("Smiling")


def smiling_task(data: ImageSet) -> ImageSet:
  """CelebA's 39-attribute set as the binary smiling task (domains: male)."""
  if not data.multilabel or data.domains is None:
    raise ValueError("Expected CelebA with attribute labels and the Male "
                     "domain.")
  return ImageSet(data.images, data.labels[:, SMILING].astype(np.int32),
                  data.ids, 2, data.domains)


def group_sizes(n: int, female_fraction: float):
  """(females, males), at least one of each, summing to n."""
  if not 0 < female_fraction < 1:
    raise ValueError("female_fraction must be in (0, 1).")
  females = min(n - 1, max(1, int(round(n * female_fraction))))
  return females, n - females


def smile_subset(data: ImageSet, n: int, female_fraction: float,
                 seed: int = 0) -> ImageSet:
  """N examples of the smiling task, gender-imbalanced, smile-balanced."""
  task = smiling_task(data) if data.multilabel else data
  rng = np.random.default_rng(seed)
  chosen = []
  for male, size in zip((0, 1), group_sizes(n, female_fraction)):
    for smiling, k in ((1, size // 2), (0, size - size // 2)):
      pool = np.flatnonzero((task.domains == male) & (task.labels == smiling))
      if len(pool) < k:
        raise ValueError(
            f"Only {len(pool)} {'male' if male else 'female'} "
            f"{'smiling' if smiling else 'non-smiling'} images for the "
            f"{k} asked (n={n}, female fraction {female_fraction}).")
      chosen.append(rng.choice(pool, k, replace=False))
  return task.take(np.sort(np.concatenate(chosen)))
