"""Deterministic logical-batch sampling and physical batch splitting.

Which examples form logical batch t is a pure function of (seed, t), so a
resumed run sees exactly the batches an uninterrupted run would have seen.
"""

import numpy as np


class BatchSampler:
  """Chooses the example rows of each logical batch.

  Args:
    n: dataset size.
    batch_size: logical batch size B (expected size under Poisson).
    sampling: "shuffle" (fixed-size batches of a per-epoch permutation,
      remainder dropped) or "poisson" (each example independently with
      probability B / n, as the accountant assumes).
    seed: data seed.
  """

  def __init__(self, n: int, batch_size: int, sampling: str = "shuffle",
               seed: int = 0):
    if batch_size > n:
      raise ValueError(f"batch_size {batch_size} exceeds dataset size {n}.")
    if sampling not in ("shuffle", "poisson"):
      raise ValueError(f"unknown sampling {sampling!r}.")
    self.n, self.batch_size, self.sampling, self.seed = (
        n, batch_size, sampling, seed)
    self.steps_per_epoch = n // batch_size
    self._perm_epoch, self._perm = None, None

  def indices(self, step: int) -> np.ndarray:
    """Row indices of logical batch ``step`` (0-based)."""
    if self.sampling == "poisson":
      rng = np.random.default_rng([self.seed, 1, step])
      return np.flatnonzero(rng.random(self.n) < self.batch_size / self.n)
    epoch, pos = divmod(step, self.steps_per_epoch)
    if epoch != self._perm_epoch:
      self._perm = np.random.default_rng([self.seed, 0, epoch]).permutation(
          self.n)
      self._perm_epoch = epoch
    return self._perm[pos * self.batch_size:(pos + 1) * self.batch_size]


def physical_batches(indices: np.ndarray, physical_batch_size: int):
  """Splits indices into equal-size chunks, padding the last one.

  Yields:
    (indices [b], weights [b]) with weight 0 on padding rows, so every
    physical batch has the same shape (no retracing).
  """
  b = physical_batch_size
  for start in range(0, max(len(indices), 1), b):
    chunk = indices[start:start + b]
    weights = np.ones(b, np.float32)
    if len(chunk) < b:
      weights[len(chunk):] = 0.0
      pad_value = chunk[0] if len(chunk) else 0
      chunk = np.concatenate([chunk, np.full(b - len(chunk), pad_value,
                                             chunk.dtype if len(chunk) else
                                             np.int64)])
    yield chunk, weights
