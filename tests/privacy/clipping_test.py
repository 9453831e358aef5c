"""Per-example clipping: bound, strategies agree, AM clips the view mean."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf.privacy import clipping
from prifa_tf.privacy import per_example
from prifa_tf.training import losses
from tests import fixtures

LOSS = losses.softmax_cross_entropy


def manual_grad(model, x, y):
  """Gradient of the mean loss over the given rows (one example's views)."""
  with tf.GradientTape() as tape:
    loss = tf.reduce_mean(LOSS(y, model(x, training=True)))
  return tape.gradient(loss, model.trainable_variables)


class ClippingTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()
    cls.model = fixtures.tiny_model(size=8)
    rng = np.random.default_rng(0)
    cls.x = tf.constant(rng.normal(size=(6, 8, 8, 3)).astype(np.float32) * 3)
    cls.y = tf.constant(np.array([0, 1, 2, 3, 4, 5], np.int32))

  @parameterized.parameters("loop", "vectorized", "per_layer")
  def test_clipping_bound_per_example(self, strategy):
    fn = per_example.get_strategy(strategy)
    c = 0.01  # Far below the raw gradient norms: every example is clipped.
    for i in range(6):
      w = np.zeros(6, np.float32)
      w[i] = 1.0
      summed, norms, _, _ = fn(self.model, LOSS, self.x, self.y,
                               tf.constant(w), 1, c)
      self.assertGreater(float(norms[i]), c)
      self.assertAlmostEqual(float(tf.linalg.global_norm(summed)), c,
                             delta=1e-6)

  @parameterized.parameters("loop", "vectorized", "per_layer")
  def test_matches_manual_clipped_sum(self, strategy):
    fn = per_example.get_strategy(strategy)
    c = 1.0
    weights = tf.constant([1, 1, 0, 1, 1, 1], tf.float32)  # Row 2 is padding.
    summed, norms, _, _ = fn(self.model, LOSS, self.x, self.y, weights, 1, c)
    expected = [np.zeros(v.shape, np.float32)
                for v in self.model.trainable_variables]
    for i in range(6):
      g = manual_grad(self.model, self.x[i:i + 1], self.y[i:i + 1])
      norm = float(tf.linalg.global_norm(g))
      self.assertAlmostEqual(float(norms[i]), norm, delta=1e-4 * norm)
      f = min(1.0, c / norm) * float(weights[i])
      expected = [e + f * gi.numpy() for e, gi in zip(expected, g)]
    for s, e in zip(summed, expected):
      np.testing.assert_allclose(s.numpy(), e, atol=2e-5, rtol=1e-4)

  @parameterized.parameters("loop", "vectorized", "per_layer")
  def test_augmult_clips_mean_of_view_gradients(self, strategy):
    fn = per_example.get_strategy(strategy)
    k, c = 3, 0.5
    # Two examples with three views each, contiguous.
    summed, _, _, _ = fn(self.model, LOSS, self.x,
                         tf.constant([1, 1, 1, 4, 4, 4]), tf.ones([2]), k, c)
    expected = None
    for i in range(2):
      views = [manual_grad(self.model, self.x[i * k + v:i * k + v + 1],
                           tf.constant([[1], [4]][i])) for v in range(k)]
      mean = [sum(vs) / k for vs in zip(*views)]
      norm = float(tf.linalg.global_norm(mean))
      clipped = [m * min(1.0, c / norm) for m in mean]
      expected = clipped if expected is None else [
          a + b for a, b in zip(expected, clipped)]
    for s, e in zip(summed, expected):
      np.testing.assert_allclose(s.numpy(), e.numpy(), atol=2e-5, rtol=1e-4)

  def test_clip_factor_function(self):
    norms = tf.constant([0.5, 1.0, 4.0, 0.0])
    np.testing.assert_allclose(clipping.clip_factors(norms, 1.0).numpy(),
                               [1.0, 1.0, 0.25, 1.0])

  def test_losses_and_logits_come_from_the_same_pass(self):
    for strategy in ("loop", "vectorized", "per_layer"):
      _, _, losses_, logits = per_example.get_strategy(strategy)(
          self.model, LOSS, self.x, self.y, tf.ones([6]), 1, 1.0)
      ref = self.model(self.x, training=True)
      np.testing.assert_allclose(logits.numpy(), ref.numpy(), atol=1e-4)
      np.testing.assert_allclose(losses_.numpy(), LOSS(self.y, ref).numpy(),
                                 atol=1e-4)

  def test_strategy_names(self):
    with self.assertRaisesRegex(ValueError, "loop"):
      per_example.get_strategy("jacobian")
    self.assertEqual(per_example.resolve("auto"), "per_layer")


if __name__ == "__main__":
  absltest.main()
