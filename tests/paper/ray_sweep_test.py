"""A paper sweep with a dependency chain on a local Ray cluster gives the
in-process runner's results (tiny models, synthetic data, seeded noise).

Onion layers 0 -> 1 -> 2 (each removes the previous layer's 5 riskiest ids)
and a run tracking layer 0's riskiest ids during training: on Ray each is
a task that starts after its parent, in a worker process of a worker node.
"""

import os

from tests import ray_cluster  # pylint: disable=g-bad-import-order
from absl.testing import absltest
import ray  # After ray_cluster (its auth token).
import numpy as np

from prifa_tf.paper import runs
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import runner
from tests.paper import runs_test


def specs():
  spec = runs_test.spec
  return [spec("d/layer0"),
          spec("d/layer1", remove_from="d/layer0", remove_top=5,
               risk_score="threshold_score"),
          spec("d/layer2", remove_from="d/layer1", remove_top=5,
               risk_score="threshold_score"),
          spec("d/tracked", track_from="d/layer0", track_top=2,
               risk_score="threshold_score", mia_every=1, cfg={"seed": 3})]


def outputs(out, name):
  d = runner.run_dir(out, name)
  ev = results_lib.read_json(os.path.join(d, "eval.json"))
  res = results_lib.read_json(os.path.join(d, "results.json"))
  return {"removed": sorted(res.get("removed_ids", [])),
          "test_accuracy": ev["utility"]["test_accuracy"],
          "aucs": {name: a["auc"] for name, a in ev["attacks"].items()}}


class RaySweepTest(absltest.TestCase):

  def test_chain_on_ray_equals_in_process(self):
    task = runs.PaperTask(data_fn=runs_test.data_fn)
    local = self.create_tempdir().full_path
    status = runner.run_sweep(local, specs(), task, log=lambda _: None)
    self.assertEqual({s["status"] for s in status.values()}, {"done"})
    on_ray = self.create_tempdir().full_path
    with ray_cluster.LocalCluster(workers=1, cpus_per_worker=2) as cluster:
      ray.init(address=cluster.address, include_dashboard=False,
               configure_logging=False, log_to_driver=False)
      try:
        cluster.wait_for_cpus(2)
        status = runner.run_sweep(on_ray, specs(), task, log=lambda _: None,
                                  executor="ray",
                                  ray_options={"num_cpus": 1})
      finally:
        ray.shutdown()
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {s.name: "done" for s in specs()}, status)
    for s in specs():
      got, want = outputs(on_ray, s.name), outputs(local, s.name)
      self.assertEqual(got["removed"], want["removed"], s.name)
      self.assertAlmostEqual(got["test_accuracy"], want["test_accuracy"],
                             places=6, msg=s.name)
      for attack, auc in want["aucs"].items():
        self.assertAlmostEqual(got["aucs"][attack], auc, places=6,
                               msg=f"{s.name} {attack}")
    layer2 = outputs(on_ray, "d/layer2")
    self.assertLen(layer2["removed"], 10)
    tracked = results_lib.read_json(os.path.join(
        runner.run_dir(on_ray, "d/tracked"), "mia_history.json"))
    want = results_lib.read_json(os.path.join(
        runner.run_dir(local, "d/tracked"), "mia_history.json"))
    self.assertEqual(
        sorted(tracked[-1]["membership_probability"]),
        sorted(want[-1]["membership_probability"]))
    np.testing.assert_allclose(
        [tracked[-1]["membership_probability"][k]
         for k in sorted(want[-1]["membership_probability"])],
        [want[-1]["membership_probability"][k]
         for k in sorted(want[-1]["membership_probability"])], atol=1e-6)


if __name__ == "__main__":
  absltest.main()
