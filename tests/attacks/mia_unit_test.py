"""Attack wrapper details on synthetic outputs (no training)."""

from absl.testing import absltest
import numpy as np
from sklearn import metrics as skm

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

  def test_tpr_at_low_fpr(self):
    # The threshold attack scores every example: its TPR at 1% and 0.1%
    # FPR, recomputed from the released member / non-member scores with
    # scikit-learn, equal the ones reported beside its AUC.
    data = synthetic(n=2000, gap=1.0)
    o = attacks.run(data, ["threshold"])["threshold"]
    labels = np.r_[np.ones(2000), np.zeros(2000)]
    fpr, tpr, _ = skm.roc_curve(labels, np.r_[o.member_scores,
                                              o.nonmember_scores])
    for target, key in ((0.01, "tpr_at_1%_fpr"), (0.001, "tpr_at_0.1%_fpr")):
      want = float(tpr[fpr <= target].max())
      self.assertAlmostEqual(o.row()[key], want, places=9)
      self.assertGreater(o.row()[key], 0.0)
    self.assertAlmostEqual(o.auc, skm.auc(fpr, tpr), places=6)
    self.assertEqual(o.row()["roc_nonmembers"], 2000)
    self.assertLess(o.row()["tpr_at_0.1%_fpr"], o.row()["tpr_at_1%_fpr"])
    self.assertEqual(attacks.mia.tpr_at_fpr([0.0, 0.5, 1.0],
                                            [0.2, 0.7, 1.0], 0.4), 0.2)

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

  def test_balanced_sizes(self):
    d = synthetic()
    unequal = attacks.MembershipData(d.logits_train, d.labels_train,
                                     d.ids_train, d.logits_test[:80],
                                     d.labels_test[:80], d.ids_test[:80])
    self.assertLen(unequal.subsample(None, 0).ids_train, 200)
    both = unequal.subsample(None, seed=0, balanced=True)
    self.assertLen(both.ids_train, 80)
    self.assertLen(both.ids_test, 80)
    self.assertLen(unequal.subsample(50, seed=0, balanced=True).ids_test, 50)
    # Rows stay aligned with their ids.
    i = np.searchsorted(d.ids_train, both.ids_train)
    np.testing.assert_array_equal(both.logits_train, d.logits_train[i])

  def test_attribute_view_of_multilabel_outputs(self):
    rng = np.random.default_rng(0)
    z_train, z_test = rng.normal(size=(30, 3)), rng.normal(size=(20, 3))
    y_train = (rng.random((30, 3)) < 0.5).astype(int)
    y_test = (rng.random((20, 3)) < 0.5).astype(int)
    d = attacks.MembershipData(z_train, y_train, np.arange(30), z_test,
                               y_test, np.arange(20))
    a = d.attribute(2)
    np.testing.assert_array_equal(a.labels_train, y_train[:, 2])
    probs = np.exp(a.logits_train) / np.exp(a.logits_train).sum(-1,
                                                                 keepdims=True)
    np.testing.assert_allclose(probs[:, 1], 1 / (1 + np.exp(-z_train[:, 2])))
    out = attacks.run(a, ["threshold"])
    self.assertLen(out["threshold"].member_scores, 30)
    with self.assertRaisesRegex(ValueError, "multi-label"):
      synthetic().attribute(0)


if __name__ == "__main__":
  absltest.main()
