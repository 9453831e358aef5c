"""Paper runs through the sweep runner: skip finished runs, resume,
isolate failures, Onion removal, tracking, LiRA shadows, cost estimates.
Synthetic data, tiny models."""

import os

from absl.testing import absltest
import numpy as np

from prifa_tf.data import subsets
from prifa_tf.reporting import results as results_lib
from prifa_tf.paper import runs
from prifa_tf.sweeps import runner
from tests import fixtures


def data_fn(cfg, remove):
  del cfg
  data = fixtures.synthetic_run_data(n=48)
  if remove is not None and len(remove):
    data.train = subsets.remove_ids(data.train, remove)
  return data


def spec(name, **kwargs):
  cfg_overrides = {"steps": 2, **kwargs.pop("cfg", {})}
  return runs.spec(name=name, config=fixtures.private_config(
      **cfg_overrides), labels={"name": name},
                   attacks=("threshold",), **kwargs)


def quiet(_):
  pass


def run_sweep(out, specs, data_fn=None, **kwargs):
  return runner.run_sweep(out, specs, runs.PaperTask(data_fn=data_fn),
                          **kwargs)


class RunnerTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()
    self.out = self.create_tempdir().full_path

  def test_rerun_skips_and_failures_are_isolated(self):
    specs = [spec("a/ok"),
             spec("a/bad", cfg={"batch_size": 1000, "physical_batch_size":
                                1000}),
             spec("a/child", remove_from="a/bad", remove_top=2),
             spec("a/ok2", cfg={"seed": 1})]
    status = run_sweep(self.out, specs, log=quiet, data_fn=data_fn)
    self.assertEqual({k: v["status"] for k, v in status.items()},
                     {"a/ok": "done", "a/bad": "failed",
                      "a/child": "skipped", "a/ok2": "done"})
    self.assertIn("exceeds", status["a/bad"]["error"])
    self.assertTrue(os.path.exists(os.path.join(
        runner.run_dir(self.out, "a/bad"), "error.txt")))
    on_disk = results_lib.read_json(os.path.join(self.out, "sweep.json"))
    self.assertEqual(on_disk["runs"]["a/ok2"]["status"], "done")
    eval_path = os.path.join(runner.run_dir(self.out, "a/ok"), "eval.json")
    before = os.path.getmtime(eval_path)
    again = run_sweep(self.out, specs[:1] + specs[3:], log=quiet,
                             data_fn=lambda *_: self.fail("trained again"))
    self.assertEqual({k: again[k]["status"] for k in ("a/ok", "a/ok2")},
                     {"a/ok": "cached", "a/ok2": "cached"})
    self.assertEqual(os.path.getmtime(eval_path), before)

  def test_interrupted_sweep_completes_on_rerun(self):
    specs = [spec("b/first"), spec("b/second", cfg={"seed": 1})]
    calls = []

    def interrupting(cfg, remove):
      calls.append(cfg.seed)
      if cfg.seed == 1:
        raise KeyboardInterrupt  # Like a kill: not recorded as a failure.
      return data_fn(cfg, remove)
    with self.assertRaises(KeyboardInterrupt):
      run_sweep(self.out, specs, log=quiet, data_fn=interrupting)
    self.assertTrue(runs.is_finished(self.out, specs[0]))
    self.assertFalse(runs.is_finished(self.out, specs[1]))
    status = run_sweep(self.out, specs, log=quiet, data_fn=data_fn)
    self.assertEqual(status["b/first"]["status"], "cached")
    self.assertEqual(status["b/second"]["status"], "done")

  def test_changed_config_is_not_taken_as_finished(self):
    s = spec("c/run")
    run_sweep(self.out, [s], log=quiet, data_fn=data_fn)
    changed = spec("c/run", cfg={"learning_rate": 0.1})
    self.assertFalse(runs.is_finished(self.out, changed))
    status = run_sweep(self.out, [changed], log=quiet,
                              data_fn=data_fn)
    self.assertEqual(status["c/run"]["status"], "failed")
    self.assertIn("config", status["c/run"]["error"])

  def test_onion_removal_and_tracking(self):
    specs = [spec("d/layer0"),
             spec("d/layer1", remove_from="d/layer0", remove_top=5,
                  risk_score="threshold_score"),
             spec("d/layer2", remove_from="d/layer1", remove_top=5,
                  risk_score="threshold_score"),
             spec("d/tracked", track_from="d/layer0", track_top=2,
                  risk_score="threshold_score", mia_every=1,
                  cfg={"seed": 3})]
    status = run_sweep(self.out, specs, log=quiet, data_fn=data_fn)
    self.assertTrue(all(v["status"] == "done" for v in status.values()),
                    status)
    layer0 = runner.run_dir(self.out, "d/layer0")
    ids, scores = runs.read_risk_scores(layer0, "threshold_score")
    top5 = ids[np.lexsort((ids, -scores))][:5]
    l1 = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "d/layer1"), runs.REMOVED_FILE))
    self.assertEqual(sorted(l1["removed"]), sorted(top5.tolist()))
    l2 = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "d/layer2"), runs.REMOVED_FILE))
    self.assertLen(l2["removed"], 10)
    self.assertContainsSubset(l1["removed"], l2["removed"])
    ev2 = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "d/layer2"), "eval.json"))
    self.assertEqual(ev2["mia"]["members"], 48 - 10)  # Removed: not members.
    res2 = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "d/layer2"), "results.json"))
    self.assertEqual(res2["num_train_examples"], 38)
    self.assertEqual(sorted(res2["removed_ids"]), sorted(l2["removed"]))
    history = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "d/tracked"), "mia_history.json"))
    self.assertLen(history, 2)
    self.assertEqual(sorted(history[-1]["membership_probability"]),
                     sorted(str(i) for i in top5[:2]))

  def test_onion_ranked_by_lira_against_shadows(self):
    shadows = [spec(f"f/layer0_shadow{m}", shadow_of="f/layer0",
                    shadow_index=m, num_shadows=4, cfg={"seed": 10 + m,
                                                        "subset_seed": 0})
               for m in range(4)]
    specs = [spec("f/layer0"), *shadows,
             spec("f/layer1", remove_from="f/layer0", remove_top=6,
                  risk_score="lira_score",
                  risk_shadows=[s.name for s in shadows])]
    status = run_sweep(self.out, specs, log=quiet, data_fn=data_fn)
    self.assertTrue(all(v["status"] == "done" for v in status.values()),
                    status)
    # Balanced keep matrix: every member trains exactly 2 of the 4 shadows.
    left_out = [set(results_lib.read_json(os.path.join(
        runner.run_dir(self.out, s.name), "results.json"))["removed_ids"])
                for s in shadows]
    for i in range(48):
      self.assertEqual(sum(i in s_out for s_out in left_out), 2)
    layer0 = runner.run_dir(self.out, "f/layer0")
    ids, scores = runs.read_risk_scores(layer0, "lira_score")
    self.assertLen(ids, 48)
    self.assertTrue(np.isfinite(scores).all())
    top = ids[np.lexsort((ids, -scores))][:6]
    removed = results_lib.read_json(os.path.join(
        runner.run_dir(self.out, "f/layer1"), runs.REMOVED_FILE))
    self.assertEqual(removed["score"], "lira_score")
    self.assertEqual(sorted(removed["removed"]), sorted(top.tolist()))
    with self.assertRaisesRegex(ValueError, "risk_shadows"):
      spec("f/bad", remove_from="f/layer0", remove_top=1,
           risk_score="lira_score")

  def test_dry_run_costs_and_trains_nothing(self):
    specs = [spec("e/private", cfg={"augmult": 4}),
             spec("e/sam", cfg={"private": False, "sharpness_rho": 0.05,
                                "steps": 10})]
    status = run_sweep(self.out, specs, dry_run=True, log=quiet,
                              throughput=100.0,
                              data_fn=lambda *_: self.fail("trained"))
    self.assertEqual(status["e/private"]["view_gradients"], 2 * 8 * 4)
    self.assertEqual(status["e/sam"]["view_gradients"], 10 * 8 * 2)
    self.assertFalse(os.path.exists(runner.run_dir(self.out, "e/private")))
    self.assertAlmostEqual(runs.relative_cost("wrn_16_4", None), 1.0)
    self.assertAlmostEqual(runs.relative_cost("wrn_28_10", 32), 12.5)

  def test_bad_specs(self):
    with self.assertRaisesRegex(ValueError, "Bad run name"):
      spec("../escape")
    with self.assertRaisesRegex(ValueError, "does not come before"):
      run_sweep(self.out, [spec("x/child", remove_from="x/parent",
                                remove_top=1), spec("x/parent")], log=quiet)
    with self.assertRaisesRegex(ValueError, "appears twice"):
      run_sweep(self.out, [spec("x/a"), spec("x/a")], log=quiet)


if __name__ == "__main__":
  absltest.main()
