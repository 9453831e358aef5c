"""MirroredStrategy: R replicas give the single-device DP result.

TF-Privacy's optimizers under MirroredStrategy scale the update by R and the
noise by more; here the per-replica clipped sums are all-reduced and noise
is added once, so R = 1, 2, 4 agree.
"""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf

from prifa_tf.optim import gradient_engine
from prifa_tf.training import losses
from tests import fixtures

fixtures.use_logical_cpus(4)
LOSS = losses.softmax_cross_entropy


def make_engine(replicas, sigma, views=1, per_example="loop"):
  strategy = fixtures.mirrored(replicas) if replicas > 1 else \
      tf.distribute.get_strategy()
  with strategy.scope():
    model = fixtures.tiny_model(size=8, seed=2)
    return gradient_engine.GradientEngine(
        model, LOSS, views=views, private=True, l2_norm_clip=0.3,
        noise_multiplier=sigma, strategy=per_example, distribution=strategy)


def logical_gradient(engine, seed, b=4, batch=8):
  views = engine.views
  rng = np.random.default_rng(0)
  x = rng.normal(size=(batch * views, 8, 8, 3)).astype(np.float32)
  y = np.repeat(rng.integers(0, 10, batch), views).astype(np.int32)
  for start in range(0, batch, b):
    rows = np.arange(start * views, (start + b) * views)
    engine.accumulate(tf.constant(x[rows]), tf.constant(y[rows]),
                      tf.ones([b]))
  grads, stats = engine.finalize(batch, seed=seed)
  return [g.numpy() for g in grads], stats


class DistributedEngineTest(parameterized.TestCase):

  @parameterized.parameters((2, "loop"), (4, "loop"), (2, "per_layer"))
  def test_sigma_zero_equals_single_device(self, replicas, per_example):
    # The reference is single-device *loop*: strategies agree across R too.
    ref, ref_stats = logical_gradient(make_engine(1, 0.0, views=2), (0, 0))
    engine = make_engine(replicas, 0.0, views=2, per_example=per_example)
    got, stats = logical_gradient(engine, (0, 0))
    self.assertEqual(engine.replicas, replicas)
    for a, b in zip(got, ref):
      np.testing.assert_allclose(a, b, atol=1e-6)
    for k in ("examples", "loss", "clipped_fraction", "grad_norm_max"):
      self.assertAlmostEqual(stats[k], ref_stats[k], places=4)

  @parameterized.parameters(2, 4)
  def test_noise_not_inflated_by_replicas(self, replicas):
    sigma, clip, batch = 4.0, 0.3, 8
    clean, _ = logical_gradient(make_engine(replicas, 0.0), (0, 0))
    engine = make_engine(replicas, sigma)
    samples = []
    for draw in range(6):
      noisy, _ = logical_gradient(engine, (7, draw))
      self.assertEqual(int(engine.noise_draws.numpy()), draw + 1)
      samples.append(np.concatenate([(n - c).ravel()
                                     for n, c in zip(noisy, clean)]))
    std = float(np.std(np.concatenate(samples)))
    self.assertAlmostEqual(std / (sigma * clip / batch), 1.0, delta=0.02)
    # Same seed, same noise, whatever R.
    single, _ = logical_gradient(make_engine(1, sigma), (7, 0))
    multi, _ = logical_gradient(engine, (7, 0))
    for a, b in zip(single, multi):
      np.testing.assert_allclose(a, b, atol=1e-5)

  def test_batch_not_divisible_by_replicas_is_padded(self):
    # 3 examples per physical batch on 4 replicas (the README's 125 on 4):
    # padded with weight-0 examples, so the result is the single-device one.
    ref, ref_stats = logical_gradient(make_engine(1, 0.0, views=2), (0, 0),
                                      b=3, batch=6)
    got, stats = logical_gradient(make_engine(4, 0.0, views=2), (0, 0),
                                  b=3, batch=6)
    for a, b in zip(got, ref):
      np.testing.assert_allclose(a, b, atol=1e-6)
    self.assertEqual(stats["examples"], 6.0)
    self.assertAlmostEqual(stats["loss"], ref_stats["loss"], places=5)


class DistributedTrainerTest(absltest.TestCase):
  """The whole recipe (DP-SAT, momentum, EMA, AM) under R = 1, 2, 4.

  Compared in float64: replicas sum the per-example clipped gradients in
  another order than one device does, which float32 rounds differently
  (~1e-7 per step). The recipe's non-smooth points (a ReLU whose input
  rounding moves across zero) can amplify such a difference: in float32
  this very run differs by up to 3e-4 after 3 steps at R = 4, and by 1e-7
  at R = 2. In float64 the same runs agree to 2e-16, so the difference is
  rounding, not the replica path. The tolerance, 1e-10, is that rounding
  (float64's 1.1e-16) times the amplification float32 showed (3e-4 / 6e-8
  = 5e3, giving 6e-13), with a margin: a bug in the replica path (a
  replica's sum counted twice, noise drawn per replica, the perturbation
  applied per replica) moves weights by 1e-3 or more.
  """

  def test_dpsat_ema_momentum_match_single_device_float64(self):
    fixtures.quiet_tf()
    cfg = dict(steps=3, sharpness_rho=0.05, momentum=0.9, ema_decay=0.9,
               eval_weights="ema", augmult=2, noise_multiplier=1.0)
    weights, results = {}, {}
    floatx = tf.keras.backend.floatx()
    tf.keras.backend.set_floatx("float64")
    try:
      for replicas in (1, 2, 4):
        strategy = fixtures.mirrored(replicas) if replicas > 1 else None
        trainer = fixtures.make_trainer(self.create_tempdir().full_path,
                                        distribution=strategy, **cfg)
        results[replicas] = trainer.run()
        weights[replicas] = fixtures.final_weights(trainer)
        self.assertEqual(weights[replicas][0].dtype, np.float64)
        ema = [v.numpy() for v in trainer.averages.ema]
        if replicas > 1:  # Replicas never diverge.
          for v in trainer.model.trainable_variables + trainer.averages.ema:
            copies = [c.numpy() for c in v.values]
            for c in copies[1:]:
              np.testing.assert_array_equal(c, copies[0])
        weights[replicas] += ema
    finally:
      tf.keras.backend.set_floatx(floatx)
    for replicas in (2, 4):
      for a, b in zip(weights[replicas], weights[1]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)
      self.assertEqual(results[replicas]["privacy"]["epsilon"],
                       results[1]["privacy"]["epsilon"])
      self.assertAlmostEqual(results[replicas]["metrics"]["test_accuracy"],
                             results[1]["metrics"]["test_accuracy"])


if __name__ == "__main__":
  absltest.main()
