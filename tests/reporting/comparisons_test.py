"""Paired comparisons across seeds: figures, and only supported claims."""

from absl.testing import absltest
import numpy as np
import pandas as pd
from scipy import stats

from prifa_tf.reporting import comparisons


def frame(effect, seeds, noise=0.01, seed=0):
  rng = np.random.default_rng(seed)
  rows = []
  for s in range(seeds):
    base = rng.normal(0.6, 0.05)  # Seeds differ; the pairing removes it.
    rows.append({"dataset": "c10", "optimizer": "dpsgd", "seed": s,
                 "acc": base + rng.normal(0, noise)})
    rows.append({"dataset": "c10", "optimizer": "dpsat", "seed": s,
                 "acc": base + effect + rng.normal(0, noise)})
  return pd.DataFrame(rows)


class ComparisonsTest(absltest.TestCase):

  def test_differences_and_tests(self):
    df = frame(0.03, 8)
    t = comparisons.paired(df, "optimizer", "dpsgd", "dpsat", "acc",
                           by=["dataset"])
    row = t.iloc[0]
    a = df[df.optimizer == "dpsgd"].set_index("seed")["acc"]
    b = df[df.optimizer == "dpsat"].set_index("seed")["acc"]
    self.assertEqual(row["seeds"], 8)
    self.assertAlmostEqual(row["mean_difference"], float((b - a).mean()))
    self.assertAlmostEqual(row["wilcoxon_p"],
                           stats.wilcoxon(b - a).pvalue)
    self.assertLess(row["ci_low"], row["mean_difference"])
    self.assertGreater(row["ci_low"], 0)
    self.assertTrue(comparisons.established(row))
    text = comparisons.sentence(row, "test accuracy", "at ε=8")
    self.assertStartsWith(text, "dpsat gives a higher test accuracy than "
                          "dpsgd at ε=8 (mean difference +0.0")
    self.assertIn("Wilcoxon p = 0.008, 8 seeds", text)

  def test_no_claim_without_support(self):
    # No effect: no claim.
    row = comparisons.paired(frame(0.0, 8), "optimizer", "dpsgd", "dpsat",
                             "acc").iloc[0]
    self.assertFalse(comparisons.established(row))
    self.assertIn("no established difference",
                  comparisons.sentence(row, "accuracy"))
    # Five seeds all in favour: Wilcoxon cannot go below 0.0625.
    row = comparisons.paired(frame(0.05, 5), "optimizer", "dpsgd", "dpsat",
                             "acc").iloc[0]
    self.assertAlmostEqual(row["wilcoxon_p"], 0.0625)
    self.assertFalse(comparisons.established(row))
    # One seed: no test, no sentence.
    row = comparisons.paired(frame(0.05, 1), "optimizer", "dpsgd", "dpsat",
                             "acc").iloc[0]
    self.assertTrue(np.isnan(row["wilcoxon_p"]))
    self.assertIsNone(comparisons.sentence(row, "accuracy"))
    # Only seeds both arms ran are paired.
    df = frame(0.03, 6)
    df = df[~((df.optimizer == "dpsat") & (df.seed == 5))]
    self.assertEqual(comparisons.paired(df, "optimizer", "dpsgd", "dpsat",
                                        "acc").iloc[0]["seeds"], 5)

  def test_verdict_judges_the_direction_only_when_established(self):
    up = comparisons.paired(frame(0.03, 8), "optimizer", "dpsgd", "dpsat",
                            "acc").iloc[0]
    self.assertEqual(comparisons.verdict(up, +1), "reproduced")
    self.assertEqual(comparisons.verdict(up, -1), "not reproduced")
    for effect, seeds in ((0.0, 8), (0.05, 5), (0.05, 1)):
      row = comparisons.paired(frame(effect, seeds), "optimizer", "dpsgd",
                               "dpsat", "acc").iloc[0]
      for sign in (+1, -1):
        self.assertEqual(comparisons.verdict(row, sign), "not established")


if __name__ == "__main__":
  absltest.main()
