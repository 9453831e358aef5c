"""Steinke et al.'s one-run audit: the formula, validity and power."""

import math

from absl.testing import absltest
import numpy as np
from scipy import special
from scipy import stats

from prifa_tf.data import canaries as canaries_lib
from prifa_tf.privacy import audit
from prifa_tf.privacy import one_run_audit as one_run
from tests import fixtures


def randomized_response_scores(included, epsilon, rng):
  """Scores of an exactly ε-DP mechanism per canary (randomized response).

  Each canary reports its true inclusion with probability e^ε/(1+e^ε),
  else the opposite; a tiny jitter breaks ties. Nothing can show more than
  ε about it, so a valid audit exceeds ε only with probability about α.
  """
  truthful = rng.random(len(included)) < special.expit(epsilon)
  said = np.where(truthful, included, ~included)
  return said.astype(float) + 1e-3 * rng.random(len(included))


class PValueTest(absltest.TestCase):

  def test_pure_dp_is_the_binomial_tail(self):
    for r, v, eps in ((100, 70, 0.5), (40, 40, 2.0), (10, 3, 0.0)):
      q = math.exp(eps) / (1 + math.exp(eps))
      self.assertAlmostEqual(one_run.p_value(200, r, v, eps, 0.0),
                             stats.binom.sf(v - 1, r, q), places=12)

  def test_delta_term_written_out(self):
    m, r, v, eps, delta = 300, 60, 50, 1.0, 1e-3
    q = math.exp(eps) / (1 + math.exp(eps))
    beta = sum(stats.binom.pmf(k, r, q) for k in range(v, r + 1))
    worst = max(sum(stats.binom.pmf(k, r, q) for k in range(v - i, v)) / i
                for i in range(1, v + 1))
    self.assertAlmostEqual(one_run.p_value(m, r, v, eps, delta),
                           beta + 2 * m * delta * worst, places=10)
    self.assertGreater(one_run.p_value(m, r, v, eps, delta),
                       one_run.p_value(m, r, v, eps, 0.0))

  def test_bound_solves_p_equal_alpha(self):
    # All 100 right: q^100 = α at the bound, so ε = logit(α^(1/100)).
    q = 0.05 ** (1 / 100)
    self.assertAlmostEqual(one_run.epsilon_lower_bound(100, 100, 100, 0.0,
                                                       0.05),
                           math.log(q / (1 - q)), places=4)
    # Chance-level guessing rejects nothing.
    self.assertEqual(one_run.epsilon_lower_bound(100, 100, 50, 0.0, 0.05),
                     0.0)
    eps = one_run.epsilon_lower_bound(500, 200, 150, 1e-5, 0.05)
    self.assertAlmostEqual(one_run.p_value(500, 200, 150, eps, 1e-5), 0.05,
                           places=4)

  def test_bad_counts_refused(self):
    with self.assertRaisesRegex(ValueError, "v <= r <= m"):
      one_run.p_value(10, 20, 5, 1.0, 0.0)

  def test_right_guesses(self):
    included = np.array([True, False, True, False, True])
    scores = np.array([5.0, 1.0, 4.0, 2.0, 0.0])
    # r=4: top 2 (ids 0, 2) called in (both right), bottom 2 (ids 4, 1)
    # called out (id 1 right, id 4 wrong).
    self.assertEqual(one_run.right_guesses(scores, included, 4), 3)
    self.assertEqual(one_run.right_guesses(scores, included, 1), 1)


class ValidityAndPowerTest(absltest.TestCase):

  def test_an_eps_dp_mechanism_rarely_exceeds_eps(self):
    rng = np.random.default_rng(0)
    eps, m, trials = 2.0, 400, 200
    bounds = []
    for _ in range(trials):
      included = rng.random(m) < 0.5
      scores = randomized_response_scores(included, eps, rng)
      bounds.append(one_run.audit(scores, included, 0.0).epsilon_lower_bound)
    bounds = np.array(bounds)
    # At α = 0.05 the false-alarm rate is at most 5% (Bonferroni makes it
    # lower); 200 trials: allow 10 (binomial upper tail at 5% is ~15).
    self.assertLessEqual(int((bounds > eps).sum()), 10)
    # And it has power: most runs show more than half the true ε.
    self.assertGreater(np.median(bounds), 1.0)

  def test_it_can_fail_where_clopper_pearson_cannot(self):
    # 500 perfectly separated canaries: Clopper-Pearson stops below 3.14,
    # the one-run estimator reaches past 3.5 (the split between called-in
    # and called-out is fixed before looking, so not every guess is right),
    # so a broken engine claiming ε=3.3 is caught by the combined audit.
    rng = np.random.default_rng(1)
    canaries = canaries_lib.make_canaries(fixtures.synthetic_set(n=600), 500,
                                          seed=1)
    scores = np.where(canaries.included, 1.0, -1.0) * (1 + rng.random(500))
    result = audit.audit(scores, canaries, claimed_epsilon=3.3, delta=1e-5)
    self.assertLess(result.clopper_pearson_lower_bound, 3.2)
    self.assertGreater(result.one_run_lower_bound, 3.5)
    self.assertEqual(result.epsilon_lower_bound, result.one_run_lower_bound)
    self.assertTrue(result.can_fail)
    self.assertFalse(result.passed)
    with self.assertRaisesRegex(audit.AuditFailure, "one-run"):
      audit.check(result)
    self.assertGreater(one_run.max_attainable_bound(500, 1e-5),
                       audit.max_attainable_bound(500))


if __name__ == "__main__":
  absltest.main()
