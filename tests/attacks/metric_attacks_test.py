"""Metric attacks: scores on hand-made outputs, shadow-fitted thresholds."""

from absl.testing import absltest
import numpy as np

from prifa_tf.attacks import metric_attacks


class MetricAttacksTest(absltest.TestCase):

  def test_scores_by_hand(self):
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    s = metric_attacks.scores(np.log(p), np.array([0, 1]))
    np.testing.assert_allclose(s["correctness"], [1.0, 0.0])
    np.testing.assert_allclose(s["loss"], np.log([0.7, 0.3]))
    np.testing.assert_allclose(s["confidence"], [0.7, 0.3])
    np.testing.assert_allclose(s["entropy"], np.sum(p * np.log(p), axis=1))
    # Song & Mittal's modified entropy of row 0 (label 0):
    mentr0 = -(0.3 * np.log(0.7)) - (0.2 * np.log(0.8) + 0.1 * np.log(0.9))
    self.assertAlmostEqual(s["modified_entropy"][0], -mentr0)

  def test_threshold_from_shadow_applied_to_target(self):
    shadow_in, shadow_out = np.array([3., 4., 5.]), np.array([0., 1., 2.])
    t = metric_attacks.best_threshold(shadow_in, shadow_out)
    self.assertEqual(t, 3.0)
    self.assertEqual(metric_attacks.advantage(shadow_in, shadow_out, t), 1.0)
    # A target whose members do not stand out: no advantage.
    self.assertEqual(metric_attacks.advantage([0., 1.], [0., 1.], t), 0.0)

  def test_attack_on_an_overfit_target(self):
    rng = np.random.default_rng(0)

    def outputs(confident, n=200):
      labels = rng.integers(0, 10, n)
      logits = rng.normal(size=(n, 10))
      logits[np.arange(n), labels] += 6.0 if confident else 0.0
      return logits, labels
    out = metric_attacks.attack(outputs(True), outputs(False),
                                outputs(True), outputs(False))
    self.assertEqual(set(out), set(metric_attacks.METRIC_ATTACKS))
    for name, r in out.items():
      self.assertGreater(r["advantage"], 0.5, name)
    same = metric_attacks.attack(outputs(True), outputs(False),
                                 outputs(False), outputs(False))
    self.assertLess(max(r["advantage"] for r in same.values()), 0.2)


if __name__ == "__main__":
  absltest.main()
