"""The white-box step audit passes the real engine and fails broken ones.

Setting: the paper's CIFAR-10 ε=8 recipe, σ=3, q=4096/50000, T=2500, whose
accountant (RDP) ε is the claim. Each engine below is the real
``GradientEngine`` on a real model and per-example strategy; the broken
ones are built the way such bugs arise:

* clipping at 1.2·C while the noise is calibrated for C;
* noise at 0.8× σC (a scaling bug);
* a layer tied 4 times whose per-example norm adds the calls' squared norms
  while their gradients add (the old ``per_layer`` bug with shared layers).
"""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.attacks import step_audit
from prifa_tf.data import augment
from prifa_tf.optim import gradient_engine
from prifa_tf.privacy import accounting
from prifa_tf.privacy import noise as noise_lib
from prifa_tf.training import losses
from tests import fixtures

SIGMA, C, Q, T, DELTA = 3.0, 1.0, 4096 / 50_000, 2500, 1e-5
CLAIMED = accounting.epsilon(50_000, 4096, SIGMA, T, DELTA)


def wrn_batch(trainer, b=6):
  """A physical batch of the run (K views each) with slot b-1 empty."""
  train = trainer.data.train
  x = trainer.prepare_views(train.images[:b]).numpy()
  y = augment.repeat_labels(tf.constant(train.labels[:b]),
                            trainer.cfg.augmult).numpy()
  w = np.ones(b, np.float32)
  w[-1] = 0.0
  return x, y, w, b - 1


def input_canaries(shape, k, labels=(0, 3, 7), scale=30.0):
  rng = np.random.default_rng(0)
  return [(np.repeat(scale * rng.normal(size=(1,) + shape).astype(np.float32),
                     k, axis=0), np.full(k, c, np.int32)) for c in labels]


def run_audit(engine, x, y, w, slot, canaries, sigma_claimed=SIGMA,
              trials=1500):
  return step_audit.audit_step(
      engine, x, y, w, slot, canaries, claimed_epsilon=CLAIMED,
      l2_norm_clip=C, noise_multiplier=sigma_claimed, sampling_rate=Q,
      steps=T, delta=DELTA, trials=trials, seed=1)


class TiedDense(tf.keras.Model):
  """One 8x8 kernel applied 4 times, as 4 equal copies (untied variables)."""

  def __init__(self):
    super().__init__()
    init = tf.keras.initializers.Orthogonal(seed=0)
    self.copies = [tf.keras.layers.Dense(8, kernel_initializer=init,
                                         use_bias=False) for _ in range(4)]
    self.head = tf.keras.layers.Dense(10)

  def call(self, x):
    return self.head(tf.add_n([tf.tanh(layer(x)) for layer in self.copies]))


class TiedBug:
  """The released tied gradient: the copies' clipped sums added, noised once.

  The real engine clips each example by the norm over the four copies'
  gradients, i.e. sqrt(sum of the calls' squared norms): the bug.
  """

  def __init__(self, engine):
    self.engine, self.views = engine, 1

  def reset(self):
    self.engine.reset()

  def accumulate(self, x, y, w):
    self.engine.accumulate(x, y, w)

  def current_sum(self):
    sums = self.engine.current_sum()
    return [sum(sums[:4])] + sums[4:]

  def noised_sum(self, seed):
    tied = [tf.constant(s) for s in self.current_sum()]
    return [g.numpy() for g in noise_lib.add_gaussian_noise(
        tied, C, SIGMA, tf.constant(seed, tf.int64))]


class Broken:
  """The real engine, with its release broken one way (duck-typed).

  * ``unnoised_bias``: the last variable (the head's 10-coordinate bias)
    released with no noise at all (ε = ∞);
  * ``public_seed``: noise keyed to the step only, not the secret;
  * ``same_noise``: one noise draw, repeated at every step.
  Clipping is the real engine's: sensitivity is exactly C.
  """

  def __init__(self, engine, how):
    self.engine, self.how, self.views = engine, how, engine.views

  def reset(self):
    self.engine.reset()

  def accumulate(self, x, y, w):
    self.engine.accumulate(x, y, w)

  def current_sum(self):
    return self.engine.current_sum()

  def noised_sum(self, seed):
    if self.how == "unnoised_bias":
      out = self.engine.noised_sum(seed)
      out[-1] = self.engine.current_sum()[-1]
      return out
    if self.how == "public_seed":
      return self.engine.noised_sum((0, seed[1]))
    return self.engine.noised_sum((0, 0))


class StepAuditTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()

  def wrn_engine(self, clip=C, sigma=SIGMA, strategy="auto"):
    trainer = fixtures.make_trainer(
        self.create_tempdir().full_path, model="wrn_10_1", augmult=2,
        l2_norm_clip=clip, noise_multiplier=sigma, per_example=strategy)
    return trainer.build()

  def test_real_engine_passes_at_the_paper_setting(self):
    trainer = self.wrn_engine()
    self.assertEqual(trainer.engine.strategy_name, "per_layer")
    x, y, w, slot = wrn_batch(trainer)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2))
    self.assertTrue(res.passed, res.summary())
    self.assertAlmostEqual(res.measured_sensitivity, C, delta=1e-4)
    self.assertAlmostEqual(res.noise_ratio, 1.0, delta=0.005)
    self.assertLess(res.epsilon_lower_bound, CLAIMED)
    self.assertGreater(res.epsilon_lower_bound, 0.8 * CLAIMED)  # Sharp.

  def test_the_loop_strategy_passes_too(self):
    trainer = self.wrn_engine(strategy="loop")
    x, y, w, slot = wrn_batch(trainer, b=3)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2, labels=(1,)), trials=600)
    self.assertTrue(res.passed, res.summary())

  def test_secure_noise_passes(self):
    trainer = fixtures.make_trainer(
        self.create_tempdir().full_path, model="wrn_10_1", augmult=2,
        noise_multiplier=SIGMA, secure_noise=True, reproducible=False,
        noise_seed=None).build()
    x, y, w, slot = wrn_batch(trainer, b=3)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2, labels=(1,)), trials=300)
    self.assertTrue(res.passed, res.summary())

  def test_clipping_at_1_2_c_fails(self):
    # Clips at 1.2, noise std still sigma*C = 3 (calibrated for C = 1).
    trainer = self.wrn_engine(clip=1.2 * C, sigma=SIGMA / 1.2)
    x, y, w, slot = wrn_batch(trainer)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2))
    self.assertFalse(res.passed)
    self.assertAlmostEqual(res.measured_sensitivity, 1.2 * C, delta=1e-3)
    self.assertGreater(res.epsilon_lower_bound, CLAIMED, res.summary())
    self.assertTrue(any("sensitivity" in p for p in res.problems))

  def test_noise_at_0_8_fails(self):
    trainer = self.wrn_engine(sigma=0.8 * SIGMA)
    x, y, w, slot = wrn_batch(trainer)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2))
    self.assertFalse(res.passed)
    self.assertAlmostEqual(res.noise_ratio, 0.8, delta=0.005)
    self.assertGreater(res.epsilon_lower_bound, CLAIMED, res.summary())

  def test_too_much_noise_is_flagged_but_not_a_privacy_failure(self):
    # Noise once per replica under 2 replicas would be sqrt(2)x too much.
    trainer = self.wrn_engine(sigma=np.sqrt(2) * SIGMA)
    x, y, w, slot = wrn_batch(trainer, b=3)
    res = run_audit(trainer.engine, x, y, w, slot,
                    input_canaries(x.shape[1:], 2, labels=(1,)), trials=300)
    self.assertTrue(res.misimplemented)
    self.assertFalse(res.passed)
    self.assertLess(res.epsilon_lower_bound, CLAIMED)
    self.assertIn("noise std is 1.41", " ".join(res.problems))

  def test_tied_layer_bug_fails(self):
    model = TiedDense()
    model(tf.zeros([1, 8]))
    for layer in model.copies[1:]:
      layer.kernel.assign(model.copies[0].kernel)
    engine = gradient_engine.GradientEngine(
        model, losses.for_labels(False), views=1, private=True,
        l2_norm_clip=C, noise_multiplier=SIGMA, strategy="loop")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 8)).astype(np.float32)
    y = np.arange(4, dtype=np.int32)
    w = np.array([1, 1, 1, 0], np.float32)
    canaries = [(5 * rng.normal(size=(1, 8)).astype(np.float32),
                 np.array([c], np.int32)) for c in range(10)]
    res = run_audit(TiedBug(engine), x, y, w, 3, canaries, trials=1000)
    self.assertFalse(res.passed)
    self.assertGreater(res.measured_sensitivity, 1.2 * C, res.summary())
    self.assertGreater(res.epsilon_lower_bound, CLAIMED, res.summary())
    # The same model through the real engine, untied, is sound.
    sound = run_audit(engine, x, y, w, 3, canaries, trials=300)
    self.assertAlmostEqual(sound.measured_sensitivity, C, delta=1e-4)

  def test_broken_releases_fail(self):
    trainer = self.wrn_engine()
    x, y, w, slot = wrn_batch(trainer, b=3)
    canaries = input_canaries(x.shape[1:], 2, labels=(1,))
    expected = {"unnoised_bias": "coordinates have a noise std outside",
                "public_seed": "does not depend on the secret",
                "same_noise": "repeats across steps"}
    for how, problem in expected.items():
      res = run_audit(Broken(trainer.engine, how), x, y, w, slot, canaries,
                      trials=400)
      self.assertFalse(res.passed, how)
      self.assertIn(problem, " ".join(res.problems), how)
      self.assertAlmostEqual(res.measured_sensitivity, C, delta=1e-4)
    sound = run_audit(trainer.engine, x, y, w, slot, canaries, trials=400)
    self.assertTrue(sound.passed, sound.summary())
    self.assertEqual(sound.coordinates_out_of_interval, 0)
    self.assertLess(sound.max_correlation_across_steps,
                    sound.correlation_bound)
    self.assertLess(sound.max_correlation_across_secrets,
                    sound.correlation_bound)

  def test_lower_bound_is_the_tight_epsilon_for_exact_parameters(self):
    tight = step_audit.epsilon_of_gaussian_steps(SIGMA, Q, T, DELTA)
    pessimistic = accounting.epsilon(50_000, 4096, SIGMA, T, DELTA, "pld")
    self.assertLess(tight, pessimistic)
    self.assertGreater(tight, pessimistic - 0.5)
    self.assertGreater(step_audit.epsilon_of_gaussian_steps(2.4, Q, T, DELTA),
                       CLAIMED)


if __name__ == "__main__":
  absltest.main()
