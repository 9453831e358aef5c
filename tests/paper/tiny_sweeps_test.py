"""The paper's experiments, really trained and evaluated at tiny scale.

Each test runs one experiment's sweep on real CIFAR-10 (CIFAR-10S for the
bias experiments; CelebA on TFDS mock data, which cannot be had here),
builds its tables and figures exactly as the binary does, and checks our
own values against the per-run files they came from:

* a table cell is the median over seeds of the runs' ``eval.json`` values
  (and its std beside it);
* every private run spent at most its target ε;
* each figure draws one series per arm, none of them empty.

Scale: ``configs.TINY`` (240 images, half an epoch, 16x16 CelebA) with the
threshold attack only; the trained attacks run in tests/attacks.
"""

import os
from unittest import mock

from absl.testing import absltest
import numpy as np
import pandas as pd
from sklearn import metrics
import tensorflow_datasets as tfds

from prifa_tf.paper import ablation
from prifa_tf.paper import celeba
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.paper import lira_experiment
from prifa_tf.paper import runs
from prifa_tf.paper import onion
from prifa_tf.paper import privacy_sweeps
from prifa_tf.paper import timeline
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from tests import fixtures


def args(**kw):
  base = dict(scale=configs.TINY, seeds=[0], attacks=["threshold"])
  base.update(kw)
  return exp.Args(**base)


class TinySweepsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()

  def sweep(self, experiment, a, data_fn=None):
    """Runs the sweep; returns (out dir, specs, frame, files, figures)."""
    data_dir = None if data_fn else fixtures.require_tfds()
    out = self.create_tempdir().full_path
    specs = experiment.build(a)
    status = runner.run_sweep(
        out, specs, runs.PaperTask(data_dir=data_dir, data_fn=data_fn),
        log=lambda _: None)
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {s.name: "done" for s in specs})
    df = tables.collect(out, specs, runner.run_dir)
    self.assertLen(df, len(specs))
    figures = []
    real_save = exp.save_figure

    def points(handle):
      line = handle.lines[0] if hasattr(handle, "lines") else handle
      return len(line.get_xdata()) if hasattr(line, "get_xdata") else 1

    def capture(fig, *rest, **kwargs):
      # Per panel: (legend label, points) of every labelled series.
      figures.append([[(label, points(h)) for h, label in
                       zip(*ax.get_legend_handles_labels())]
                      for ax in fig.axes])
      return real_save(fig, *rest, **kwargs)
    with mock.patch.object(exp, "save_figure", capture), \
        fixtures.saved_figures() as saved:
      files = experiment.report(df, a, out)
    for f in files:
      self.assertGreater(os.path.getsize(f), 100, f)
    # Every figure the report saved passes a reviewer's read-back: title,
    # axis labels, no empty panel or series, markers on one-point series,
    # no legend over data; and it is there as PNG and PDF.
    for name in saved:
      if name.endswith(".png"):
        fixtures.assert_figure(self, saved, name, out_dir=out)
    self.check_budgets(out, specs)
    return out, specs, df, files, figures

  def check_budgets(self, out, specs):
    for s in specs:
      run = results_lib.read_json(os.path.join(runner.run_dir(out, s.name),
                                               "results.json"))
      if s.config.private and s.config.target_epsilon is not None:
        self.assertLessEqual(run["privacy"]["epsilon"],
                             s.config.target_epsilon + 1e-9, s.name)
        self.assertGreater(run["privacy"]["epsilon"], 0.0, s.name)

  def eval_values(self, out, specs, key, where):
    """``eval.json[key...]`` of the runs whose labels match ``where``."""
    values = []
    for s in specs:
      if all(s.labels.get(k) == v for k, v in where.items()):
        report = results_lib.read_json(os.path.join(
            runner.run_dir(out, s.name), "eval.json"))
        for part in key:
          report = report[part]
        values.append(float(report))
    self.assertNotEmpty(values, where)
    return values

  def test_ablation_cells_are_the_runs_values(self):
    a = args(privacy="private", datasets=["cifar10"])
    out, specs, _, files, figures = self.sweep(ablation.CUMULATIVE, a)
    table = pd.read_csv(os.path.join(out, "ablation.csv"))
    self.assertLen(table, 7)
    for step in ("BL", "+GN", "+SAT"):
      row = table[table["step"] == step].iloc[0]
      (want,) = self.eval_values(out, specs, ("utility", "test_accuracy"),
                                 {"step": step, "private": True})
      self.assertAlmostEqual(row["test_accuracy"], want)
      (auc,) = self.eval_values(out, specs, ("attacks", "threshold", "auc"),
                                {"step": step})
      self.assertAlmostEqual(row["threshold_auc"], auc)
    self.assertIn(os.path.join(out, "ablation.png"), files)
    # One private arm on cifar10: one series of 7 steps in every panel.
    for panel in figures[0]:
      self.assertEqual(panel, [("cifar10 DP (ε 8) (median ± std)", 7)])

  def test_table4_dpsgd_and_dpsat_over_epsilon(self):
    a = args(privacy="private", datasets=["cifar10"], epsilons=[1.0, 8.0])
    out, specs, _, _, figures = self.sweep(privacy_sweeps.TABLE4, a)
    table = pd.read_csv(os.path.join(out, "table4.csv"))
    self.assertLen(table, 4)
    for _, row in table.iterrows():
      want = self.eval_values(
          out, specs, ("utility", "test_accuracy"),
          {"optimizer": row["optimizer"],
           "epsilon_target": row["epsilon_target"]})
      self.assertAlmostEqual(row["accuracy_pct"], 100 * np.median(want),
                             places=4)
      self.assertAlmostEqual(row["difference_pct"],
                             row["accuracy_pct"] - row["paper_accuracy_pct"])
    labels = {label for panel in figures[0] for label, _ in panel}
    self.assertTrue({"DP-SGD (ours, median ± std)",
                     "DP-SAT (ours, median ± std)"} <= labels, labels)
    for panel in figures[0]:
      for _, points in panel:
        self.assertGreater(points, 0)

  def test_table6_budget_and_bias(self):
    a = args(privacy="private", epsilons=[8.0], datasets=["cifar10s"],
             seeds=[0, 1])
    out, specs, _, files, figures = self.sweep(privacy_sweeps.TABLE6, a)
    table = pd.read_csv(os.path.join(out, "table6.csv"))
    # Private runs sample Poisson: every ε in the table is the proven one,
    # and the table says so.
    self.assertEqual(set(table["epsilon_basis"].dropna()),
                     {tables.EPSILON_BASES["proven"]})
    with open(os.path.join(out, "table6.md")) as f:
      self.assertIn("proven (Poisson sampling)", f.read())
    self.assertEqual(sorted(table["skew"].unique()), [0.75, 0.95])
    # A cell is the median over seeds of the runs' values, beside their std.
    for _, row in table.iterrows():
      want = self.eval_values(out, specs, ("fairness", "skew_bias"),
                              {"skew": row["skew"]})
      self.assertLen(want, 2)
      self.assertAlmostEqual(row["skew_bias"], np.median(want))
      self.assertAlmostEqual(row["skew_bias_std"], np.std(want))
    # One series per skew, each with a point per budget, in every panel.
    for panel in figures[0]:
      self.assertEqual(sorted(panel), [("skew 75% (median ± std)", 1),
                                       ("skew 95% (median ± std)", 1)])

  def test_onion_layers_remove_ids(self):
    a = args(privacy="nonprivate", datasets=["cifar10"], layers=2)
    out, specs, df, _, figures = self.sweep(onion.ONION, a)
    table = pd.read_csv(os.path.join(out, "onion.csv"))
    removed = sorted(table["removed"].unique())
    self.assertLen(removed, 3)
    self.assertEqual(removed[0], 0)
    # Layer i+1 trains without the ids removed so far.
    for s in specs[1:]:
      run = results_lib.read_json(os.path.join(runner.run_dir(out, s.name),
                                               "results.json"))
      self.assertLen(run["removed_ids"], s.labels["removed"])
    self.assertEqual(sorted(df["train_examples"].unique())[::-1],
                     [configs.TINY.train_subset - r for r in removed])
    self.assertTrue(figures and all(figures))

  def test_memorization_timeline(self):
    a = args(privacy="nonprivate", datasets=["cifar10"])
    out, specs, _, files, figures = self.sweep(timeline.TIMELINE, a)
    self.assertIn(os.path.join(out, "timeline_cifar10_seed0.png"), files)
    for s in specs[1:]:
      history = results_lib.read_json(os.path.join(
          runner.run_dir(out, s.name), "mia_history.json"))
      self.assertNotEmpty(history["steps"] if isinstance(history, dict)
                          else history)
    self.assertTrue(any(points > 0 for fig in figures for panel in fig
                        for _, points in panel))

  def test_lira(self):
    a = args(privacy="nonprivate", datasets=["cifar10"], num_models=4)
    out, specs, _, files, _ = self.sweep(lira_experiment.LIRA, a)
    self.assertIn(os.path.join(out, "lira.md"), files)
    scores = pd.read_csv(
        os.path.join(out, "lira_scores_cifar10_nonprivate.csv"))
    # Keep matrix drawn entry by entry (not balanced: leave-one-out would
    # leak the target's membership): about half the models train on each
    # pool example, some on none or all; every model trains on the pool
    # minus its exclusions.
    excluded = np.stack([np.isin(scores["id"], s.details.exclude_ids)
                         for s in specs])
    self.assertBetween(excluded.mean(), 0.4, 0.6)
    self.assertGreater(len(set(excluded.sum(axis=0))), 2)
    np.testing.assert_array_equal(~scores["member_of_target0"], excluded[0])
    for s in specs:
      run = results_lib.read_json(os.path.join(runner.run_dir(out, s.name),
                                               "results.json"))
      self.assertEqual(run["num_train_examples"],
                       len(scores) - len(s.details.exclude_ids), s.name)
    table = pd.read_csv(os.path.join(out, "lira.csv"))
    self.assertLen(table, 1)
    # Target 0's AUCs, recomputed from its released scores, lie within the
    # table's mean +- the spread over the four targets (3 std).
    for attack in ("lira_online", "lira_offline", "threshold"):
      ok = np.isfinite(scores[attack])
      auc0 = metrics.roc_auc_score(scores["member_of_target0"][ok],
                                   scores[attack][ok])
      mean, std = table[f"{attack}_auc"][0], table[f"{attack}_auc_std"][0]
      self.assertLessEqual(abs(auc0 - mean), 3 * std + 1e-9, attack)
    # RMIA beside LiRA and the threshold attack, by reference count (k = 1
    # and 2 of the 3 other models at tiny scale, and all 3).
    self.assertIn(os.path.join(out, "rmia.md"), files)
    by_refs = pd.read_csv(os.path.join(out, "rmia.csv"))
    self.assertEqual(sorted(set(by_refs["references"])), [1, 2, 3])
    # With all the others as references LiRA is defined and equals lira.md.
    full = by_refs[by_refs["references"] == 3].set_index("attack")
    for attack in ("lira_online", "lira_offline"):
      self.assertAlmostEqual(full.loc[attack, "auc"],
                             table[f"{attack}_auc"][0], places=6)
    self.assertEqual(set(by_refs["attack"]), set(
        lira_experiment.ATTACK_ORDER))
    self.assertTrue(by_refs["seeds"].eq(4).all())  # Every target.
    one = by_refs[by_refs["references"] == 1].set_index("attack")
    self.assertTrue(np.isnan(one.loc["lira_online", "auc"]))  # No in+out.
    self.assertEqual(one.loc["lira_online", "scored"], 0.0)
    # LiRA leaves unscored exactly the candidates that all 3 others hold
    # in or all hold out (online): 1/4 of them on average.
    self.assertBetween(full.loc["lira_online", "scored"], 0.6, 0.9)
    self.assertEqual(full.loc["threshold", "scored"], 1.0)
    for attack in ("rmia_online", "rmia_offline", "threshold"):
      self.assertTrue(0.0 <= one.loc[attack, "auc"] <= 1.0, attack)
    # The threshold attack does not depend on k, and is lira.md's.
    thresholds = by_refs[by_refs["attack"] == "threshold"]["auc"]
    np.testing.assert_allclose(thresholds, table["threshold_auc"][0])
    self.assertTrue(0.0 <= one.loc["rmia_offline", "offline_a"] <= 1.0)

  def test_individual_techniques(self):
    a = args(privacy="private", datasets=["cifar10"])
    out, specs, _, files, figures = self.sweep(ablation.INDIVIDUAL, a)
    table = pd.read_csv(os.path.join(out, "individual.csv"))
    self.assertEqual(list(table["step"]), [s.labels["step"] for s in specs])
    for _, row in table.iterrows():
      (want,) = self.eval_values(out, specs, ("utility", "test_accuracy"),
                                 {"step": row["step"]})
      self.assertAlmostEqual(row["test_accuracy"], want)
    self.assertIn(os.path.join(out, "individual.png"), files)
    for panel in figures[0]:
      self.assertEqual(panel, [("cifar10 DP (ε 8) (median ± std)",
                                len(specs))])

  def test_celeba_on_mock_data(self):
    a = args(privacy="nonprivate",
             overrides=["train_subset=100", "test_subset=60"],
             attacks=["threshold"])

    def data_fn(cfg, remove):
      from prifa_tf.training import datasets  # pylint: disable=g-import-not-at-top
      del remove
      return datasets.build(cfg)
    with tfds.testing.mock_data(num_examples=120,
                                policy=tfds.testing.MockPolicy.USE_CODE):
      out, specs, _, _, _ = self.sweep(celeba.CELEBA, a, data_fn=data_fn)
    table = pd.read_csv(os.path.join(out, "table7.csv"))
    self.assertEqual(list(table["model"]), ["Baseline", "Baseline+GT"])
    for _, row in table.iterrows():
      want = self.eval_values(out, specs, ("fairness", "weighted_map"),
                              {"model": row["model"]})
      self.assertAlmostEqual(row["map_pct"], 100 * np.median(want),
                             places=4)


if __name__ == "__main__":
  absltest.main()
