"""TF-Privacy's trained attacks with every fit in one pool of processes.

TF-Privacy's ``_run_trained_attack`` splits the attacker data (logits and
loss of members and non-members) into two folds; on each it grid-searches
a scikit-learn model (``GridSearchCV``, 3-fold, accuracy), refits the best
configuration and scores the other fold; the last fold's model also scores
the examples left out by balancing. Run one attack after another, each grid
search waits for its slowest fit, and the random forest's 72-point grid
(36 valid in scikit-learn 1.3: ``max_features='auto'`` is rejected there,
so those points score NaN and are never chosen) costs nearly all the time.

``run`` keeps that procedure and its data: the same attacker data and
folds (TF-Privacy's own ``create_attacker_data`` after seeding NumPy's
global RNG, as ``mia.run`` does), the same grids (read from TF-Privacy's
attackers, see ``grids``), the same selection rule (highest mean accuracy
over the same three stratified splits, first such point on ties, as
``GridSearchCV``), the same refit, and TF-Privacy's own ROC, advantage and
ε-lower-bound code. It changes how the fits run:

* every fit of every requested attack, fold and split is one job in one
  ``joblib`` pool (``n_jobs`` processes), so no core idles at a grid's end;
* the random forest's grid is scored without fitting each point: for each
  ``min_samples_leaf`` one forest is grown without ``max_depth`` or
  ``min_samples_split`` limits, and each (``max_depth``,
  ``min_samples_split``) point is read off it by stopping every tree's
  descent at the first node of that depth or with fewer samples than that
  (both are per-node stopping rules, so the stopped tree is the tree that
  point would grow; ``truncated_proba`` and its test; with several
  features a stopped node draws no random numbers, so ties between equally
  good splits further on may break differently: the same distribution of
  trees, not the same trees). Only the selection
  uses the shared forests; the chosen point is then fitted as TF-Privacy
  fits it.
* every model gets a seeded ``random_state``, so a run is reproducible at
  any ``n_jobs`` (TF-Privacy's MLP and forest draw from the global RNG,
  which joblib workers do not share).

Deterministic attackers (LR, KNN) return TF-Privacy's scores exactly; the
MLP and the forest differ from it as two of its own runs do (the random
draws differ, and the grid's forests share their bootstrap samples within
a ``min_samples_leaf``). ``benchmarks/attack_suite.py`` measures both
side by side.
"""

import dataclasses
from typing import Dict, List, Optional, Sequence, Tuple

import joblib
import numpy as np
from sklearn import base as sk_base
from sklearn import ensemble
from sklearn import linear_model
from sklearn import metrics
from sklearn import model_selection
from sklearn import neighbors
from sklearn import neural_network
from tensorflow_privacy.privacy.privacy_tests import epsilon_lower_bound as elb
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import data_structures as ds  # noqa: E501 (import)
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import membership_inference_attack as tfp_mia  # noqa: E501 (import)
from tensorflow_privacy.privacy.privacy_tests.membership_inference_attack import models as tfp_models  # noqa: E501 (import)

TRAINED = ("lr", "mlp", "rf", "knn")
_FOLDS = 2  # TF-Privacy's cross_validation_folds.
_CV = 3  # Its GridSearchCV(cv=3).


@dataclasses.dataclass(frozen=True)
class Grid:
  """An attacker's estimator and the grid TF-Privacy searches."""
  estimator: sk_base.BaseEstimator
  param_grid: Dict[str, list]
  seeded: bool  # Draws random numbers (gets a random_state).


def grids() -> Dict[str, Grid]:
  """The estimators and grids of TF-Privacy's four trained attackers.

  ``tests/attacks/pooled_test.py`` checks each against the ``GridSearchCV``
  that TF-Privacy's attacker builds.
  """
  return {
      "lr": Grid(linear_model.LogisticRegression(solver="lbfgs"),
                 {"C": np.logspace(-4, 2, 10)}, False),
      "mlp": Grid(neural_network.MLPClassifier(),
                  {"hidden_layer_sizes": [(64,), (32, 32)],
                   "solver": ["adam"], "alpha": [0.0001, 0.001, 0.01]}, True),
      "rf": Grid(ensemble.RandomForestClassifier(n_estimators=100),
                 {"n_estimators": [100], "max_features": ["auto", "sqrt"],
                  "max_depth": [5, 10, 20, None],
                  "min_samples_split": [2, 5, 10],
                  "min_samples_leaf": [1, 2, 4]}, True),
      "knn": Grid(neighbors.KNeighborsClassifier(),
                  {"n_neighbors": [3, 5, 7]}, False),
  }


def _valid(estimator, params) -> bool:
  """Whether scikit-learn accepts the parameters (invalid: NaN score)."""
  try:
    sk_base.clone(estimator).set_params(**params)._validate_params()  # pylint: disable=protected-access
    return True
  except ValueError:  # InvalidParameterError is a ValueError.
    return False


def _seed(seed: int, *keys: int) -> int:
  return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0])


# --- The random forest's grid, read off shared forests. ---------------------


def _paths(tree, x: np.ndarray) -> np.ndarray:
  """[n, depth + 1] node ids of every row's root-to-leaf path (-1 after)."""
  t = tree.tree_
  x = np.asarray(x, dtype=np.float32)  # Trees split float32 values.
  node = np.zeros(len(x), dtype=np.int64)
  rows = np.arange(len(x))
  out = [node.copy()]
  for _ in range(t.max_depth):
    leaf = t.children_left[node] == -1
    go_left = x[rows, np.maximum(t.feature[node], 0)] <= t.threshold[node]
    node = np.where(leaf, node, np.where(go_left, t.children_left[node],
                                         t.children_right[node]))
    out.append(np.where(leaf, -1, node))
    if leaf.all():
      break
  paths = np.stack(out, axis=1)
  # Once a row reaches its leaf, the rest of its path is -1.
  return np.where(np.cumsum(paths == -1, axis=1) > 0, -1, paths)


def truncated_proba(tree, x: np.ndarray, max_depth: Optional[int],
                    min_samples_split: int) -> np.ndarray:
  """A tree's class probabilities as if grown with these stopping rules.

  A node becomes a leaf when it is at ``max_depth`` or holds fewer than
  ``min_samples_split`` samples; the tree grown without those rules has the
  same nodes above, so stopping each row's descent at the first such node
  gives the smaller tree's prediction (its node values are the class
  weights of the samples in it, as a leaf's would be).
  """
  return _stopped_proba(tree, _paths(tree, x), [(max_depth,
                                                 min_samples_split)])[0]


def _stopped_proba(tree, paths, points):
  t = tree.tree_
  valid = paths >= 0
  safe = np.where(valid, paths, 0)
  is_leaf = (t.children_left[safe] == -1) & valid
  samples = np.where(valid, t.n_node_samples[safe], 0)
  value = t.value[:, 0, :]
  proba = value / np.maximum(value.sum(axis=1, keepdims=True), 1e-300)
  depth = np.arange(paths.shape[1])
  out = []
  for max_depth, min_split in points:
    stop = is_leaf | (valid & (samples < min_split))
    if max_depth is not None:
      stop |= valid & (depth[None, :] >= max_depth)
    first = np.argmax(stop, axis=1)  # A leaf always stops the descent.
    out.append(proba[paths[np.arange(len(paths)), first]])
  return out


def _forest_scores(x_fit, y_fit, x_val, y_val, leaf, points, random_state,
                   sample_weight):
  """Accuracy on the split of every (max_depth, min_samples_split) point."""
  forest = ensemble.RandomForestClassifier(
      n_estimators=100, max_features="sqrt", min_samples_leaf=leaf,
      random_state=random_state, n_jobs=1)
  forest.fit(x_fit, y_fit, sample_weight=sample_weight)
  total = [0.0] * len(points)
  for tree in forest.estimators_:
    for i, p in enumerate(_stopped_proba(tree, _paths(tree, x_val), points)):
      total[i] = total[i] + p
  classes = forest.classes_
  # Unnormalised sums: argmax (first on ties) is the forest's prediction.
  return [float(np.mean(classes[np.argmax(p, axis=1)] == y_val))
          for p in total]


# --- Jobs. ------------------------------------------------------------------


def _fit_score(estimator, params, x_fit, y_fit, x_val, y_val, sample_weight):
  model = sk_base.clone(estimator).set_params(**params)
  fit_kw = {} if sample_weight is None else {"sample_weight": sample_weight}
  model.fit(x_fit, y_fit, **fit_kw)
  return [float(model.score(x_val, y_val))]


def _refit_predict(estimator, params, x_fit, y_fit, sample_weight, x_pred):
  model = sk_base.clone(estimator).set_params(**params)
  fit_kw = {} if sample_weight is None else {"sample_weight": sample_weight}
  model.fit(x_fit, y_fit, **fit_kw)
  return model.predict_proba(x_pred)[:, 1]  # Members have label 1.


def _uses_weights(name: str) -> bool:
  return name in ("lr", "rf")  # As TF-Privacy's attackers.


@dataclasses.dataclass
class _Search:
  """One attack's grid search on one fold."""
  attack: str
  fold: int
  train: np.ndarray  # Indices into the attacker data.
  test: np.ndarray
  points: List[dict]
  scores: np.ndarray  # [points, _CV], NaN = invalid point.


def _search_jobs(search: _Search, grid: Grid, features, labels, weights,
                 seed: int):
  """(job, where its scores go) for every fit of one grid search."""
  x, y = features[search.train], labels[search.train]
  w = None if weights is None else weights[search.train]
  splits = model_selection.StratifiedKFold(_CV).split(x, y)
  attack_key = TRAINED.index(search.attack)
  for c, (fit, val) in enumerate(splits):
    sw = None if w is None or not _uses_weights(search.attack) else w[fit]
    if search.attack == "rf":
      by_leaf = {}
      for i, p in enumerate(search.points):
        if not np.isnan(search.scores[i, c]):
          if p["max_features"] != "sqrt" or p["n_estimators"] != 100:
            raise AssertionError(f"Unexpected forest grid point {p}.")
          by_leaf.setdefault(p["min_samples_leaf"], []).append(i)
      for leaf, idx in by_leaf.items():
        points = [(search.points[i]["max_depth"],
                   search.points[i]["min_samples_split"]) for i in idx]
        yield (joblib.delayed(_forest_scores)(
            x[fit], y[fit], x[val], y[val], leaf, points,
            _seed(seed, attack_key, search.fold, c, leaf), sw),
               [(i, c) for i in idx])
      continue
    for i, p in enumerate(search.points):
      if np.isnan(search.scores[i, c]):
        continue
      params = dict(p)
      if grid.seeded:
        params["random_state"] = _seed(seed, attack_key, search.fold, c, i)
      yield (joblib.delayed(_fit_score)(grid.estimator, params, x[fit],
                                        y[fit], x[val], y[val], sw),
             [(i, c)])


def _best(search: _Search) -> dict:
  """GridSearchCV's choice: highest mean accuracy, first on ties."""
  means = np.average(search.scores, axis=1)
  if np.isnan(means).all():
    raise ValueError(f"Every grid point of {search.attack} failed.")
  means = np.nan_to_num(means, nan=np.nanmin(means) - 1)
  return search.points[int(np.argmax(means))]


def run(attack_input: ds.AttackInputData, attacks: Sequence[str],
        seed: int = 0, balance: bool = True,
        n_jobs: int = -1) -> Dict[str, ds.SingleAttackResult]:
  """Runs the trained attacks; returns TF-Privacy's result per attack.

  Args:
    attack_input: model outputs on members and non-members.
    attacks: names from ``TRAINED``.
    seed: seeds NumPy's global RNG before the attacker data is drawn (as
      ``mia.run`` does before each TF-Privacy attack) and every model.
    balance: balance the attacker's member/non-member sets.
    n_jobs: processes in the pool (-1: every core).

  Raises:
    ValueError: unknown attack, or too few examples for the folds.
  """
  unknown = [a for a in attacks if a not in TRAINED]
  if unknown:
    raise ValueError(f"Not trained attacks: {unknown}; choose from "
                     f"{TRAINED}.")
  if not attacks:
    return {}
  np.random.seed(seed)
  data = tfp_models.create_attacker_data(attack_input, balance=balance)
  features, labels = data.features_all, data.labels_all
  weights = data.sample_weights_all
  indices = data.fold_indices
  folds = list(model_selection.StratifiedKFold(_FOLDS).split(
      features[indices], labels[indices]))
  all_grids = grids()
  searches = []
  for name in attacks:
    grid = all_grids[name]
    points = list(model_selection.ParameterGrid(grid.param_grid))
    valid = np.array([_valid(grid.estimator, p) for p in points])
    for f, (tr, te) in enumerate(folds):
      scores = np.where(valid[:, None], 0.0, np.nan) * np.ones((1, _CV))
      searches.append(_Search(name, f, indices[tr], indices[te], points,
                              scores))
  jobs, targets = [], []
  for s in searches:
    for job, where in _search_jobs(s, all_grids[s.attack], features, labels,
                                   weights, seed):
      jobs.append(job)
      targets.append((s, where))
  pool = joblib.Parallel(n_jobs=n_jobs, backend="loky")
  for (s, where), result in zip(targets, pool(jobs)):
    for (i, c), acc in zip(where, result):
      s.scores[i, c] = acc
  # Refit each search's best point on its fold; score the other fold (the
  # last fold's model also scores the examples balancing left out).
  refits = []
  for s in searches:
    grid = all_grids[s.attack]
    params = dict(_best(s))
    if grid.seeded:
      params["random_state"] = _seed(seed, TRAINED.index(s.attack), s.fold,
                                     _CV)
    predict = s.test
    if s.fold == _FOLDS - 1 and data.left_out_indices.size:
      predict = np.concatenate([s.test, data.left_out_indices])
    w = (None if weights is None or not _uses_weights(s.attack)
         else np.squeeze(weights[s.train]))
    refits.append((s, predict, joblib.delayed(_refit_predict)(
        grid.estimator, params, features[s.train], labels[s.train], w,
        features[predict])))
  scores = {a: np.full(len(features), np.nan) for a in attacks}
  for (s, predict, _), p in zip(refits, pool(r[2] for r in refits)):
    scores[s.attack][predict] = p
  return {a: _result(attack_input, data, labels, scores[a], a)
          for a in attacks}


def _result(attack_input, data, labels, scores, name):
  """TF-Privacy's SingleAttackResult for the scores, as it builds it."""
  if np.isnan(scores).any():
    raise AssertionError(f"{name}: some examples got no score.")
  fpr, tpr, thresholds = metrics.roc_curve(labels, scores)
  roc = ds.RocCurve(tpr=tpr, fpr=fpr, thresholds=thresholds,
                    test_train_ratio=data.data_size.ntest /
                    data.data_size.ntrain)
  member = labels == 1
  bound = ds.EpsilonLowerBoundValue(bounds=elb.EpsilonLowerBound(
      pos_scores=scores[member], neg_scores=scores[~member],
      alpha=tfp_mia.EPSILON_ALPHA, two_sided_threshold=True,
  ).compute_epsilon_lower_bounds(methods=tfp_mia.EPSILON_METHODS,
                                 k=tfp_mia.EPSILON_K))
  attack_type = {"lr": ds.AttackType.LOGISTIC_REGRESSION,
                 "mlp": ds.AttackType.MULTI_LAYERED_PERCEPTRON,
                 "rf": ds.AttackType.RANDOM_FOREST,
                 "knn": ds.AttackType.K_NEAREST_NEIGHBORS}[name]
  return ds.SingleAttackResult(
      slice_spec=ds.SingleSliceSpec(), data_size=data.data_size,
      attack_type=attack_type, membership_scores_train=scores[member],
      membership_scores_test=scores[~member], roc_curve=roc,
      epsilon_lower_bound_value=bound)


def fit_points(name: str) -> Tuple[int, int]:
  """(fits TF-Privacy's grid search makes, fits ``run`` makes) per fold."""
  grid = grids()[name]
  points = list(model_selection.ParameterGrid(grid.param_grid))
  valid = [p for p in points if _valid(grid.estimator, p)]
  ours = (len({p["min_samples_leaf"] for p in valid}) if name == "rf"
          else len(valid))
  return len(points) * _CV + 1, ours * _CV + 1
