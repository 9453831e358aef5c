"""The demo's reading of its own table: numbers, direction, seed count."""

from absl.testing import absltest
import pandas as pd

from prifa_tf.paper import demo


def agg(private_auc=0.50, nonprivate_auc=0.55, seeds=1):
  row = {"dataset": "cifar10s", "seeds": seeds}
  return pd.DataFrame([
      {**row, "model": demo.PRIVATE, "epsilon": 7.994,
       "color_accuracy": 0.30, "gray_accuracy": 0.28, "mean_accuracy": 0.29,
       "max_auc": private_auc, "skew_bias": 0.45},
      {**row, "model": demo.NONPRIVATE, "epsilon": float("nan"),
       "color_accuracy": 0.50, "gray_accuracy": 0.48, "mean_accuracy": 0.49,
       "max_auc": nonprivate_auc, "skew_bias": 0.35}])


class ReadingTest(absltest.TestCase):

  def test_states_the_numbers_and_the_expected_direction(self):
    text = demo.reading(agg())
    for quoted in ("ε = 7.99 spent", "30.0% on COLOR", "28.0% on GRAY",
                   "50.0% and 48.0%", "costs 20.0 points",
                   "AUC of 0.500 against the private model and 0.550",
                   "higher against the non-private model, as the paper "
                   "expects", "0.450 private, 0.350 non-private"):
      self.assertIn(quoted, text)

  def test_says_when_the_direction_is_against_the_paper(self):
    text = demo.reading(agg(private_auc=0.56, nonprivate_auc=0.55))
    self.assertIn("not higher against the non-private model, against the "
                  "paper's direction", text)

  def test_claims_nothing_below_six_seeds(self):
    for seeds in (1, 5):
      self.assertIn("none of these differences is established",
                    demo.reading(agg(seeds=seeds)))
    text = demo.reading(agg(seeds=6))
    self.assertNotIn("established (run", text)
    self.assertIn("paired test across seeds establishes", text)

  def test_chance_follows_the_dataset(self):
    self.assertIn("Chance is 10%.", demo.reading(agg()))
    cifar100 = agg().assign(dataset="cifar100s")
    self.assertIn("Chance is 1%.", demo.reading(cifar100))

  def test_a_simulated_epsilon_is_not_called_spent(self):
    label = ("simulated (TAN ×4): the noise of ε=8 at B=1000; not a privacy "
             "guarantee")
    text = demo.reading(agg().assign(epsilon_basis=label))
    self.assertIn("its own ε = 7.99, " + label, text)
    self.assertNotIn("spent", text)

  def test_one_arm_gives_no_reading(self):
    self.assertEqual(demo.reading(agg().iloc[:1]), "")


def paired(dataset="cifar10s", seeds=6):
  """A demo comparisons table (non-private − private), as the demo writes."""
  def row(metric, label, diff, low, high, p):
    return {"label": label, "dataset": dataset, "metric": metric,
            "a": demo.PRIVATE, "b": demo.NONPRIVATE, "seeds": seeds,
            "mean_difference": diff, "ci_low": low, "ci_high": high,
            "wilcoxon_p": p}
  return pd.DataFrame([
      row("mean_accuracy", "accuracy (C+G)/2", 0.08, 0.07, 0.09, 0.031),
      row("max_auc", "max MIA AUC", -0.01, -0.015, -0.005, 0.031),
      row("skew_bias", "bias (Eq. 1)", -0.01, -0.03, 0.01, 0.44)])


class AgainstPaperTest(absltest.TestCase):

  def test_each_direction_gets_its_verdict(self):
    text = demo.against_paper(paired())
    rows = [line for line in text.splitlines()
            if line.startswith("| cifar10s")]
    self.assertEqual(rows, [
        "| cifar10s | accuracy (C+G)/2 | ≈ -21 points | -8.0 points "
        "[-9.0, -7.0] | 0.031 | 6 | reproduced |",
        "| cifar10s | max MIA AUC | -0.03 | +0.010 [+0.005, +0.015] | "
        "0.031 | 6 | not reproduced |",
        "| cifar10s | bias (Eq. 1) | +0.06 | +0.010 [-0.010, +0.030] | "
        "0.440 | 6 | not established |"])

  def test_one_seed_establishes_nothing(self):
    table = paired(seeds=1).assign(ci_low=float("nan"),
                                   ci_high=float("nan"),
                                   wilcoxon_p=float("nan"))
    text = demo.against_paper(table)
    self.assertEqual(text.count("| not established |"), 3)
    self.assertNotIn("[", text.split("|---|")[-1].split("A verdict")[0])

  def test_no_paper_figures_no_section(self):
    self.assertEqual(demo.against_paper(paired(dataset="cifar10")), "")


if __name__ == "__main__":
  absltest.main()
