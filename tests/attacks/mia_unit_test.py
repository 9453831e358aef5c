"""Attack wrapper details on synthetic outputs (no training)."""

from absl.testing import absltest
import numpy as np

from prifa_tf import attacks


def synthetic(n=200, gap=2.0, seed=0):
  rng = np.random.default_rng(seed)
  def side(shift):
    y = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), y] += shift
    return logits, y
  (lt, yt), (ls, ys) = side(gap + 1.0), side(1.0)
  return attacks.MembershipData(lt, yt, np.arange(n) + 1000, ls, ys,
                                np.arange(n))


class MIAUnitTest(absltest.TestCase):

  def test_run_and_headline(self):
    out = attacks.run(synthetic(), ["threshold", "knn"], seed=3)
    self.assertGreater(out["threshold"].auc, 0.8)
    self.assertLen(out["knn"].member_scores, 200)
    self.assertLen(out["knn"].nonmember_scores, 200)
    again = attacks.run(synthetic(), ["knn"], seed=3)
    np.testing.assert_array_equal(again["knn"].member_scores,
                                  out["knn"].member_scores)  # Seeded.
    head = attacks.headline(out)
    self.assertEqual(head["max_auc"], max(o.auc for o in out.values()))
    self.assertNotIn("mlp_auc", head)
    with self.assertRaisesRegex(ValueError, "Unknown attacks"):
      attacks.run(synthetic(), ["lira"])

  def test_no_signal(self):
    out = attacks.run(synthetic(gap=0.0), ["threshold"])
    self.assertAlmostEqual(out["threshold"].auc, 0.5, delta=0.08)

  def test_subsample_and_top_ids(self):
    d = synthetic().subsample(50, seed=1)
    self.assertLen(d.ids_train, 50)
    self.assertLen(d.ids_test, 50)
    np.testing.assert_array_equal(
        attacks.top_risk_ids(np.array([5, 3, 9, 1]),
                             np.array([0.2, 0.9, 0.9, 0.1]), 3), [3, 9, 5])


if __name__ == "__main__":
  absltest.main()
