"""train -> evaluate on synthetic data writes every file, consistently."""

import csv
import os

from absl.testing import absltest
import numpy as np

from prifa_tf import metrics
from prifa_tf.evaluation import run_evaluation
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from tests import fixtures


class RunEvaluationTest(absltest.TestCase):

  def test_end_to_end(self):
    fixtures.quiet_tf()
    workdir = self.create_tempdir().full_path
    data = fixtures.synthetic_run_data(n=48)
    fixtures.make_trainer(workdir, data=data, steps=3, ema_decay=0.9,
                          eval_weights="ema").run()
    with fixtures.saved_figures() as saved:
      report = run_evaluation.evaluate_workdir(
          workdir, ["threshold", "threshold_entropy", "lr"], data=data,
          log=lambda _: None)
    for name in ("eval.json", "attacks.csv", "risk_scores.csv",
                 "privacy_by_group.csv"):
      self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
    # Both figures read back: every attack's ROC (AUC in its label), and
    # the members' and non-members' risk-score histograms.
    fixtures.assert_figure(self, saved, "mia_roc.png",
                           ["threshold (AUC", "threshold_entropy (AUC",
                            "lr (AUC"], out_dir=workdir)
    roc_axes = saved["mia_roc.png"].axes[0]
    self.assertEqual((roc_axes.get_xscale(), roc_axes.get_yscale()),
                     ("log", "log"))
    fixtures.assert_figure(self, saved, "risk_score_hist.png",
                           ["members", "non-members"], out_dir=workdir)
    fixtures.assert_figure(self, saved, "privacy_by_group.png",
                           ["group"], out_dir=workdir)
    on_disk = results_lib.read_json(os.path.join(workdir, "eval.json"))
    # The headline scalars, read back, equal eval.json's.
    scalars = fixtures.read_scalars(os.path.join(workdir, "tensorboard",
                                                 "eval"))
    for name in ("threshold", "threshold_entropy", "lr"):
      self.assertAlmostEqual(scalars[f"mia/{name}_auc"][3],
                             on_disk["attacks"][name]["auc"], places=5)
    self.assertAlmostEqual(scalars["harmonic_score"][3],
                           on_disk["harmonic_score"], places=5)
    self.assertAlmostEqual(scalars["fairness/skew_bias"][3],
                           on_disk["fairness"]["skew_bias"], places=5)
    self.assertEqual(on_disk["provenance"]["git_commit"],
                     on_disk["training_provenance"]["git_commit"])
    self.assertEqual(on_disk["mia"]["members"], 48)
    self.assertEqual(set(on_disk["attacks"]),
                     {"threshold", "threshold_entropy", "lr"})
    # Privacy by group: every class and correctness group, its members
    # adding up to the run's, and the disparity in the table row.
    groups = on_disk["privacy_by_group"]["groups"]
    classes = [g for g in groups if g["slicing"] == "class"]
    self.assertEqual(sum(g["members"] for g in classes), 48)
    self.assertIn("class", on_disk["privacy_by_group"]["disparity"])
    flat = tables.flatten(on_disk)
    self.assertAlmostEqual(
        flat["mia_auc_disparity_class"],
        max(g["auc"] for g in classes) - min(g["auc"] for g in classes))
    # TPR at low FPR beside every AUC, in eval.json and attacks.csv.
    with open(os.path.join(workdir, "attacks.csv")) as f:
      csv_rows = {r["attack"]: r for r in csv.DictReader(f)}
    for name, row in on_disk["attacks"].items():
      for key in ("tpr_at_1%_fpr", "tpr_at_0.1%_fpr"):
        self.assertTrue(0.0 <= row[key] <= 1.0, (name, key))
        self.assertAlmostEqual(float(csv_rows[name][key]), row[key])
    self.assertEqual(on_disk["privacy_budget"]["epsilon"],
                     results_lib.read_json(os.path.join(
                         workdir, "results.json"))["privacy"]["epsilon"])
    inputs = report["harmonic_score_inputs"]
    self.assertAlmostEqual(report["harmonic_score"], metrics.harmonic_score(
        inputs["accuracy"], inputs["auc"], inputs["bias"]))
    self.assertEqual(inputs["auc"], report["mia"]["max_auc"])  # No MLP run.
    with open(os.path.join(workdir, "risk_scores.csv")) as f:
      rows = list(csv.DictReader(f))
    self.assertEqual(sorted(int(r["id"]) for r in rows),
                     sorted(data.train.ids.tolist()))
    self.assertIn("threshold_score", rows[0])
    u = report["utility"]
    self.assertAlmostEqual(u["generalization_gap"],
                           u["train_accuracy"] - u["test_accuracy"])
    self.assertTrue(0.0 <= report["fairness"]["skew_bias"] <= 0.5)
    self.assertIn("HS", run_evaluation.format_table(report))

  def test_unfinished_run(self):
    workdir = self.create_tempdir().full_path
    with self.assertRaisesRegex(run_evaluation.EvaluationError,
                                "train .*first"):
      run_evaluation.evaluate_workdir(workdir, data=None, log=lambda _: None)
    np.testing.assert_equal(os.listdir(workdir), [])


if __name__ == "__main__":
  absltest.main()
