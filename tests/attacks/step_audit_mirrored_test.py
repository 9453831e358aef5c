"""The step audit through MirroredStrategy: 2 replicas, the real Trainer.

The engine all-reduces the replicas' clipped sums and noises once; the audit
measures exactly that release. Noise added once per replica (TF-Privacy's
behaviour) would show as noise off by sqrt(2), which the audit flags
(step_audit_test.test_too_much_noise_is_flagged_but_not_a_privacy_failure).
"""

from absl.testing import absltest

from prifa_tf.attacks import step_audit
from prifa_tf.privacy import accounting
from tests import fixtures
from tests.attacks import step_audit_test as base

fixtures.use_logical_cpus(2)


class StepAuditMirroredTest(absltest.TestCase):

  def test_two_replicas_pass(self):
    fixtures.quiet_tf()
    trainer = fixtures.make_trainer(
        self.create_tempdir().full_path, model="wrn_10_1", augmult=2,
        noise_multiplier=base.SIGMA, distribution=fixtures.mirrored(2),
        physical_batch_size=4).build()
    self.assertEqual(trainer.engine.replicas, 2)
    x, y, w, slot = base.wrn_batch(trainer, b=4)
    res = step_audit.audit_step(
        trainer.engine, x, y, w, slot,
        base.input_canaries(x.shape[1:], 2, labels=(1, 4)),
        claimed_epsilon=accounting.epsilon(50_000, 4096, base.SIGMA, base.T,
                                           base.DELTA),
        l2_norm_clip=base.C, noise_multiplier=base.SIGMA,
        sampling_rate=base.Q, steps=base.T, delta=base.DELTA, trials=300,
        seed=2)
    self.assertTrue(res.passed, res.summary())
    self.assertAlmostEqual(res.measured_sensitivity, base.C, delta=1e-4)
    self.assertAlmostEqual(res.noise_ratio, 1.0, delta=0.01)


if __name__ == "__main__":
  absltest.main()
