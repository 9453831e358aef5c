"""Every paper experiment: its runs, and tables/figures from results."""

import os

from absl.testing import absltest
import numpy as np
import pandas as pd
import tensorflow_datasets as tfds

from prifa_tf.paper import ablation
from prifa_tf.paper import celeba
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.paper import onion
from prifa_tf.paper import privacy_sweeps
from prifa_tf.paper import timeline
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.sweeps import spec as spec_lib
from prifa_tf.training import datasets
from tests import fixtures

METRICS = ["test_accuracy", "color_accuracy", "gray_accuracy",
           "mean_accuracy", "mlp_auc", "rf_auc", "threshold_auc",
           "threshold_entropy_auc", "max_auc", "auc_used_for_hs",
           "generalization_gap", "skew_bias", "harmonic_score", "epsilon",
           "train_examples"]


def fake_results(specs, seed=0):
  """A results frame as ``tables.collect`` builds it, with random values."""
  rng = np.random.default_rng(seed)
  rows = [{"run": s.name, **s.labels,
           **{m: float(rng.uniform(0.1, 0.9)) for m in METRICS}}
          for s in specs]
  return pd.DataFrame(rows)


def args(**kw):
  base = dict(scale=configs.TINY, seeds=[0, 1])
  base.update(kw)
  return exp.Args(**base)


class SpecsTest(absltest.TestCase):

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
    self.assertIsNone(specs[0].remove_from)
    for parent, child in zip(specs, specs[1:]):
      self.assertEqual(child.remove_from, parent.name)
      self.assertEqual(child.remove_top, onion.DEFAULT_REMOVE["tiny"])
      self.assertIsNone(child.max_examples)  # Every id gets a score.
      self.assertIn("mlp", child.attacks)
    lira_ranked = onion.ONION.build(args(seeds=[0], privacy="private",
                                         layers=2, onion_risk="lira"))
    spec_lib.check_order(lira_ranked)
    targets = [s for s in lira_ranked if s.labels["role"] == "target"]
    self.assertLen(targets, 3)
    self.assertLen(lira_ranked, 3 + 2 * onion.DEFAULT_SHADOWS["tiny"])
    for parent, child in zip(targets, targets[1:]):
      self.assertEqual(child.risk_score, "lira_score")
      shadows = [s for s in lira_ranked if s.name in child.risk_shadows]
      self.assertLen(shadows, onion.DEFAULT_SHADOWS["tiny"])
      for sh in shadows:
        self.assertEqual(sh.shadow_of, parent.name)
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
      self.assertEqual(s.track_from, tl[0].name)
      self.assertGreater(s.mia_every, 0)
      self.assertEqual(s.config.early_stopping_patience, 0)

  def test_celeba_runs(self):
    specs = celeba.CELEBA.build(args(seeds=[0]))
    self.assertEqual([s.labels["model"] for s in specs],
                     [m for m, _, _ in celeba.MODELS])
    self.assertEqual(specs[0].attacks, celeba.ATTRIBUTE_ATTACKS)
    self.assertTrue(all(s.config.dataset == "celeb_a" for s in specs))


class ReportTest(absltest.TestCase):

  def _check(self, experiment, a, stem, must_contain=(), figure=None):
    out = self.create_tempdir().full_path
    specs = experiment.build(a)
    files = experiment.report(fake_results(specs), a, out)
    for ext in ("csv", "md"):
      self.assertIn(os.path.join(out, f"{stem}.{ext}"), files)
    for ext in ("png", "pdf"):
      self.assertIn(os.path.join(out, f"{figure or stem}.{ext}"), files)
    for f in files:
      self.assertGreater(os.path.getsize(f), 100, f)
    with open(os.path.join(out, f"{stem}.md")) as fh:
      text = fh.read()
    for s in must_contain:
      self.assertIn(s, text)
    return pd.read_csv(os.path.join(out, f"{stem}.csv")), text

  def test_ablation_table_aggregates_seeds(self):
    a = args()
    specs = ablation.CUMULATIVE.build(a)
    df = fake_results(specs)
    table, _ = self._check(ablation.CUMULATIVE, a, "ablation",
                           ["+SAT", "cifar10s"])
    self.assertLen(table, 14)
    self.assertTrue((table["seeds"] == 2).all())
    row = table[(table["step"] == "+GN") & table["private"]].iloc[0]
    want = df[(df["step"] == "+GN") & df["private"]]["test_accuracy"]
    self.assertAlmostEqual(row["test_accuracy"], want.median())
    self.assertAlmostEqual(row["test_accuracy_std"], want.std(ddof=0))

  def test_table4_prints_paper_values(self):
    table, text = self._check(privacy_sweeps.TABLE4, args(seeds=[0]),
                              "table4", ["81.11", "acc % (paper)"])
    row = table[(table["epsilon_target"] == 8.0)
                & (table["optimizer"] == "DP-SAT")].iloc[0]
    self.assertEqual(row["paper_accuracy_pct"], 81.11)
    self.assertAlmostEqual(row["difference_pct"],
                           row["accuracy_pct"] - 81.11)
    self.assertIn("Hassanpour", text)

  def test_table6_and_onion(self):
    self._check(privacy_sweeps.TABLE6, args(seeds=[0]), "table6", ["0.75"],
                figure="table6_cifar10s")
    table, _ = self._check(onion.ONION, args(seeds=[0], layers=2), "onion")
    self.assertEqual(sorted(table["removed"].unique()), [0, 20, 40])

  def test_demo(self):
    from prifa_tf.paper import demo  # pylint: disable=g-import-not-at-top
    specs = demo.DEMO.build(args(seeds=[0]))
    self.assertEqual([s.labels["model"] for s in specs],
                     ["DP-SAT + GT", "SAM + GT"])
    self.assertTrue(all(s.config.sharpness_rho > 0 for s in specs))
    self._check(demo.DEMO, args(seeds=[0]), "demo", ["DP-SAT + GT"])

  def test_individual(self):
    self._check(ablation.INDIVIDUAL, args(seeds=[0], privacy="private"),
                "individual", ["BL+AM"])


class EndToEndTest(absltest.TestCase):
  """Tiny sweeps that really train (synthetic or TFDS-mocked data)."""

  def test_timeline(self):
    fixtures.quiet_tf()
    out = self.create_tempdir().full_path
    a = args(seeds=[0], privacy="nonprivate", attacks=["threshold"])
    specs = timeline.TIMELINE.build(a)
    specs[0].attacks = ("threshold",)
    for s in specs:
      s.risk_score = "threshold_score"
    status = runner.run_sweep(out, specs, log=lambda _: None,
                              data_fn=lambda cfg, rm: fixtures.
                              synthetic_run_data(n=60))
    self.assertTrue(all(v["status"] == "done" for v in status.values()),
                    status)
    df = tables.collect(out, specs, runner.run_dir)
    files = timeline.TIMELINE.report(df, a, out)
    self.assertIn(os.path.join(out, "timeline_cifar10_seed0.png"), files)

  def test_celeba_on_mock_data(self):
    fixtures.quiet_tf()
    out = self.create_tempdir().full_path
    a = args(seeds=[0], privacy="nonprivate",
             overrides=["train_subset=100", "test_subset=60"])
    specs = celeba.CELEBA.build(a)

    def data_fn(cfg, remove):
      del remove
      data = datasets.build(cfg)
      test = data.evaluation["test"]  # Mock splits repeat the train images.
      rng = np.random.default_rng(0)
      data.evaluation["test"] = test.take(rng.permutation(len(test)))
      data.evaluation["test"].images = rng.integers(
          0, 256, test.images.shape, np.uint8)
      return data
    with tfds.testing.mock_data(num_examples=120,
                                policy=tfds.testing.MockPolicy.USE_CODE):
      status = runner.run_sweep(out, specs, log=lambda _: None,
                                data_fn=data_fn)
    self.assertTrue(all(v["status"] == "done" for v in status.values()),
                    status)
    df = tables.collect(out, specs, runner.run_dir)
    files = celeba.CELEBA.report(df, a, out)
    with open(os.path.join(out, "table7.md")) as fh:
      text = fh.read()
    self.assertIn("74.300", text)  # The paper's baseline mAP beside ours.
    self.assertIn(os.path.join(out, "table7.csv"), files)
    table = pd.read_csv(os.path.join(out, "table7.csv"))
    self.assertEqual(list(table["model"]), ["Baseline", "Baseline+GT"])
    self.assertTrue(np.isfinite(table["map_pct"]).all())


if __name__ == "__main__":
  absltest.main()
