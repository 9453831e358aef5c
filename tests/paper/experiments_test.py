"""Every paper experiment's runs (specs); tests/paper/tiny_sweeps_test.py
trains and reports them for real."""

import os

from absl.testing import absltest
import numpy as np
import pandas as pd

from prifa_tf.paper import ablation
from prifa_tf.paper import celeba
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.paper import lira_experiment
from prifa_tf.paper import onion
from prifa_tf.paper import privacy_sweeps
from prifa_tf.paper import timeline
from prifa_tf.sweeps import spec as spec_lib
from tests import fixtures


def args(**kw):
  base = dict(scale=configs.TINY, seeds=[0, 1])
  base.update(kw)
  return exp.Args(**base)


class SpecsTest(absltest.TestCase):

  def test_paper_bias_beside_ours(self):
    # Section 4.2's bias figures join the ablation table by dataset, arm
    # and step, with ours - paper (DP-CIFAR-100S: 0.10 -> 0.26).
    agg = pd.DataFrame({"dataset": ["cifar100s", "cifar100s", "cifar10"],
                        "private": [True, True, False],
                        "step": ["BL", "+SAT", "BL"],
                        "skew_bias": [0.2, 0.3, 0.0]})
    out = ablation._with_paper_bias(agg)  # pylint: disable=protected-access
    self.assertEqual(list(out["step"]), ["BL", "+SAT", "BL"])
    self.assertEqual(out["paper_skew_bias"].tolist()[:2], [0.10, 0.26])
    self.assertTrue(pd.isna(out["paper_skew_bias"][2]))  # Not in the paper.
    np.testing.assert_allclose(out["skew_bias_minus_paper"][:2], [0.1, 0.04])

  def test_paper_prose_deltas_beside_ours(self):
    rows = []
    for private, acc in ((True, (0.40, 0.60, 0.70)), (False,
                                                     (0.50, 0.80, 0.85))):
      for step, a, auc, bias in zip(("BL", "+PA", "+SAT"), acc,
                                    (0.50, 0.52, 0.55), (0.0, 0.1, 0.2)):
        rows.append({"dataset": "cifar10s", "private": private,
                     "step": step, "test_accuracy": a, "max_auc": auc,
                     "skew_bias": bias + (0.05 if private else 0.0)})
    agg = pd.DataFrame(rows)
    out = ablation.paper_deltas(agg)
    def row(dataset, metric):
      hit = out[(out["dataset"] == dataset) & (out["metric"] == metric)]
      return hit.iloc[0] if len(hit) == 1 else hit
    # Table 6: DP - non-private at all techniques on CIFAR-10S.
    bias = row("cifar10s", "skew_bias")
    self.assertAlmostEqual(bias["paper"], 0.06)
    self.assertAlmostEqual(bias["ours"], 0.05)
    self.assertAlmostEqual(bias["ours_minus_paper"], -0.01)
    acc = row("cifar10s", "test_accuracy")
    self.assertAlmostEqual(acc["ours"], (0.70 - 0.85) * 100)  # In points.
    self.assertTrue(acc["approx"])
    # Datasets not run: NaN, left out of the markdown.
    self.assertTrue(row("cifar10", "test_accuracy")["ours"].isna().all())
    md = ablation._paper_deltas_section(agg)  # pylint: disable=protected-access
    self.assertEqual(md.count("| Table 6 | cifar10s |"), 3)
    self.assertNotIn("cifar100", md)
    self.assertIn("| ≈-21.00 | -15.00 | +6.00 |", md)

  def test_ablation_runs(self):
    specs = ablation.CUMULATIVE.build(args())
    spec_lib.check_order(specs)
    self.assertLen(specs, 1 * 2 * 7 * 2)  # dataset x privacy x step x seed
    steps = [s.labels["step"] for s in specs if s.labels["seed"] == 0
             and s.labels["private"]]
    self.assertEqual(steps, ["BL", "+GN", "+OBS", "+WS", "+AM", "+PA",
                             "+SAT"])
    last = [s for s in specs if s.labels["step"] == "+SAT"][0].config
    self.assertGreater(last.sharpness_rho, 0)  # DP-SAT when private.
    self.assertTrue(last.private)
    indiv = ablation.INDIVIDUAL.build(args(privacy="private"))
    wsonly = [s.config for s in indiv if s.labels["step"] == "BL+WS"][0]
    self.assertTrue(wsonly.weight_standardization)
    self.assertEqual(wsonly.normalization, "none")
    self.assertEqual(exp.privacy_name(None), "nonprivate")

  def test_overrides_reach_every_run(self):
    specs = ablation.CUMULATIVE.build(args(overrides=["log_every=7"]))
    self.assertTrue(all(s.config.log_every == 7 for s in specs))

  def test_privacy_sweeps(self):
    t4 = privacy_sweeps.TABLE4.build(args(seeds=[0]))
    self.assertLen(t4, 4 * 2)
    for s in t4:
      self.assertEqual(s.config.target_epsilon, s.labels["epsilon_target"])
      self.assertEqual(s.config.sharpness_rho > 0,
                       s.labels["optimizer"] == "DP-SAT")
    t6 = privacy_sweeps.TABLE6.build(args(seeds=[0]))
    self.assertLen(t6, 2 * 5)  # skew x (4 eps + non-private)
    self.assertEqual(sorted({s.config.skew for s in t6}), [0.75, 0.95])

  def test_onion_and_timeline_dependencies(self):
    specs = onion.ONION.build(args(seeds=[0], privacy="private", layers=3))
    self.assertEqual([s.labels["layer"] for s in specs], [0, 1, 2, 3])
    self.assertIsNone(specs[0].details.remove_from)
    for parent, child in zip(specs, specs[1:]):
      self.assertEqual(child.details.remove_from, parent.name)
      self.assertEqual(child.details.remove_top, onion.DEFAULT_REMOVE["tiny"])
      self.assertIsNone(child.details.max_examples)  # Every id gets a score.
      self.assertIn("mlp", child.details.attacks)
    lira_ranked = onion.ONION.build(args(seeds=[0], privacy="private",
                                         layers=2, onion_risk="lira"))
    spec_lib.check_order(lira_ranked)
    targets = [s for s in lira_ranked if s.labels["role"] == "target"]
    self.assertLen(targets, 3)
    self.assertLen(lira_ranked, 3 + 2 * onion.DEFAULT_SHADOWS["tiny"])
    for parent, child in zip(targets, targets[1:]):
      self.assertEqual(child.details.risk_score, "lira_score")
      shadows = [s for s in lira_ranked
                 if s.name in child.details.risk_shadows]
      self.assertLen(shadows, onion.DEFAULT_SHADOWS["tiny"])
      for sh in shadows:
        self.assertEqual(sh.details.shadow_of, parent.name)
        self.assertEqual(sh.config.data_seed, parent.config.data_seed)
        self.assertEqual(sh.config.audit_canaries, 0)
        self.assertNotEqual(sh.config.seed, parent.config.seed)
      self.assertLen({sh.config.seed for sh in shadows}, len(shadows))
    # Private CIFAR runs carry an audit; shadows and LiRA models do not.
    self.assertEqual(targets[0].config.audit_canaries,
                     configs.TINY.audit_canaries)
    tl = timeline.TIMELINE.build(args(seeds=[0]))
    spec_lib.check_order(tl)
    self.assertEqual(tl[0].labels["arm"], "reference")
    self.assertLen(tl, 1 + 2 * 2)
    for s in tl[1:]:
      self.assertEqual(s.details.track_from, tl[0].name)
      self.assertGreater(s.details.mia_every, 0)
      self.assertEqual(s.config.early_stopping_patience, 0)

  def test_celeba_runs(self):
    specs = celeba.CELEBA.build(args(seeds=[0]))
    self.assertEqual([s.labels["model"] for s in specs],
                     [m for m, _, _ in celeba.MODELS])
    self.assertEqual(specs[0].details.attacks, celeba.ATTRIBUTE_ATTACKS)
    self.assertTrue(all(s.config.dataset == "celeb_a" for s in specs))

  def test_demo_runs(self):
    from prifa_tf.paper import demo  # pylint: disable=g-import-not-at-top
    specs = demo.DEMO.build(args(seeds=[0]))
    self.assertEqual([s.labels["model"] for s in specs],
                     ["DP-SAT + GT", "SAM + GT"])
    self.assertTrue(all(s.config.sharpness_rho > 0 for s in specs))


class LiraFigureTest(absltest.TestCase):

  def test_roc_figure(self):
    rng = np.random.default_rng(0)
    member = rng.random(50) < 0.5
    scores = rng.normal(size=50) + member
    scores[0] = np.nan  # Unscored: left out of the curve.
    out = os.path.join(self.create_tempdir().full_path, "roc.png")
    with fixtures.saved_figures() as saved:
      lira_experiment.plot_roc([lira_experiment.Curve("x", member, scores)],
                               out, "LiRA vs threshold")
    self.assertGreater(os.path.getsize(out), 1000)
    self.assertTrue(os.path.exists(out[:-4] + ".pdf"))
    fixtures.assert_figure(self, saved, "roc.png", series=["x (AUC"])


if __name__ == "__main__":
  absltest.main()
