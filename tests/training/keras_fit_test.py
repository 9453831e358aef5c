"""PrivacyCallback: ε in the logs and TensorBoard, the budget guard, whole
logical batches, and DP-SAT's weights restored for validation."""

import contextlib
import io
import os
import re
import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.optim import dp_keras
from prifa_tf.privacy import accounting
from prifa_tf.training import keras_fit
from tests import fixtures

KERAS_LOSS = tf.keras.losses.SparseCategoricalCrossentropy(
    from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
KEY = "eps[assumed-poisson,shuffled]"


def small_model():
  tf.keras.utils.set_random_seed(1)
  return tf.keras.Sequential([
      tf.keras.Input((8, 8, 3)), tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(16, activation="relu"),
      tf.keras.layers.Dense(10)])


class PrivacyCallbackTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()
    rng = np.random.default_rng(0)
    self.x = rng.normal(size=(8, 8, 8, 3)).astype(np.float32)
    self.y = rng.integers(0, 10, 8).astype(np.int32)

  def model(self, k=2, rho=0.0):
    cls = dp_keras.DPSATKerasSGDOptimizer if rho else \
        dp_keras.DPSGDKerasSGDOptimizer
    kw = dict(rho=rho) if rho else {}
    model = small_model()
    model.compile(optimizer=cls(1.0, 1.0, gradient_accumulation_steps=k,
                                learning_rate=0.1, noise_seed=3, **kw),
                  loss=KERAS_LOSS, metrics=["sparse_categorical_accuracy"])
    return model

  def batches(self, b=2, repeat=1):
    return tf.data.Dataset.from_tensor_slices((self.x, self.y)).repeat(
        repeat).batch(b, drop_remainder=True)

  def test_budget_guard_logs_and_tensorboard(self):
    n, target = 8, 8.0  # Four steps fit (eps 7.41); a fifth would not.
    logdir = tempfile.mkdtemp()
    callback = keras_fit.PrivacyCallback(num_examples=n, batch_size=4,
                                         target_epsilon=target,
                                         log_dir=logdir)
    model = self.model(k=2)
    history = model.fit(self.batches(repeat=3), epochs=1, verbose=0,
                        callbacks=[callback])
    steps = int(model.optimizer.iterations.numpy())
    self.assertEqual(steps, 4)  # Of 6 available: stopped at the budget.
    self.assertEqual(int(model.optimizer.counters["noise_draws"].numpy()),
                     steps)
    self.assertLessEqual(accounting.epsilon(n, 4, 1.0, steps, 1e-5), target)
    self.assertGreater(accounting.epsilon(n, 4, 1.0, steps + 1, 1e-5),
                       target)
    self.assertAlmostEqual(callback.epsilon,
                           accounting.epsilon(n, 4, 1.0, steps, 1e-5))
    self.assertAlmostEqual(history.history[KEY][-1], callback.epsilon)
    self.assertIn("assumed-poisson,shuffled", callback.stop_reason)
    scalars = fixtures.read_scalars(os.path.join(logdir, "privacy"))
    tag = "privacy/epsilon_assumed_poisson_but_shuffled"
    self.assertEqual(sorted(scalars[tag]), [1, 2, 3, 4])
    self.assertAlmostEqual(scalars[tag][4], callback.epsilon, places=5)
    # At the budget, a new fit is refused before any step.
    with self.assertRaisesRegex(ValueError, "allows no further"):
      model.fit(self.batches(), epochs=1, verbose=0, callbacks=[callback])
    with self.assertRaisesRegex(ValueError, "batch_size"):
      keras_fit.PrivacyCallback(num_examples=8, target_epsilon=1.0)

  def test_logical_batch_size_is_checked(self):
    callback = keras_fit.PrivacyCallback(num_examples=8, batch_size=6)
    with self.assertRaisesRegex(ValueError, "held 4 examples"):
      self.model(k=2).fit(self.batches(), epochs=1, verbose=0,
                          callbacks=[callback])

  def test_no_logical_batch_spans_two_epochs(self):
    callback = keras_fit.PrivacyCallback()
    # 8 examples in batches of 2: 4 per epoch, not a multiple of 3.
    with self.assertRaisesRegex(ValueError, "not a multiple"):
      self.model(k=3).fit(self.batches(), epochs=2, verbose=0,
                          callbacks=[callback])
    with self.assertRaisesRegex(ValueError, "unknown"):
      self.model().fit(self.batches().filter(lambda a, b: True), epochs=1,
                       verbose=0, callbacks=[callback])
    model = self.model(k=2)
    model.fit(self.batches(), epochs=3, verbose=0, callbacks=[callback])
    self.assertEqual(int(model.optimizer.iterations.numpy()), 6)
    self.assertEqual(model.optimizer.pending_examples(), 0.0)

  def test_a_leftover_partial_batch_is_discarded_not_carried(self):
    callback = keras_fit.PrivacyCallback()
    model = self.model(k=2)
    # steps_per_epoch=4 is a multiple, but the data runs out after 3
    # batches: the half-filled logical batch is discarded, never released.
    with self.assertRaisesRegex(RuntimeError, "left incomplete"):
      model.fit(self.batches().take(3), steps_per_epoch=4, epochs=1,
                verbose=0, callbacks=[callback])
    opt = model.optimizer
    self.assertEqual(int(opt.iterations.numpy()), 1)
    self.assertEqual(int(opt.counters["noise_draws"].numpy()), 1)
    self.assertEqual(opt.pending_examples(), 0.0)
    model.fit(self.batches(), steps_per_epoch=2, epochs=1, verbose=0,
              callbacks=[callback])
    self.assertEqual(int(opt.iterations.numpy()), 2)

  def test_dpsat_validation_sees_unperturbed_weights(self):
    model = self.model(k=2, rho=0.5)
    opt = model.optimizer
    seen = []

    class Record(tf.keras.callbacks.Callback):

      def on_test_begin(self, logs=None):
        seen.append((bool(opt.counters["perturbed"].numpy()), all(
            np.array_equal(v.numpy(), opt.get_slot(v, "dp_sat_backup"))
            for v in model.trainable_variables)))

    callback = keras_fit.PrivacyCallback()
    val = tf.data.Dataset.from_tensor_slices((self.x, self.y)).batch(8)
    model.fit(self.batches(), epochs=2, verbose=0, validation_data=val,
              callbacks=[callback, Record()])
    # Both validations ran at the backup (the unperturbed weights).
    self.assertEqual(seen, [(False, True), (False, True)])
    self.assertFalse(bool(opt.counters["perturbed"].numpy()))
    # Training went on from the DP-SAT point: the same run without
    # validation ends at the same weights.
    plain = self.model(k=2, rho=0.5)
    plain.fit(self.batches(), epochs=2, verbose=0, callbacks=[callback])
    for a, b in zip(model.get_weights(), plain.get_weights()):
      np.testing.assert_array_equal(a, b)
    # A second fit re-perturbs from the stored step and restores again.
    model.fit(self.batches(), epochs=1, verbose=0, callbacks=[callback])
    self.assertEqual(int(opt.iterations.numpy()), 6)
    self.assertFalse(bool(opt.counters["perturbed"].numpy()))
    for v in model.trainable_variables:
      np.testing.assert_array_equal(v.numpy(),
                                    opt.get_slot(v, "dp_sat_backup"))

  def test_needs_a_dp_optimizer(self):
    model = small_model()
    model.compile(optimizer="sgd", loss=KERAS_LOSS)
    with self.assertRaisesRegex(TypeError, "dp_keras"):
      model.fit(self.batches(), epochs=1, verbose=0,
                callbacks=[keras_fit.PrivacyCallback()])

  def test_readme_example(self):
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme, encoding="utf-8") as f:
      match = re.search(r"<!-- readme-example: dp-keras -->\n```python\n"
                        r"(.*?)\n```", f.read(), re.S)
    self.assertIsNotNone(match, "the README's DP-Keras example is gone")
    out = io.StringIO()
    scope = {"__name__": "readme_example"}
    with contextlib.redirect_stdout(out):
      exec(compile(match.group(1), "README.md", "exec"), scope)  # pylint: disable=exec-used
    privacy, opt = scope["privacy"], scope["opt"]
    # 64 examples / 16 per logical batch x 3 epochs = 12 steps, unless the
    # budget stopped it first; either way within the target.
    steps = int(opt.iterations.numpy())
    self.assertGreater(steps, 0)
    self.assertLessEqual(steps, 12)
    self.assertLessEqual(privacy.epsilon, 8.0)
    self.assertAlmostEqual(privacy.epsilon, accounting.epsilon(
        64, 16, 1.1, steps, 1e-5))
    self.assertIn(f"{KEY} {privacy.epsilon}", out.getvalue())
    self.assertFalse(bool(opt.counters["perturbed"].numpy()))


if __name__ == "__main__":
  absltest.main()
