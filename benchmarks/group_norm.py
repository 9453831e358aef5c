r"""GroupNorm against Keras' GroupNormalization, side by side in one run.

  .venv/bin/python benchmarks/group_norm.py --model=wrn_10_1 --batch=250

Builds the WRN twice, once with ``prifa_tf.models.group_norm.GroupNorm``
(what the toolkit uses) and once with ``tf.keras.layers.GroupNormalization``
(the same weights and math through a mask of ones and weighted moments),
and for each times, interleaved round by round (this machine is noisy):

* the trace of a non-private and a private step (the per-example clipped
  sum the auto-chosen strategy builds) and of inference, once per model
  (after a warm-up model has paid TF's one-time costs): every run of a
  sweep pays them again;
* non-private and private (DP-SGD) gradients of one physical batch, in
  examples/s, with the ratio of ours to Keras' per round (after untimed
  steps of both; the order alternates between rounds).

Target (the toolkit's own overhead, not the model's compute): ours at
least as fast as Keras' on every line (ratio >= 1).
A benchmark, not a test: nothing here asserts a speed.
"""

import contextlib
import time

from absl import app
from absl import flags
import numpy as np
import tensorflow as tf

from prifa_tf import models
from prifa_tf.models import group_norm
from prifa_tf.models import wide_resnet
from prifa_tf.optim import gradient_engine
from prifa_tf.training import losses

_MODEL = flags.DEFINE_string("model", "wrn_10_1", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 250, "Examples per physical batch.")
_ROUNDS = flags.DEFINE_integer("rounds", 5, "Timed interleaved rounds.")
_IMAGE = flags.DEFINE_integer("image_size", 32, "Image side.")


@contextlib.contextmanager
def keras_group_norm():
  """Builds WRNs with Keras' GroupNormalization while open."""
  ours = wide_resnet.group_norm.GroupNorm
  wide_resnet.group_norm.GroupNorm = tf.keras.layers.GroupNormalization
  try:
    yield
  finally:
    wide_resnet.group_norm.GroupNorm = ours


class Arm:
  """One model and its engines; times traces and physical batches."""

  def __init__(self, name, x, y):
    self.name, self.x, self.y = name, x, y
    tf.keras.utils.set_random_seed(0)
    self.model = models.build_wide_resnet(
        models.named_config(_MODEL.value,
                            input_shape=(_IMAGE.value, _IMAGE.value, 3)),
        private=True)
    norms = {type(layer) for layer in self.model.layers if "norm" in layer.name}
    assert norms, "the WRN has no normalization layers"
    self.norm_class = sorted(c.__name__ for c in norms)
    self.engines = {
        private: gradient_engine.GradientEngine(
            self.model, losses.softmax_cross_entropy, views=1,
            private=private, l2_norm_clip=1.0, noise_multiplier=1.0,
            strategy="auto")
        for private in (False, True)}
    self.w = tf.ones([x.shape[0]])
    self.trace_s = {}
    for private, engine in self.engines.items():
      t0 = time.perf_counter()
      self.step(engine)
      self.trace_s["private step" if private else "non-private step"] = (
          time.perf_counter() - t0)
    infer = tf.function(lambda x: self.model(x, training=False))
    t0 = time.perf_counter()
    infer(x).numpy()
    self.trace_s["inference"] = time.perf_counter() - t0

  def step(self, engine):
    engine.accumulate(self.x, self.y, self.w)
    engine.examples.numpy()  # Waits for the step.

  def time_step(self, private):
    t0 = time.perf_counter()
    self.step(self.engines[private])
    return self.x.shape[0] / (time.perf_counter() - t0)


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  b, side = _BATCH.value, _IMAGE.value
  x = tf.constant(rng.normal(size=(b, side, side, 3)).astype(np.float32))
  y = tf.constant((np.arange(b) % 10).astype(np.int32))
  Arm("warm-up (TF's one-time start-up costs)", x, y)
  ours = Arm("ours (GroupNorm)", x, y)
  with keras_group_norm():
    keras = Arm("Keras GroupNormalization", x, y)
  for arm in (ours, keras):  # Untimed steps: kernel caches, allocator.
    for private in (False, True):
      for _ in range(2):
        arm.time_step(private)
  assert ours.norm_class == [group_norm.GroupNorm.__name__], ours.norm_class
  assert keras.norm_class == ["GroupNormalization"], keras.norm_class
  print(f"model={_MODEL.value}, physical batch={b}, {side}x{side} images, "
        f"{_ROUNDS.value} interleaved rounds; target: ours / Keras >= 1 on "
        "every line")
  print("trace (first call) seconds: ours | Keras | Keras / ours")
  for what, seconds in ours.trace_s.items():
    theirs = keras.trace_s[what]
    print(f"  {what:17s} {seconds:6.2f} | {theirs:6.2f} | "
          f"{theirs / seconds:.2f}x")
  print("examples/s per physical batch (median over rounds): ours | Keras | "
        "ours / Keras (median [min, max] of the per-round ratios)")
  for private in (False, True):
    rates = {"ours": [], "keras": []}
    for r in range(_ROUNDS.value):  # Alternating which goes first.
      for name, arm in (("ours", ours), ("keras", keras))[::1 - 2 * (r % 2)]:
        rates[name].append(arm.time_step(private))
    ratios = np.array(rates["ours"]) / np.array(rates["keras"])
    print(f"  {'DP-SGD' if private else 'non-private':17s} "
          f"{np.median(rates['ours']):7.1f} | {np.median(rates['keras']):7.1f}"
          f" | {np.median(ratios):.2f} [{ratios.min():.2f}, "
          f"{ratios.max():.2f}]")


if __name__ == "__main__":
  app.run(main)
