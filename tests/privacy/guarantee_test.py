"""The stated basis of an ε: proven for Poisson, assumed for shuffling."""

from absl.testing import absltest

from prifa_tf.privacy import guarantee


class GuaranteeTest(absltest.TestCase):

  def test_poisson_is_proven_and_shuffle_assumed(self):
    p = guarantee.statement("poisson", "secret", 1e-5, 50_000)
    self.assertTrue(p["epsilon_basis"].startswith("proven"))
    self.assertNotIn("epsilon_without_amplification", p)
    self.assertIn("OS entropy", p["randomness"])
    self.assertFalse(p["delta_at_least_1_over_n"])
    s = guarantee.statement("shuffle", "reproducible", 1e-5, 50_000, 42.0)
    self.assertTrue(s["epsilon_basis"].startswith("assumed, not proven"))
    self.assertEqual(s["epsilon_without_amplification"], 42.0)
    self.assertIn("only against someone without", s["randomness"])
    self.assertEqual(guarantee.console_tag("poisson"), "eps[poisson]")
    self.assertIn("shuffled", guarantee.console_tag("shuffle"))
    self.assertNotEqual(guarantee.summary_tag("shuffle"),
                        guarantee.summary_tag("poisson"))

  def test_delta_above_one_over_n_is_flagged(self):
    # The paper's CelebA delta against CelebA's training split.
    self.assertTrue(guarantee.statement("poisson", "secret", 2.02e-5,
                                        162_770)["delta_at_least_1_over_n"])

  def test_bad_input(self):
    with self.assertRaises(ValueError):
      guarantee.console_tag("uniform")
    with self.assertRaises(ValueError):
      guarantee.statement("poisson", "public", 1e-5, 10)


if __name__ == "__main__":
  absltest.main()
