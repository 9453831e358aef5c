"""Parameter averaging (PA): EMA with warm-up, and Polyak averaging.

EMA is updated once per logical step t (0-based) with decay
``min(d, (1 + t) / (10 + t))`` (De et al. 2022); Polyak averaging keeps the
running mean of all iterates.
"""

import contextlib

import tensorflow as tf

WEIGHTS = ("last", "ema", "polyak")


def ema_decay(decay: float, step: int) -> float:
  """Warmed-up EMA decay at logical step ``step`` (0-based)."""
  return min(float(decay), (1.0 + step) / (10.0 + step))


class ParameterAverages(tf.Module):
  """EMA and Polyak averages of ``variables``, checkpointable."""

  def __init__(self, variables, decay=0.999):
    super().__init__(name="parameter_averages")
    targets = list(variables)
    # A closure, so checkpoints do not track the model weights twice.
    self._targets = lambda: targets
    self.decay = float(decay)
    self.ema = [tf.Variable(v, trainable=False, name="ema") for v in targets]
    self.polyak = [tf.Variable(v, trainable=False, name="polyak")
                   for v in targets]
    self.count = tf.Variable(0, dtype=tf.int64, trainable=False)

  def update(self, step: int):
    """Folds the current variables in after logical step ``step``."""
    d = ema_decay(self.decay, step)
    n = float(self.count.numpy()) + 1.0
    for e, p, v in zip(self.ema, self.polyak, self._targets()):
      e.assign(d * e + (1.0 - d) * v)
      p.assign(p + (v - p) / n)
    self.count.assign_add(1)

  def averaged(self, which):
    if which == "ema":
      return self.ema
    if which == "polyak":
      return self.polyak
    raise ValueError(f"weights must be one of {WEIGHTS}; got {which!r}.")

  @contextlib.contextmanager
  def swapped(self, which: str):
    """Temporarily loads the ``which`` weights into the model variables."""
    if which == "last":
      yield
      return
    source = self.averaged(which)
    backup = [tf.identity(v) for v in self._targets()]
    try:
      for v, s in zip(self._targets(), source):
        v.assign(s)
      yield
    finally:
      for v, b in zip(self._targets(), backup):
        v.assign(b)
