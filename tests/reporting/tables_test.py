"""Tables: medians over seeds, and the basis of every ε they show."""

from absl.testing import absltest
import pandas as pd

from prifa_tf.reporting import tables


class TablesTest(absltest.TestCase):

  def test_aggregate_is_median_and_carries_the_epsilon_basis(self):
    df = pd.DataFrame({
        "arm": ["a", "a", "a", "b"],
        "epsilon": [7.0, 8.0, 6.0, 3.0],
        "epsilon_basis": [tables.EPSILON_BASES["proven"]] * 3
                         + [tables.EPSILON_BASES["assumed"]]})
    agg = tables.aggregate(df, ["arm"], ["epsilon"])
    self.assertEqual(list(agg["epsilon"]), [7.0, 3.0])
    self.assertEqual(list(agg["seeds"]), [3, 1])
    self.assertEqual(list(agg["epsilon_basis"]),
                     [tables.EPSILON_BASES["proven"],
                      tables.EPSILON_BASES["assumed"]])
    note = tables.epsilon_note(agg)
    self.assertIn("proven (Poisson", note)
    self.assertIn("assumed (shuffled", note)
    self.assertEqual(tables.epsilon_note(agg.drop(columns="epsilon_basis")),
                     "")

  def test_run_row_labels_its_epsilon(self):
    row = tables.flatten({"privacy_budget": {
        "epsilon": 2.0, "epsilon_basis": "assumed, not proven: ..."}})
    self.assertEqual(row["epsilon_basis"], tables.EPSILON_BASES["assumed"])


if __name__ == "__main__":
  absltest.main()
