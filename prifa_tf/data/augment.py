"""Augmentation multiplicity (De et al. 2022).

K views per example: symmetric-pad 4, random crop back to the original
size, random horizontal flip, each view drawn independently. The K views of
an example are contiguous in the output, so per-example losses are rows
``[i*K, (i+1)*K)`` — the layout TF-Privacy's microbatching also expects.
K = 0 means no augmentation (the image itself, one view).
"""

import tensorflow as tf

PAD = 4


def num_views(k: int) -> int:
  """Views per example for augmentation multiplicity ``k`` (K=0 -> 1)."""
  if k < 0:
    raise ValueError(f"augmentation multiplicity must be >= 0; got {k}.")
  return max(k, 1)


def augment_views(images: tf.Tensor, k: int, seed: tf.Tensor) -> tf.Tensor:
  """Makes K independent augmented views of each image.

  Args:
    images: float tensor [n, H, W, C].
    k: augmentation multiplicity; 0 returns ``images`` unchanged.
    seed: int32/int64 tensor of shape [2] for stateless random ops.

  Returns:
    Tensor [n * max(k, 1), H, W, C]; views of example i are rows
    ``i*K .. i*K + K - 1``.
  """
  if k == 0:
    return images
  num_views(k)
  h, w = images.shape[1], images.shape[2]
  views = tf.repeat(images, k, axis=0)
  n = tf.shape(views)[0]
  padded = tf.pad(views, [[0, 0], [PAD, PAD], [PAD, PAD], [0, 0]],
                  mode="SYMMETRIC")
  seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
  oy = tf.random.stateless_uniform([n], seeds[0], 0, 2 * PAD + 1, tf.int32)
  ox = tf.random.stateless_uniform([n], seeds[1], 0, 2 * PAD + 1, tf.int32)
  rows = oy[:, None] + tf.range(h)[None, :]
  cols = ox[:, None] + tf.range(w)[None, :]
  crops = tf.gather(padded, rows, axis=1, batch_dims=1)
  crops = tf.gather(crops, cols, axis=2, batch_dims=1)
  flip = tf.random.stateless_uniform([n], seeds[2]) < 0.5
  return tf.where(flip[:, None, None, None], crops[:, :, ::-1, :], crops)


def repeat_labels(labels: tf.Tensor, k: int) -> tf.Tensor:
  """Repeats each label K times, matching ``augment_views``' layout."""
  return tf.repeat(labels, num_views(k), axis=0)
