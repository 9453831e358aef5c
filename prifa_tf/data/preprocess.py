"""Per-channel standardisation with the CIFAR statistics."""

import numpy as np
import tensorflow as tf

# Channel statistics of the CIFAR training sets (values in [0, 1]).
CIFAR10_MEAN = (0.49139968, 0.48215841, 0.44653091)
CIFAR10_STD = (0.24703223, 0.24348513, 0.26158784)
CIFAR100_MEAN = (0.50707516, 0.48654887, 0.44091784)
CIFAR100_STD = (0.26733429, 0.25643846, 0.27615047)

STATS = {
    "cifar10": (CIFAR10_MEAN, CIFAR10_STD),
    "cifar100": (CIFAR100_MEAN, CIFAR100_STD),
    # CelebA uses the CIFAR-10 statistics too (docs/sharp_edges.md#data).
    "celeb_a": (CIFAR10_MEAN, CIFAR10_STD),
}


def standardize(images, dataset: str = "cifar10") -> tf.Tensor:
  """uint8 images -> float32, (x / 255 - mean) / std per channel."""
  if dataset not in STATS:
    raise ValueError(f"No channel statistics for {dataset!r}.")
  mean, std = STATS[dataset]
  x = tf.cast(images, tf.float32) / 255.0
  return (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
