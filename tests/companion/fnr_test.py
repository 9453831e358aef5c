"""Seed 003: patch data, the FNR on hand-set filters, and the study at tiny
scale (every arm, exact ε, no FNR where no noise reaches the filters)."""

import math
import os

from absl.testing import absltest
import numpy as np

from prifa_tf.companion import fnr
from prifa_tf.companion import fnr_study
from prifa_tf.privacy import accounting
from tests import fixtures


class FnrTest(absltest.TestCase):

  def test_patch_data(self):
    task = fnr.SyntheticTask(classes=3, patches=4, dim=16,
                             minority_fraction=0.5)
    feats = task.features()
    gram = feats.reshape(6, 16) @ feats.reshape(6, 16).T
    np.testing.assert_allclose(gram, 25.0 * np.eye(6), atol=1e-4)
    data = task.sample(60, seed=1)
    for i in range(60):
      hits = [np.allclose(p, feats[data.y[i], data.group[i]])
              for p in data.x[i]]
      self.assertEqual(sum(hits), 1)

  def test_fnr_on_hand_set_filters(self):
    task = fnr.SyntheticTask(classes=2, patches=2, dim=8)
    feats = task.features()
    model = fnr.two_layer_cnn(2, 3, 2, 8)
    a = np.array([1.0, 2.0, 2.0])  # ‖a‖ = 3.
    w = np.zeros((8, 6), np.float32)
    unit = feats[0, 0] / np.linalg.norm(feats[0, 0])
    w[:, :3] = np.outer(unit, a)
    model.get_layer("filters").kernel.assign(w)
    sigma = fnr.noise_level(0.5, 2.0, 1.0, steps=16, batch_size=10,
                            filters=3)
    self.assertAlmostEqual(sigma, 0.5 * 2.0 * 1.0 * math.sqrt(16 * 3) / 10)
    got = fnr.fnr(model, feats, 3, sigma)
    self.assertAlmostEqual(got["feature_norm"][0][0], 3.0, places=5)
    self.assertAlmostEqual(got["fnr"][0][0], 3.0 / sigma, places=4)
    self.assertAlmostEqual(got["feature_norm"][0][1], 0.0, places=5)
    self.assertAlmostEqual(got["feature_norm"][1][0], 0.0, places=5)
    self.assertIsNone(fnr.fnr(model, feats, 3, 0.0)["fnr"])

  def test_tiny_study(self):
    fixtures.quiet_tf()
    out = self.create_tempdir().full_path
    with fixtures.saved_figures() as saved:
      df = fnr_study.run(out, fnr_study.TINY, log=lambda _: None)
    self.assertEqual(df["arm"].tolist(), list(fnr_study.ARMS))
    rows = df.set_index("arm")
    scale = fnr_study.TINY
    for arm in fnr_study.ARMS[1:]:
      want = accounting.epsilon(scale.train_size, scale.batch_size,
                                scale.noise_multiplier,
                                int(rows.loc[arm, "steps"]), scale.delta)
      self.assertAlmostEqual(rows.loc[arm, "epsilon"], want, places=6)
    self.assertTrue(np.isnan(rows.loc["nonprivate", "epsilon"]))
    self.assertTrue(np.isnan(rows.loc["nonprivate", "fnr_minority"]))
    self.assertTrue(np.isnan(rows.loc["dp_public_frozen", "fnr_minority"]))
    self.assertGreater(rows.loc["dp", "fnr_majority"], 0)
    for arm in fnr_study.ARMS:
      self.assertGreaterEqual(rows.loc[arm, "pgd_test_loss"],
                              rows.loc[arm, "clean_test_loss"] - 1e-6)
    for f in ("fnr.csv", "fnr.md"):
      self.assertTrue(os.path.exists(os.path.join(out, f)), f)
    fixtures.assert_figure(self, saved, "fnr.png",
                           ["dp majority", "dp minority", "majority",
                            "minority", "clean", "PGD"], out_dir=out)


if __name__ == "__main__":
  absltest.main()
