"""Noise std sigma*C/B, and exactly one noise draw per logical batch."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf.optim import gradient_engine
from prifa_tf.privacy import noise
from prifa_tf.training import losses
from tests import fixtures


def dense_model(seed=0):
  tf.keras.utils.set_random_seed(seed)
  inp = tf.keras.Input((8, 8, 3))
  out = tf.keras.layers.Dense(10)(tf.keras.layers.Dense(
      128, activation="relu")(tf.keras.layers.Flatten()(inp)))
  return tf.keras.Model(inp, out)


class NoiseTest(parameterized.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()
    rng = np.random.default_rng(0)
    self.x = rng.normal(size=(8, 8, 8, 3)).astype(np.float32)
    self.y = (np.arange(8) % 10).astype(np.int32)

  def _engine(self, model, sigma, clip=1.0, secure=False):
    return gradient_engine.GradientEngine(
        model, losses.softmax_cross_entropy, views=1, private=True,
        l2_norm_clip=clip, noise_multiplier=sigma, secure_noise=secure)

  def _logical(self, engine, b, seed, batch=8):
    for start in range(0, batch, b):
      rows = np.arange(start, min(start + b, batch))
      w = np.ones(b, np.float32)
      if len(rows) < b:  # pad like training.batching does.
        w[len(rows):] = 0
        rows = np.concatenate([rows, np.zeros(b - len(rows), int)])
      engine.accumulate(tf.constant(self.x[rows]), tf.constant(self.y[rows]),
                        tf.constant(w))
    return engine.finalize(batch, seed=seed)[0]

  def test_privatize_sum_noises_once_scales_and_counts(self):
    sums = [tf.ones([3, 2]), tf.fill([4], 2.0)]
    draws = tf.Variable(0, dtype=tf.int64)
    seed = tf.constant([7, 3], tf.int64)
    out = noise.privatize_sum(sums, 1.5, 2.0, 4.0, draws, seed=seed)
    want = noise.add_gaussian_noise(sums, 1.5, 2.0, seed)
    for o, w in zip(out, want):
      np.testing.assert_allclose(o.numpy(), w.numpy() / 4.0, rtol=1e-6)
    self.assertEqual(int(draws.numpy()), 1)
    # Noise drawn outside the graph is added as given.
    given = [np.full([3, 2], 0.5, np.float32), np.zeros([4], np.float32)]
    out = noise.privatize_sum(sums, 1.5, 2.0, 2.0, draws, noise=given)
    np.testing.assert_allclose(out[0].numpy(), 0.75)
    np.testing.assert_allclose(out[1].numpy(), 1.0)
    self.assertEqual(int(draws.numpy()), 2)
    for kwargs in ({}, {"seed": seed, "noise": given}):
      with self.assertRaisesRegex(ValueError, "exactly one of seed and noise"):
        noise.privatize_sum(sums, 1.5, 2.0, 2.0, draws, **kwargs)
    self.assertEqual(int(draws.numpy()), 2)

  def test_noise_std_is_sigma_c_over_b(self):
    model = dense_model()
    sigma, clip, batch = 2.0, 0.7, 8
    clean_engine = self._engine(model, 1e-12, clip)
    clean = self._logical(clean_engine, 8, (0, 0))
    engine = self._engine(model, sigma, clip)
    samples = []
    for draw in range(20):
      noisy = self._logical(engine, 8, (1, draw))
      samples.append(np.concatenate([(n - c).numpy().ravel()
                                     for n, c in zip(noisy, clean)]))
    samples = np.concatenate(samples)  # ~100k coordinates.
    expected = sigma * clip / batch
    self.assertAlmostEqual(float(np.std(samples)) / expected, 1.0, delta=0.02)
    self.assertAlmostEqual(float(np.mean(samples)) / expected, 0.0, delta=0.02)
    self.assertEqual(noise.noise_stddev(clip, sigma), sigma * clip)

  @parameterized.parameters(4, 2, 3, 1)
  def test_noise_once_per_logical_batch_whatever_b(self, b):
    model = dense_model()
    reference = self._logical(self._engine(model, 3.0), 8, (5, 9))
    engine = self._engine(model, 3.0)
    before = int(engine.noise_draws.numpy())
    got = self._logical(engine, b, (5, 9))
    self.assertEqual(int(engine.noise_draws.numpy()) - before, 1)
    # Same clipped sum and the same single draw: identical gradient.
    for g, r in zip(got, reference):
      np.testing.assert_allclose(g.numpy(), r.numpy(), atol=1e-5)

  def test_accumulators_reset_after_finalize(self):
    engine = self._engine(dense_model(), 1.0)
    self._logical(engine, 4, (0, 1))
    for s in engine.sums:
      self.assertEqual(float(tf.reduce_sum(tf.abs(s))), 0.0)
    self.assertEqual(float(engine.examples.numpy()), 0.0)

  def test_secure_noise_is_gaussian_with_std_sigma_c_over_b(self):
    model = dense_model()
    sigma, clip, batch = 2.0, 0.7, 8
    clean = self._logical(self._engine(model, 1e-12, clip), 8, (0, 0))
    engine = self._engine(model, sigma, clip, secure=True)
    samples, first = [], None
    for draw in range(20):
      noisy = self._logical(engine, 8, (1, 0))  # Same seed: ignored.
      z = np.concatenate([(n - c).numpy().ravel()
                          for n, c in zip(noisy, clean)])
      if first is None:
        first = z
      samples.append(z)
    self.assertFalse(np.allclose(first, samples[1]))  # Fresh every time.
    self.assertEqual(int(engine.noise_draws.numpy()), 20)
    samples = np.concatenate(samples) / (sigma * clip / batch)
    self.assertAlmostEqual(float(np.std(samples)), 1.0, delta=0.02)
    self.assertAlmostEqual(float(np.mean(samples)), 0.0, delta=0.02)
    # Gaussian shape: kurtosis 3, tails as N(0, 1).
    self.assertAlmostEqual(float(np.mean(samples ** 4)), 3.0, delta=0.1)
    self.assertAlmostEqual(float(np.mean(np.abs(samples) > 2)),
                           0.0455, delta=0.004)

  def test_secure_generator_statistics(self):
    z = noise.secure_gaussian_noise([(200_000,), (3, 5)], 1.5,
                                    dtype=np.float64)
    self.assertEqual(z[1].shape, (3, 5))
    self.assertAlmostEqual(float(np.std(z[0])), 1.5, delta=0.015)
    self.assertAlmostEqual(float(np.mean(z[0])), 0.0, delta=0.015)
    u = noise._urandom_uniform(100_000)  # pylint: disable=protected-access
    self.assertTrue(((u > 0) & (u < 1)).all())
    self.assertAlmostEqual(float(u.mean()), 0.5, delta=0.01)


if __name__ == "__main__":
  absltest.main()
