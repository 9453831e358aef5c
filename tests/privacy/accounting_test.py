"""Accounting against dp_accounting and the issue's reference values."""

from absl.testing import absltest
import dp_accounting
import numpy as np
from scipy import stats
from dp_accounting import rdp

from prifa_tf.privacy import accounting


class AccountingTest(absltest.TestCase):

  def test_reference_values(self):
    self.assertAlmostEqual(
        accounting.epsilon(50_000, 4096, 3.0, 2500, 1e-5), 7.10, delta=0.01)
    self.assertAlmostEqual(
        accounting.epsilon(50_000, 4096, 3.0, 2500, 1e-5, "pld"), 6.58,
        delta=0.01)
    self.assertAlmostEqual(
        accounting.epsilon(50_000, 4096, 10.0, 875, 1e-5), 0.99, delta=0.01)

  def test_matches_dp_accounting_directly(self):
    for n, b, sigma, steps in ((60_000, 256, 1.1, 1000), (50_000, 16384, 9.4,
                                                          300)):
      acc = rdp.RdpAccountant()
      acc.compose(dp_accounting.PoissonSampledDpEvent(
          b / n, dp_accounting.GaussianDpEvent(sigma)), steps)
      self.assertAlmostEqual(accounting.epsilon(n, b, sigma, steps, 1e-5),
                             acc.get_epsilon(1e-5), places=9)

  def test_max_steps_is_tight(self):
    for sigma, target in ((3.0, 8.0), (10.0, 1.0), (6.0, 2.0)):
      steps = accounting.max_steps(50_000, 4096, sigma, target, 1e-5)
      self.assertLessEqual(
          accounting.epsilon(50_000, 4096, sigma, steps, 1e-5), target)
      self.assertGreater(
          accounting.epsilon(50_000, 4096, sigma, steps + 1, 1e-5), target)

  def test_min_noise_multiplier(self):
    sigma = accounting.min_noise_multiplier(50_000, 4096, 2500, 7.0984, 1e-5)
    self.assertAlmostEqual(sigma, 3.0, delta=0.01)
    self.assertLessEqual(
        accounting.epsilon(50_000, 4096, sigma, 2500, 1e-5), 7.0984 + 1e-3)

  def test_budget_guard_refuses_overrun(self):
    guard = accounting.BudgetGuard(50_000, 4096, 10.0, 1e-5, 1.0)
    self.assertTrue(guard.allows(guard.max_steps))
    self.assertFalse(guard.allows(guard.max_steps + 1))
    self.assertLessEqual(guard.spent(guard.max_steps), 1.0)
    self.assertGreater(guard.spent(guard.max_steps + 1), 1.0)

  def test_zero_steps_and_bad_input(self):
    self.assertEqual(accounting.epsilon(100, 10, 1.0, 0, 1e-5), 0.0)
    with self.assertRaisesRegex(ValueError, "batch_size"):
      accounting.epsilon(100, 200, 1.0, 1, 1e-5)
    with self.assertRaisesRegex(ValueError, "noise_multiplier"):
      accounting.epsilon(100, 10, 0.0, 1, 1e-5)
    with self.assertRaisesRegex(ValueError, "accountant"):
      accounting.epsilon(100, 10, 1.0, 1, 1e-5, "gdp")


  def test_no_amplification_bound_is_the_analytic_gaussian(self):
    # E participations, sensitivity 2C, noise sigma*C: mu = 2 sqrt(E)/sigma
    # GDP, whose exact (eps, delta) curve is Balle & Wang's (2018).
    def analytic_delta(eps, mu):
      return (stats.norm.cdf(-eps / mu + mu / 2)
              - np.exp(eps) * stats.norm.cdf(-eps / mu - mu / 2))
    for sigma, e in ((3.0, 1), (3.0, 40), (1.0, 4)):
      eps = accounting.epsilon_without_amplification(sigma, e, 1e-5, "pld")
      mu = 2 * np.sqrt(e) / sigma
      self.assertAlmostEqual(analytic_delta(eps, mu), 1e-5, delta=2e-6)
      # RDP is an upper bound on the exact curve.
      self.assertGreaterEqual(
          accounting.epsilon_without_amplification(sigma, e, 1e-5, "rdp"),
          eps - 1e-6)
    self.assertEqual(accounting.epsilon_without_amplification(3.0, 0, 1e-5),
                     0.0)
    # Without amplification the bound is far above Poisson's at the
    # paper's eps=8 recipe: sampling is what the Poisson eps rests on.
    poisson = accounting.epsilon(50_000, 4096, 3.0, 2500, 1e-5)
    epochs = -(-2500 // (50_000 // 4096))
    self.assertGreater(
        accounting.epsilon_without_amplification(3.0, epochs, 1e-5),
        5 * poisson)


if __name__ == "__main__":
  absltest.main()
