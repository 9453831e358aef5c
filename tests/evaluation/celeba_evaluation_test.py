"""train -> evaluate on TFDS-mocked CelebA: Table 7's per-attribute outputs."""

import csv
import dataclasses
import os

from absl.testing import absltest
import numpy as np
import tensorflow_datasets as tfds

from prifa_tf import attacks
from prifa_tf.data import celeba
from prifa_tf.evaluation import run_evaluation
from prifa_tf.fairness import celeba_bias
from prifa_tf.fairness import group_fairness
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import evaluation
from prifa_tf.training import trainer as trainer_lib
from tests import fixtures


class CelebAEvaluationTest(absltest.TestCase):

  def test_train_then_evaluate_on_mock_celeba(self):
    fixtures.quiet_tf()
    workdir = self.create_tempdir().full_path
    cfg = fixtures.private_config(dataset="celeb_a", image_size=16, steps=2,
                                  batch_size=8, physical_batch_size=8)
    with tfds.testing.mock_data(num_examples=40,
                                policy=tfds.testing.MockPolicy.USE_CODE):
      data = datasets.build(cfg)
      # TFDS mocks give every split the same examples; make the held-out
      # (non-member) images differ from the training ones.
      test = data.evaluation["test"]
      rng = np.random.default_rng(0)
      data.evaluation["test"] = dataclasses.replace(
          test, images=rng.integers(0, 256, test.images.shape, np.uint8))
      trainer_lib.Trainer(cfg, workdir, data=data, log=lambda _: None).run()
      report = run_evaluation.evaluate_workdir(
          workdir, ["threshold"], data=data, log=lambda _: None)
    self.assertTrue(data.train.multilabel)
    for name in ("eval.json", "attributes.csv", "attacks.csv",
                 "risk_scores.csv", "attributes_vs_skewness.png"):
      self.assertTrue(os.path.exists(os.path.join(workdir, name)), name)
    rows = report["attributes"]
    self.assertEqual([r["attribute"] for r in rows],
                     list(celeba.EVALUATED_ATTRIBUTES))
    # The per-attribute skewness is the training table's.
    expected_skew = celeba_bias.skewness(
        data.train.labels[:, list(celeba.EVALUATED_COLUMNS)],
        data.train.domains)
    np.testing.assert_allclose([r["skewness"] for r in rows], expected_skew)
    f = report["fairness"]
    finite_ap = [r["weighted_ap"] for r in rows
                 if np.isfinite(r["weighted_ap"])]
    self.assertAlmostEqual(f["weighted_map"], np.mean(finite_ap))
    high = [r["max_auc"] for r in rows if r["skewness"] >= 0.8]
    if high:
      self.assertAlmostEqual(report["mia"]["avg_auc_skew_ge_0.8"],
                             np.mean(high))
    self.assertAlmostEqual(report["mia"]["avg_auc_skew_0.5_1"],
                           np.mean([r["max_auc"] for r in rows]))
    self.assertEqual(report["mia"]["members"], len(data.train))
    # Columns are mapped right: recompute one attribute from the model.
    _, _, _, model = run_evaluation._load_run(workdir, data)
    k = 7
    col, name = celeba.EVALUATED_COLUMNS[k], celeba.EVALUATED_ATTRIBUTES[k]
    test = data.evaluation["test"]
    z_train = evaluation.predict_logits(model, data.train.images, "celeb_a")
    z_test = evaluation.predict_logits(model, test.images, "celeb_a")
    direct = attacks.run(attacks.MembershipData(
        z_train, data.train.labels, data.train.ids, z_test, test.labels,
        test.ids).attribute(col), ["threshold"])["threshold"].auc
    self.assertEqual(rows[k]["attribute"], name)
    self.assertAlmostEqual(rows[k]["threshold_auc"], direct)
    # Privacy by gender: the attribute's threshold attack on each gender's
    # members and non-members alone (mock CelebA has both genders).
    data_k = attacks.MembershipData(
        z_train, data.train.labels, data.train.ids, z_test, test.labels,
        test.ids).attribute(col)
    for gender, value in (("female", 0), ("male", 1)):
      m_in, m_out = data.train.domains == value, test.domains == value
      if m_in.sum() < 2 or m_out.sum() < 2:
        continue
      sub = attacks.MembershipData(
          data_k.logits_train[m_in], data_k.labels_train[m_in],
          data_k.ids_train[m_in], data_k.logits_test[m_out],
          data_k.labels_test[m_out], data_k.ids_test[m_out])
      self.assertAlmostEqual(
          rows[k][f"mia_auc_{gender}"],
          attacks.run(sub, ["threshold"])["threshold"].auc, places=6)
    self.assertAlmostEqual(
        rows[k]["mia_auc_gender_gap"],
        abs(rows[k]["mia_auc_male"] - rows[k]["mia_auc_female"]))
    self.assertIn("mean_mia_auc_gender_gap", report["fairness"])
    # Fairlearn's ΔDemP by gender of the thresholded test predictions
    # equals ours on the same predictions.
    pred = z_test[:, col] >= rows[k]["threshold"]
    if np.isfinite(rows[k]["delta_demp"]):
      self.assertAlmostEqual(
          rows[k]["delta_demp"],
          group_fairness.demographic_parity_difference(pred, test.domains))
      self.assertLessEqual(rows[k]["delta_demp_ci_low"],
                           rows[k]["delta_demp"] + 1e-12)
    if np.isfinite(rows[k]["weighted_ap"]):
      self.assertAlmostEqual(rows[k]["weighted_ap"],
                             celeba_bias.weighted_average_precision(
                                 z_test[:, col], test.labels[:, col],
                                 test.domains))
    self.assertIsNone(report["harmonic_score"])
    with open(os.path.join(workdir, "attacks.csv")) as fh:
      self.assertLen(list(csv.DictReader(fh)), len(rows))
    with open(os.path.join(workdir, "risk_scores.csv")) as fh:
      ids = sorted(int(r["id"]) for r in csv.DictReader(fh))
    self.assertEqual(ids, sorted(data.train.ids.tolist()))
    on_disk = results_lib.read_json(os.path.join(workdir, "eval.json"))
    self.assertEqual(on_disk["privacy_budget"]["epsilon"],
                     report["privacy_budget"]["epsilon"])
    self.assertIn("weighted mAP",
                  run_evaluation.format_multilabel_table(report))


if __name__ == "__main__":
  absltest.main()
