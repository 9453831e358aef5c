"""Privacy audit: canaries, the lower bound, and a broken engine caught."""

from unittest import mock

from absl.testing import absltest
import numpy as np

from prifa_tf.data import canaries as canaries_lib
from prifa_tf.privacy import audit
from prifa_tf.evaluation import audit_run
from prifa_tf.evaluation import run_evaluation
from prifa_tf.privacy import noise as noise_lib
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import trainer as trainer_lib
from tests import fixtures


class CanaryTest(absltest.TestCase):

  def test_canaries_are_mislabelled_and_independently_inserted(self):
    train = fixtures.synthetic_set(n=50)
    can = canaries_lib.make_canaries(train, 20, seed=1)
    inserted = int(can.included.sum())
    # Independent Bernoulli(1/2) inclusion: over many draws the count is
    # Binomial(m, 1/2), not always m/2 (a permutation would give 10 always).
    counts = [int(canaries_lib.make_canaries(train, 20, seed=s).included.sum())
              for s in range(200)]
    self.assertAlmostEqual(np.mean(counts), 10, delta=0.7)
    self.assertAlmostEqual(np.var(counts), 5, delta=1.5)
    truth = dict(zip(train.ids.tolist(), train.labels.tolist()))
    self.assertTrue(all(truth[int(i)] != label for i, label in zip(can.ids,
                                                           can.labels)))
    out, cset = canaries_lib.insert(train, can)
    self.assertLen(out, 50 - (20 - inserted))  # The left out are removed.
    self.assertEmpty(np.intersect1d(out.ids, can.ids[~can.included]))
    got = dict(zip(out.ids.tolist(), out.labels.tolist()))
    for i, label in zip(can.ids[can.included], can.labels[can.included]):
      self.assertEqual(got[int(i)], label)
    np.testing.assert_array_equal(cset.ids, can.ids)
    np.testing.assert_array_equal(cset.labels, can.labels)
    with self.assertRaisesRegex(ValueError, "canaries <= 50"):
      canaries_lib.make_canaries(train, 51)

  def test_lower_bound(self):
    rng = np.random.default_rng(0)
    same = audit.epsilon_lower_bound(rng.normal(size=200),
                                     rng.normal(size=200))
    self.assertLess(same, 0.3)
    apart = audit.epsilon_lower_bound(np.full(50, 1.0), np.full(50, 0.0))
    # Perfect separation of 50 vs 50 at 95%, Bonferroni over 2 x 3 tests,
    # and TF-Privacy splits each test's alpha between TPR and FPR:
    # Clopper-Pearson gives TPR >= a^(1/50), FPR <= 1 - a^(1/50).
    a = 0.05 / 6 / 2
    self.assertAlmostEqual(apart, np.log(a ** (1 / 50) / (1 - a ** (1 / 50))),
                           delta=0.05)
    reversed_ = audit.epsilon_lower_bound(np.full(50, 0.0), np.full(50, 1.0))
    self.assertGreater(apart, reversed_)

  def test_max_attainable_bound(self):
    # The review's figures: even perfectly separated canaries cannot show
    # more than these, so a claimed ε above them can never fail.
    for m, want in ((10, 0.0), (50, 0.93), (500, 3.14)):
      self.assertAlmostEqual(audit.max_attainable_bound(m), want, delta=0.02)
    self.assertAlmostEqual(audit.max_attainable_bound(100),
                           audit.epsilon_lower_bound(np.arange(50) + 50.0,
                                                     np.arange(50) * 0.5))
    canaries = canaries_lib.make_canaries(fixtures.synthetic_set(n=200), 100,
                                   seed=0)
    scores = np.where(canaries.included, 1.0, -1.0) * (1 + np.arange(100))
    at_8 = audit.audit(scores, canaries, claimed_epsilon=8.0)
    self.assertTrue(at_8.passed)
    self.assertFalse(at_8.can_fail)  # Said, not hidden.
    self.assertFalse(at_8.to_dict()["can_fail"])
    self.assertTrue(audit.audit(scores, canaries, 0.5).can_fail)

  def test_canary_scores(self):
    logits = np.log(np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]))
    np.testing.assert_allclose(audit.canary_scores(logits, np.array([0, 1])),
                               np.log([0.7, 0.1]))


class EngineAuditTest(absltest.TestCase):
  """A noiseless engine that still claims sigma=20 is caught; the real one
  passes. 100 canaries among 160 synthetic images, 30 steps."""

  def _audit(self, broken):
    fixtures.quiet_tf()
    workdir = self.create_tempdir().full_path
    self._last_workdir = workdir
    cfg = fixtures.private_config(steps=30, batch_size=55,
                                  physical_batch_size=16,
                                  noise_multiplier=20.0, learning_rate=2.0)
    data = fixtures.synthetic_run_data(n=160)
    patch = mock.patch.object(noise_lib, "add_gaussian_noise",
                              lambda grads, *a, **k: list(grads))
    if broken:
      with patch:
        return audit_run.run_audit(cfg, workdir, canaries=100, data=data,
                                   log=lambda _: None), workdir
    return audit_run.run_audit(cfg, workdir, canaries=100, data=data,
                               log=lambda _: None), workdir

  def test_broken_engine_fails_loudly(self):
    with self.assertRaisesRegex(audit.AuditFailure, "AUDIT FAILED"):
      self._audit(broken=True)

  def test_real_engine_passes_and_reports_both(self):
    record, workdir = self._audit(broken=False)
    self.assertTrue(record["passed"])
    on_disk = results_lib.read_json(f"{workdir}/audit.json")
    run = results_lib.read_json(f"{workdir}/results.json")
    self.assertEqual(on_disk["claimed_epsilon"], run["privacy"]["epsilon"])
    self.assertLess(on_disk["epsilon_lower_bound"],
                    on_disk["claimed_epsilon"])
    self.assertLen(on_disk["canary_scores"], 100)
    # The bound sits beside the claimed ε in results.json and eval.json.
    self.assertEqual(run["privacy"]["epsilon_lower_bound"],
                     on_disk["epsilon_lower_bound"])
    self.assertTrue(run["audit"]["passed"])
    report = run_evaluation.evaluate_workdir(
        workdir, ("threshold",), data=fixtures.synthetic_run_data(n=160),
        log=lambda _: None)
    self.assertEqual(report["audit"]["epsilon_lower_bound"],
                     on_disk["epsilon_lower_bound"])
    self.assertEqual(report["mia"]["members"], 160 - 100)  # No canaries.

  def test_a_failed_audit_stays_loud_on_resume_and_evaluation(self):
    with self.assertRaises(audit.AuditFailure):
      self._audit(broken=True)
    workdir = self._last_workdir
    run = results_lib.read_json(f"{workdir}/results.json")
    self.assertFalse(run["audit"]["passed"])  # Written before raising.
    with self.assertRaisesRegex(audit.AuditFailure, "AUDIT FAILED"):
      run_evaluation.evaluate_workdir(
          workdir, ("threshold",), data=fixtures.synthetic_run_data(n=160),
          log=lambda _: None)

  def test_unaudited_private_runs_say_so(self):
    fixtures.quiet_tf()
    workdir = self.create_tempdir().full_path
    run = trainer_lib.Trainer(
        fixtures.private_config(steps=1), workdir,
        data=fixtures.synthetic_run_data(n=24), log=lambda _: None).run()
    self.assertIsNone(run["privacy"]["epsilon_lower_bound"])
    self.assertIn("not audited", run["privacy"]["audit"])
    self.assertNotIn("audit", run)  # No null beside the "not audited".


if __name__ == "__main__":
  absltest.main()
