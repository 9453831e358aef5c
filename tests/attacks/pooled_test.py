"""The pooled trained attacks: TF-Privacy's procedure, fits in one pool."""

from unittest import mock

from absl.testing import absltest
import numpy as np
from sklearn import tree as sk_tree
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import models as tfp_models  # noqa: E501 (import)

from prifa_tf.attacks import mia
from prifa_tf.attacks import pooled


def simulated(n, seed=0, classes=10):
  """Members get a larger correct-class margin than non-members."""
  rng = np.random.default_rng(seed)
  def draw(m, margin):
    labels = rng.integers(0, classes, m)
    logits = rng.normal(size=(m, classes))
    logits[np.arange(m), labels] += rng.normal(margin, 1.0, m)
    return logits, labels
  (lt, yt), (le, ye) = draw(n + n // 3, 3.0), draw(n, 2.0)
  return mia.MembershipData(lt, yt, np.arange(len(yt)), le, ye,
                            np.arange(len(ye)))


class _Recorder:
  """Stands in for GridSearchCV: records what TF-Privacy asks for."""
  seen = []

  def __init__(self, estimator, param_grid, cv, n_jobs, verbose):
    del n_jobs, verbose
    _Recorder.seen.append((estimator, param_grid, cv))

  def fit(self, *args, **kwargs):
    del args, kwargs


class PooledTest(absltest.TestCase):

  def test_grids_are_tf_privacys(self):
    _Recorder.seen = []
    x, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    with mock.patch.object(tfp_models.model_selection, "GridSearchCV",
                           _Recorder):
      for name in pooled.TRAINED:
        tfp_models.create_attacker(mia.ATTACKS[name]).train_model(x, y)
    ours = pooled.grids()
    self.assertLen(_Recorder.seen, len(pooled.TRAINED))
    for name, (estimator, grid, cv) in zip(pooled.TRAINED, _Recorder.seen):
      self.assertEqual(cv, 3, name)
      def as_lists(g):
        return {k: [str(x) for x in v] for k, v in g.items()}
      self.assertEqual(as_lists(grid), as_lists(ours[name].param_grid), name)
      self.assertIs(type(estimator), type(ours[name].estimator), name)
      theirs = {k: v for k, v in estimator.get_params().items()
                if k != "n_jobs"}
      mine = {k: v for k, v in ours[name].estimator.get_params().items()
              if k != "n_jobs"}
      self.assertEqual(theirs, mine, name)

  def test_forest_grid_is_half_invalid_and_fits_fewer(self):
    # scikit-learn 1.3 rejects max_features="auto": TF-Privacy scores those
    # 36 points NaN; the 36 valid ones need one forest per leaf size.
    self.assertEqual(pooled.fit_points("rf"), (72 * 3 + 1, 3 * 3 + 1))
    self.assertEqual(pooled.fit_points("mlp"), (6 * 3 + 1, 6 * 3 + 1))

  def _check_truncation(self, num_features, points):
    rng = np.random.default_rng(num_features)
    x = rng.normal(size=(600, num_features))
    y = (x[:, 0] + 0.5 * x[:, -1] ** 2 + rng.normal(0, 0.7, 600)) > 0.3
    x_test = rng.normal(size=(300, num_features))
    full = sk_tree.DecisionTreeClassifier(max_features=None, random_state=0)
    full.fit(x, y)
    self.assertGreater(full.tree_.max_depth, 10)
    for depth, split in points:
      small = sk_tree.DecisionTreeClassifier(
          max_features=None, max_depth=depth, min_samples_split=split,
          random_state=0).fit(x, y)
      np.testing.assert_allclose(
          pooled.truncated_proba(full, x_test, depth, split),
          small.predict_proba(x_test), atol=1e-12,
          err_msg=f"max_depth={depth}, min_samples_split={split}")

  def test_truncated_tree_is_the_tree_grown_with_the_rules(self):
    # One feature: the tree is fully determined by the data (no random
    # feature order), so stopping the full tree must give the small one.
    self._check_truncation(1, ((1, 2), (3, 2), (5, 10), (None, 5),
                               (None, 40), (8, 25), (None, 2), (20, 10)))
    # Several features, depth alone: the same nodes. (A stopped node draws
    # no random numbers, so with several features equally good splits of
    # small nodes further on can break ties differently: the trees are
    # then equally likely, not equal.)
    self._check_truncation(5, ((1, 2), (3, 2), (6, 2)))

  def test_selection_is_grid_search_cvs(self):
    search = pooled._Search(  # pylint: disable=protected-access
        "knn", 0, np.arange(3), np.arange(3), [{"a": 0}, {"a": 1}, {"a": 2}],
        np.array([[0.5, 0.7, 0.6], [np.nan, np.nan, np.nan],
                  [0.7, 0.6, 0.5]]))
    self.assertEqual(pooled._best(search), {"a": 0})  # pylint: disable=protected-access
    search.scores[:] = np.nan
    with self.assertRaisesRegex(ValueError, "Every grid point"):
      pooled._best(search)  # pylint: disable=protected-access

  def test_deterministic_attacks_equal_tf_privacy(self):
    data = simulated(400)
    theirs = mia.run(data, ["lr", "knn"], seed=3)
    ours = mia.run(data, ["lr", "knn"], backend="pooled", seed=3)
    self.assertEqual(list(ours), ["lr", "knn"])
    for name in ("lr", "knn"):
      np.testing.assert_array_equal(ours[name].member_scores,
                                    theirs[name].member_scores)
      np.testing.assert_array_equal(ours[name].nonmember_scores,
                                    theirs[name].nonmember_scores)
      self.assertEqual(ours[name].auc, theirs[name].auc)
      self.assertEqual(ours[name].epsilon_lower_bound,
                       theirs[name].epsilon_lower_bound)

  def test_random_attacks_match_tf_privacy_and_reproduce(self):
    data = simulated(900, seed=1)
    theirs = mia.run(data, ["mlp", "rf"], backend="loky", seed=0)
    ours = mia.run(data, ["threshold", "mlp", "rf"], backend="pooled",
                   seed=0)
    self.assertEqual(list(ours), ["threshold", "mlp", "rf"])
    for name in ("mlp", "rf"):
      self.assertAlmostEqual(ours[name].auc, theirs[name].auc, delta=0.03,
                             msg=name)
      self.assertGreater(ours[name].auc, 0.6, name)
    one_core = pooled.run(data.attack_input(), ["rf", "mlp"], seed=0,
                          n_jobs=1)
    for name in ("mlp", "rf"):
      # Equal but for the order of summing the trees' probabilities.
      np.testing.assert_allclose(one_core[name].membership_scores_train,
                                 ours[name].member_scores, rtol=1e-12)

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "Not trained attacks"):
      pooled.run(simulated(50).attack_input(), ["threshold"])
    with self.assertRaisesRegex(ValueError, "Unknown backend"):
      mia.run(simulated(50), ["lr"], backend="dask")


if __name__ == "__main__":
  absltest.main()
