"""PAST's loss gap, sensitivities, adaptive weights and regulariser, pinned
against gradients computed by hand on a one-layer linear model."""

import os
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.defenses import past
from prifa_tf.defenses import tuning
from tests import fixtures


def _softmax(z):
  e = np.exp(z - z.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def _ce_grad(w, x, y):
  """Mean cross-entropy of logits x @ w, and its gradient in w."""
  p = _softmax(x @ w)
  onehot = np.eye(w.shape[1])[y]
  loss = -np.mean(np.log(p[np.arange(len(y)), y]))
  return loss, x.T @ (p - onehot) / len(y)


class PastMathTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.w = rng.normal(size=(4, 3))
    self.xm, self.ym = rng.normal(size=(5, 4)), np.array([0, 1, 2, 0, 1])
    self.xn, self.yn = rng.normal(size=(6, 4)), np.array([2, 2, 1, 0, 0, 1])
    inputs = tf.keras.Input((4,))
    self.model = tf.keras.Model(inputs, tf.keras.layers.Dense(
        3, use_bias=False)(inputs))
    self.model.layers[-1].kernel.assign(self.w)

  def _hand(self):
    lm, gm = _ce_grad(self.w, self.xm, self.ym)
    ln, gn = _ce_grad(self.w, self.xn, self.yn)
    gap = abs(lm - ln)
    grad = np.sign(lm - ln) * (gm - gn)
    return gap, np.abs(grad)

  def test_loss_gap_and_sensitivity_match_hand_gradients(self):
    gap, sens = self._hand()
    got_gap, got = past.privacy_sensitivity(
        self.model, self.model.trainable_variables,
        tf.constant(self.xm, tf.float32), tf.constant(self.ym),
        tf.constant(self.xn, tf.float32), tf.constant(self.yn))
    self.assertAlmostEqual(float(got_gap), gap, places=5)
    np.testing.assert_allclose(got[0].numpy(), sens, rtol=1e-4, atol=1e-6)

  def test_gamma_and_regulariser(self):
    _, sens = self._hand()
    gamma = past.adaptive_weights([tf.constant(sens, tf.float32)])[0].numpy()
    np.testing.assert_allclose(gamma, sens.size * sens / sens.sum(),
                               rtol=1e-5)
    self.assertAlmostEqual(gamma.mean(), 1.0, places=5)  # |M| normalises.
    kernel = self.model.trainable_variables
    for alpha in (0.0, 1.0, 2.5):
      r = float(past.past_regulariser(kernel, [tf.constant(gamma)], alpha))
      self.assertAlmostEqual(r, np.sum(gamma ** alpha * np.abs(self.w)),
                             places=3)
    self.assertAlmostEqual(
        float(past.past_regulariser(kernel, [tf.constant(gamma)], 0.0)),
        float(past.l1(kernel)), places=4)  # α = 0 is L1.
    # No gradient flows through γ: dR/dθ = γ^α sign(θ).
    with tf.GradientTape() as tape:
      r = past.past_regulariser(kernel, [tf.constant(gamma)], 2.0)
    np.testing.assert_allclose(tape.gradient(r, kernel)[0].numpy(),
                               gamma ** 2 * np.sign(self.w), rtol=1e-5)
    zero = past.adaptive_weights([tf.zeros((2, 2))])[0].numpy()
    np.testing.assert_array_equal(zero, np.ones((2, 2)))

  def test_gini_index(self):
    self.assertAlmostEqual(past.gini_index([np.ones((4, 5))]), 0.0)
    one_hot = np.zeros(20)
    one_hot[3] = -2.0
    self.assertAlmostEqual(past.gini_index([one_hot]), 1 - 1 / 20)


class TuningTest(absltest.TestCase):

  def test_past_phase_runs_records_and_resumes(self):
    fixtures.quiet_tf()
    train = fixtures.synthetic_set(n=40)
    inference = fixtures.synthetic_set(n=40, seed=1, id_offset=100)
    test = fixtures.synthetic_set(n=40, seed=2, id_offset=200)
    workdir = tempfile.mkdtemp()
    phase = tuning.Phase("past", lam=1e-3, alpha=1.5, epochs=2,
                         batch_size=20, learning_rate=0.05)
    model = fixtures.tiny_model()
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = tuning.train_phase(model, phase, workdir, train, inference,
                                 test, log=lambda _: None)
    self.assertEqual([h["epoch"] for h in history], [1, 2])
    for h in history:
      self.assertBetween(h["gini"], 0.0, 1.0)
      self.assertGreaterEqual(h["loss_gap"], 0.0)
    self.assertTrue(any(not np.allclose(a, b.numpy()) for a, b in
                        zip(before, model.trainable_variables)))
    again = tuning.train_phase(fixtures.tiny_model(seed=5), phase, workdir,
                               train, inference, test,
                               log=lambda _: self.fail("trained again"))
    self.assertEqual(again, history)
    self.assertTrue(os.path.exists(os.path.join(workdir,
                                                tuning.WEIGHTS_FILE)))
    with self.assertRaisesRegex(ValueError, "lam > 0"):
      tuning.Phase("l1").validate()


if __name__ == "__main__":
  absltest.main()
