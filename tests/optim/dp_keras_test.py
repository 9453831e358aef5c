"""The DP-Keras optimizers: TF-Privacy's interface, the toolkit's engine.

* They are TF-Privacy vectorized optimizers (isinstance) with its
  constructor, and at σ=0 one ``model.fit`` step equals TF-Privacy's own.
* At fixed seeds one logical step (accumulation, augmentation multiplicity,
  noise) equals the Trainer's update (GradientEngine.finalize, then the
  same update rule) to 1e-6, for SGD, SGD with momentum and Adam, DP-SGD and
  DP-SAT.
* Noise is drawn once per logical batch, with std σC/B (not √k times that).
"""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized as tfp_vec  # noqa: E501 (import)

from prifa_tf.optim import dp_keras
from prifa_tf.optim import gradient_engine
from prifa_tf.optim import optimizers
from prifa_tf.optim import sharpness
from prifa_tf.training import keras_fit
from prifa_tf.training import losses
from tests import fixtures

LOSS = losses.softmax_cross_entropy
KERAS_LOSS = tf.keras.losses.SparseCategoricalCrossentropy(
    from_logits=True, reduction=tf.keras.losses.Reduction.NONE)
CLIP, SEED = 0.5, 11


def data(examples=8, views=1, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(examples * views, 8, 8, 3)).astype(np.float32)
  y = np.repeat(rng.integers(0, 10, examples), views).astype(np.int32)
  return x, y


def fit(opt, x, y, rows_per_batch, epochs=1, callbacks=(), model=None):
  model = model or fixtures.tiny_model(size=8, seed=1)
  model.compile(optimizer=opt, loss=KERAS_LOSS)
  ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(rows_per_batch,
                                                        drop_remainder=True)
  model.fit(ds, epochs=epochs, verbose=0, shuffle=False,
            callbacks=list(callbacks))
  return model


def base_optimizer(kind, lr):
  """The Trainer's update rule for ``kind`` (what GradientEngine feeds)."""
  if kind == "adam":
    return optimizers.make_optimizer("adam", lr)
  return optimizers.make_optimizer(
      "sgd", lr, momentum=0.9 if kind == "momentum" else 0.0)


def engine_steps(x, y, views, physical, steps, sigma, kind, lr, rho=0.0):
  """The Trainer's path: engine accumulate/finalize, then the optimizer;
  DP-SAT by WeightPerturbation with the previous private gradient."""
  model = fixtures.tiny_model(size=8, seed=1)
  engine = gradient_engine.GradientEngine(
      model, LOSS, views=views, private=True, l2_norm_clip=CLIP,
      noise_multiplier=sigma, strategy="vectorized")
  opt = base_optimizer(kind, lr)
  perturb = sharpness.WeightPerturbation(model.trainable_variables)
  examples = len(y) // views // steps
  prev = None
  for t in range(steps):
    if rho and prev is not None:
      perturb.perturb(prev, rho)
    for start in range(t * examples, (t + 1) * examples, physical):
      rows = np.arange(start * views, (start + physical) * views)
      engine.accumulate(tf.constant(x[rows]), tf.constant(y[rows]),
                        tf.ones([physical]))
    grads, _ = engine.finalize(examples, seed=(SEED, t))
    perturb.restore()
    opt.apply_gradients(zip(grads, model.trainable_variables))
    prev = grads
  return [v.numpy() for v in model.trainable_variables]


OURS = {("sgd", False): dp_keras.DPSGDKerasSGDOptimizer,
        ("momentum", False): dp_keras.DPSGDKerasSGDOptimizer,
        ("adam", False): dp_keras.DPSGDKerasAdamOptimizer,
        ("sgd", True): dp_keras.DPSATKerasSGDOptimizer,
        ("momentum", True): dp_keras.DPSATKerasSGDOptimizer,
        ("adam", True): dp_keras.DPSATKerasAdamOptimizer}


def ours(kind, sat, sigma, lr, k=1, views=1):
  kw = dict(gradient_accumulation_steps=k, augmult=views, noise_seed=SEED,
            learning_rate=lr)
  if kind == "momentum":
    kw["momentum"] = 0.9
  if sat:
    kw["rho"] = 0.05
  return OURS[(kind, sat)](CLIP, sigma, None, **kw)


class DPKerasTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_tf_privacy_interface(self):
    opt = dp_keras.DPSGDKerasSGDOptimizer(1.0, 1.1, None, learning_rate=0.1)
    self.assertIsInstance(opt, tfp_vec.VectorizedDPKerasSGDOptimizer)
    self.assertIsInstance(dp_keras.DPSATKerasAdamOptimizer(
        1.0, 1.1, rho=0.1), tfp_vec.VectorizedDPKerasAdamOptimizer)
    self.assertIsInstance(opt, tf.keras.optimizers.legacy.SGD)
    config = opt.get_config()
    self.assertEqual(config["l2_norm_clip"], 1.0)
    self.assertEqual(config["gradient_accumulation_steps"], 1)
    self.assertNotIn("noise_seed", config)  # The seed is a secret.
    again = dp_keras.DPSGDKerasSGDOptimizer.from_config(config)
    self.assertEqual(again.get_config(), config)
    dp_keras.DPSGDKerasSGDOptimizer(1.0, 1.1, None,
                                    unconnected_gradients_to_zero=False)
    self.assertNotEqual(opt.noise_seed, dp_keras.DPSGDKerasSGDOptimizer(
        1.0, 1.1).noise_seed)  # From OS entropy by default.
    with self.assertRaisesRegex(ValueError, "rho > 0"):
      dp_keras.DPSATKerasSGDOptimizer(1.0, 1.0)
    with self.assertRaisesRegex(ValueError, "DPSAT class"):
      dp_keras.DPSGDKerasSGDOptimizer(1.0, 1.0, rho=0.1)
    with self.assertRaisesRegex(ValueError, "not both"):
      dp_keras.DPSGDKerasSGDOptimizer(1.0, 1.0, 4, augmult=2)

  def test_sigma_zero_equals_tf_privacy_through_fit(self):
    x, y = data()
    lr = 0.7
    theirs = tfp_vec.VectorizedDPKerasSGDOptimizer(
        l2_norm_clip=CLIP, noise_multiplier=0.0, num_microbatches=None,
        learning_rate=lr)
    a = fit(theirs, x, y, 8)
    b = fit(ours("sgd", False, 0.0, lr), x, y, 8)
    initial = fixtures.tiny_model(size=8, seed=1).get_weights()
    moved = 0.0
    for u, v, w in zip(a.get_weights(), b.get_weights(), initial):
      np.testing.assert_allclose(u, v, atol=1e-5)
      moved += float(np.abs(u - w).sum())
    self.assertGreater(moved, 1e-3)

  # Each optimizer and DP-SAT, with momentum through DP-SAT (the
  # perturbation reads the previous private gradient whatever the
  # optimizer, so SAT with Adam adds nothing that these do not cover).
  @parameterized.named_parameters(
      ("sgd", "sgd", False), ("adam", "adam", False),
      ("sat_sgd", "sgd", True), ("sat_momentum", "momentum", True))
  def test_logical_steps_equal_the_trainer_update(self, kind, sat):
    # Two logical steps of 4 examples x 2 views, each accumulated from two
    # physical batches of 2 examples, sigma = 1: noise, accumulation and
    # augmentation multiplicity, and DP-SAT's perturbation at step 2.
    # Adam moves every weight by about lr per step; at lr = 0.01 the
    # legacy (ours) and new (the Trainer's) Keras Adam kernels' rounding
    # differences stay far below 1e-6 (at 0.05 they reach 8e-7).
    views, physical, steps, sigma = 2, 2, 2, 1.0
    lr = 0.01 if kind == "adam" else 0.05
    x, y = data(examples=8, views=views)
    ref = engine_steps(x, y, views, physical, steps, sigma, kind, lr,
                       rho=0.05 if sat else 0.0)
    opt = ours(kind, sat, sigma, lr, k=2, views=views)
    callbacks = [keras_fit.PrivacyCallback()] if sat else []
    model = fit(opt, x, y, physical * views, callbacks=callbacks)
    self.assertEqual(int(opt.iterations.numpy()), steps)
    self.assertEqual(int(opt.counters["noise_draws"].numpy()), steps)
    worst = max(float(np.abs(a - b).max())
                for a, b in zip(model.get_weights(), ref))
    initial = fixtures.tiny_model(size=8, seed=1).get_weights()
    moved = max(float(np.abs(a - b).max()) for a, b in zip(ref, initial))
    self.assertGreater(moved, 1e-3)  # Both took real steps.
    print(f"one logical step vs the Trainer's update, {kind} sat={sat}: "
          f"max |diff| {worst:.2e}")
    self.assertLess(worst, 1e-6, f"{kind} sat={sat}: max |diff| {worst}")

  def test_noise_once_per_logical_batch(self):
    # k = 4 accumulated physical batches of 2: noise std sigma C / B with
    # B = 8 (TF-Privacy's accumulation would give 2x that), one draw.
    x, y = data()
    sigma, lr = 2.0, 1.0
    clean = fit(ours("sgd", False, 0.0, lr, k=4), x, y, 2).get_weights()
    opt = ours("sgd", False, sigma, lr, k=4)
    noisy = fit(opt, x, y, 2).get_weights()
    delta = np.concatenate([(a - b).ravel() for a, b in zip(noisy, clean)])
    self.assertEqual(int(opt.counters["noise_draws"].numpy()), 1)
    self.assertEqual(float(opt.counters["last_batch"].numpy()), 8.0)
    ratio = float(np.std(delta)) / (sigma * CLIP / 8 * lr)
    self.assertAlmostEqual(ratio, 1.0, delta=0.03)

  def test_dpsat_needs_the_callback_and_leaves_weights_restored(self):
    x, y = data()
    with self.assertRaisesRegex(ValueError, "PrivacyCallback"):
      fit(ours("sgd", True, 1.0, 0.1, k=2), x, y, 2)
    opt = ours("sgd", True, 1.0, 0.1, k=2)
    model = fit(opt, x, y, 2, epochs=2, callbacks=[keras_fit.PrivacyCallback()])
    self.assertEqual(int(opt.iterations.numpy()), 4)
    self.assertFalse(bool(opt.counters["perturbed"].numpy()))
    # The final weights are the backup (the unperturbed point), exactly.
    for v in model.trainable_variables:
      np.testing.assert_array_equal(
          v.numpy(), opt.get_slot(v, "dp_sat_backup").numpy())


if __name__ == "__main__":
  absltest.main()
