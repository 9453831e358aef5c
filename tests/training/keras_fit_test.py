"""DP-SGD through model.fit equals TF-Privacy's optimizer (sigma = 0)."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized

from prifa_tf.privacy import accounting
from prifa_tf.training import keras_fit
from prifa_tf.training import losses
from tests import fixtures


class KerasFitTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()
    rng = np.random.default_rng(0)
    self.x = rng.normal(size=(8, 8, 8, 3)).astype(np.float32)
    self.y = rng.integers(0, 10, 8).astype(np.int32)

  def test_fit_matches_tf_privacy_one_logical_batch(self):
    clip, lr = 0.5, 0.7
    theirs = fixtures.tiny_model(size=8, seed=1)
    opt = dp_optimizer_keras_vectorized.VectorizedDPKerasSGDOptimizer(
        l2_norm_clip=clip, noise_multiplier=0.0, num_microbatches=8,
        learning_rate=lr)
    with tf.GradientTape(persistent=True) as tape:
      loss = losses.softmax_cross_entropy(self.y, theirs(self.x,
                                                         training=True))
    opt.minimize(loss, theirs.trainable_variables, tape=tape)

    inner = fixtures.tiny_model(size=8, seed=1)
    private = keras_fit.PrivateModel(inner, l2_norm_clip=clip,
                                     noise_multiplier=0.0,
                                     accumulation_steps=4, per_example="loop")
    private.compile(optimizer=tf.keras.optimizers.SGD(lr),
                    metrics=["sparse_categorical_accuracy"])
    ds = tf.data.Dataset.from_tensor_slices((self.x, self.y)).batch(
        2, drop_remainder=True)  # 4 physical batches = 1 logical batch.
    initial_loss = float(tf.reduce_mean(losses.softmax_cross_entropy(
        self.y, inner(self.x, training=False))))
    history = private.fit(ds, epochs=1, verbose=0)
    self.assertIn("sparse_categorical_accuracy", history.history)
    # The loss is in the history too: all four batches before the one
    # update, so it is the mean loss at the initial weights.
    self.assertAlmostEqual(history.history["loss"][0], initial_loss,
                           places=5)
    self.assertEqual(int(private.logical_step.numpy()), 1)
    self.assertEqual(int(private.engine.noise_draws.numpy()), 1)
    for a, b in zip(inner.trainable_variables, theirs.trainable_variables):
      np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)

  def test_noise_once_per_logical_batch_and_dpsat_restores(self):
    inner = fixtures.tiny_model(size=8, seed=1)
    private = keras_fit.PrivateModel(inner, l2_norm_clip=1.0,
                                     noise_multiplier=2.0,
                                     accumulation_steps=2, noise_seed=5,
                                     sharpness_rho=0.05, per_example="loop")
    private.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    ds = tf.data.Dataset.from_tensor_slices((self.x, self.y)).batch(
        2, drop_remainder=True)
    private.fit(ds, epochs=2, verbose=0)  # 8 physical = 4 logical batches.
    self.assertEqual(int(private.logical_step.numpy()), 4)
    self.assertEqual(int(private.engine.noise_draws.numpy()), 4)
    # After the last update the weights are the restored ones minus the
    # update, never left perturbed: re-running the same update from the
    # backup reproduces them.
    for v, b, g in zip(inner.trainable_variables, private.backup,
                       private.prev_grad):
      np.testing.assert_allclose(v.numpy(), b.numpy() - 0.1 * g.numpy(),
                                 atol=1e-6)

  def private(self, k=2, **kw):
    model = keras_fit.PrivateModel(fixtures.tiny_model(size=8, seed=1),
                                   l2_norm_clip=1.0, noise_multiplier=1.0,
                                   accumulation_steps=k, per_example="loop",
                                   **kw)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1))
    return model

  def batches(self, b=2, repeat=1):
    return tf.data.Dataset.from_tensor_slices((self.x, self.y)).repeat(
        repeat).batch(b, drop_remainder=True)

  def test_no_logical_batch_spans_two_epochs(self):
    # 8 examples in batches of 2: 4 per epoch, not a multiple of 3.
    with self.assertRaisesRegex(ValueError, "not a multiple"):
      self.private(k=3).fit(self.batches(), epochs=2, verbose=0)
    with self.assertRaisesRegex(ValueError, "cardinality is unknown"):
      self.private().fit(self.batches().filter(lambda a, b: True),
                         epochs=1, verbose=0)
    with self.assertRaisesRegex(ValueError, "tf.data.Dataset"):
      self.private().fit(self.x, self.y, batch_size=2, verbose=0)
    model = self.private(k=2)
    model.fit(self.batches(), epochs=3, verbose=0)
    self.assertEqual(int(model.logical_step.numpy()), 6)
    self.assertEqual(int(model.micro_step.numpy()) % 2, 0)

  def test_a_leftover_partial_batch_is_refused_not_carried(self):
    model = self.private(k=2)
    with self.assertRaisesRegex(ValueError, "not a multiple"):
      model.fit(self.batches(), steps_per_epoch=3, epochs=1, verbose=0)
    # steps_per_epoch=4 is a multiple, but the data runs out after 3
    # batches: the half-filled logical batch is discarded, never carried.
    with self.assertRaisesRegex(RuntimeError, "left incomplete"):
      model.fit(self.batches().take(3), steps_per_epoch=4, epochs=1,
                verbose=0)
    self.assertEqual(int(model.logical_step.numpy()), 1)
    self.assertEqual(int(model.micro_step.numpy()), 0)
    model.fit(self.batches(), steps_per_epoch=2, epochs=1, verbose=0)
    self.assertEqual(int(model.logical_step.numpy()), 2)

  def test_budget_guard_stops_at_the_target(self):
    n, target = 8, 8.0  # Four steps fit (eps 7.41); a fifth would not.
    model = self.private(k=2, num_examples=n, target_epsilon=target)
    history = model.fit(self.batches(repeat=3), epochs=1, verbose=0)
    steps = int(model.logical_step.numpy())
    self.assertEqual(steps, 4)  # Of 6 available: stopped at the budget.
    self.assertLessEqual(accounting.epsilon(n, 4, 1.0, steps, 1e-5), target)
    self.assertGreater(accounting.epsilon(n, 4, 1.0, steps + 1, 1e-5),
                       target)
    self.assertAlmostEqual(model.epsilon_spent,
                           accounting.epsilon(n, 4, 1.0, steps, 1e-5))
    self.assertIn("assumed-poisson,shuffled", model.stop_reason)
    self.assertEqual(int(model.engine.noise_draws.numpy()), steps)
    del history
    with self.assertRaisesRegex(ValueError, "num_examples"):
      self.private(target_epsilon=1.0)

  def test_noise_seed_is_secret_by_default(self):
    a, b = self.private(), self.private()
    self.assertNotEqual(a.noise_seed, b.noise_seed)


if __name__ == "__main__":
  absltest.main()
