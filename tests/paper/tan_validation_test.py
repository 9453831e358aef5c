"""A TAN simulation paired with its reference: pairing, the test, the words.

The run files are the committed demo run's, with seeds and accuracies set
per case, so the reader sees the files a real sweep writes.
"""

import copy
import json
import os

from absl.testing import absltest
import numpy as np
import pandas as pd

from prifa_tf import errors
from prifa_tf.paper import tan_validation

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TEMPLATE = os.path.join(ROOT, "results", "demo", "runs", "cifar10s", "eps8",
                        "seed0")


def _load(name):
  with open(os.path.join(TEMPLATE, name)) as f:
    return json.load(f)


def write_sweep(top, accuracies, k=1, **config_changes):
  """A sweep dir of private runs, seed i at mean accuracy accuracies[i]."""
  base = {n: _load(f"{n}.json") for n in ("config", "results", "eval")}
  for seed, acc in enumerate(accuracies):
    files = copy.deepcopy(base)
    config = files["config"]
    config.update(seed=seed, tan_factor=k,
                  batch_size=config["batch_size"] // k,
                  noise_multiplier=config["noise_multiplier"] / k)
    config.update(config_changes)
    utility = files["eval"]["utility"]
    utility.update(color_accuracy=acc + 0.01, gray_accuracy=acc - 0.01,
                   mean_accuracy=acc)
    run = os.path.join(top, "runs", "cifar10s", "eps8", f"seed{seed}")
    os.makedirs(run)
    for name, content in files.items():
      with open(os.path.join(run, f"{name}.json"), "w") as f:
        json.dump(content, f)
  return top


class TanValidationTest(absltest.TestCase):

  def sweeps(self, reference, simulated, k=4, **changes):
    return (write_sweep(self.create_tempdir().full_path, reference),
            write_sweep(self.create_tempdir().full_path, simulated, k,
                        **changes))

  def test_a_consistent_loss_is_reported_as_not_reproduced(self):
    ref = [0.25, 0.27, 0.24, 0.26, 0.25, 0.28]
    ref_dir, sim_dir = self.sweeps(ref, [a - 0.03 for a in ref])
    out = self.create_tempdir().full_path
    result = tan_validation.Validation(ref_dir, sim_dir, out).run()
    self.assertEqual(result["k"], 4)
    table = pd.read_csv(os.path.join(out, "tan_validation_comparisons.csv"))
    row = table[table["metric"] == "mean_accuracy"].iloc[0]
    self.assertEqual(row["seeds"], 6)
    self.assertAlmostEqual(row["mean_difference"], -0.03, places=9)
    self.assertLess(row["wilcoxon_p"], 0.05)
    with open(os.path.join(out, "tan_validation.md")) as f:
      md = f.read()
    self.assertIn("B = 125, σ = 0.190 (TAN ×4)", md)
    self.assertIn("B = 500, σ = 0.761", md)
    self.assertIn("lies below the reference's (-3.0 points", md)
    self.assertIn("does not reproduce the run it simulates", md)
    self.assertIn("gives a lower accuracy (C+G)/2", md)
    for name in ("tan_validation.csv", "tan_validation.png",
                 "tan_validation.pdf", "provenance.json"):
      self.assertTrue(os.path.exists(os.path.join(out, name)), name)

  def test_noise_either_way_is_not_established(self):
    ref = [0.25, 0.27, 0.24, 0.26, 0.25, 0.28]
    noise = [0.01, -0.012, 0.004, -0.003, 0.008, -0.009]
    ref_dir, sim_dir = self.sweeps(ref, list(np.add(ref, noise)))
    out = self.create_tempdir().full_path
    tan_validation.Validation(ref_dir, sim_dir, out).run()
    with open(os.path.join(out, "tan_validation.md")) as f:
      md = " ".join(f.read().split())
    self.assertIn("no difference in accuracy is established", md)
    self.assertRegex(md, r"a difference of up to \d\.\d points is not "
                     r"excluded")
    self.assertIn("no established difference in accuracy (C+G)/2", md)

  def test_few_seeds_are_called_rough(self):
    ref_dir, sim_dir = self.sweeps([0.25, 0.27, 0.24], [0.245, 0.265, 0.242])
    out = self.create_tempdir().full_path
    tan_validation.Validation(ref_dir, sim_dir, out).run()
    with open(os.path.join(out, "tan_validation.md")) as f:
      md = " ".join(f.read().split())
    self.assertIn("With 3 seeds the Wilcoxon test cannot reach p < 0.05 "
                  "(it needs 6) and the bootstrap interval resamples only 3 "
                  "differences", md)

  def test_only_shared_seeds_are_paired(self):
    ref_dir, sim_dir = self.sweeps([0.2] * 6, [0.21] * 3)
    runs, _, _, _ = tan_validation.pair(
        tan_validation.private_runs(ref_dir),
        tan_validation.private_runs(sim_dir))
    self.assertEqual(sorted(runs["seed"]), [0, 0, 1, 1, 2, 2])

  def test_bad_pairs_are_bad_input(self):
    cases = {
        "differ in \\['learning_rate'\\]": dict(
            reference=[0.2] * 2, simulated=[0.2] * 2, learning_rate=1.0),
        "differ in \\['steps'\\]": dict(
            reference=[0.2] * 2, simulated=[0.2] * 2, steps=60),
    }
    for message, case in cases.items():
      ref_dir, sim_dir = self.sweeps(**case)
      with self.assertRaisesRegex(errors.BadInputError, message):
        tan_validation.Validation(ref_dir, sim_dir,
                                  self.create_tempdir().full_path).run()
    ref_dir, sim_dir = self.sweeps([0.2] * 2, [0.2] * 2)
    out = self.create_tempdir().full_path
    with self.assertRaisesRegex(errors.BadInputError, "--tan_factor=1"):
      tan_validation.Validation(sim_dir, sim_dir, out).run()
    with self.assertRaisesRegex(errors.BadInputError, "one --tan_factor"):
      tan_validation.Validation(ref_dir, ref_dir, out).run()
    with self.assertRaisesRegex(errors.BadInputError, "no evaluated private"):
      tan_validation.Validation(out, sim_dir, out).run()
    # B/k but σ not divided by k: not a TAN simulation of the reference.
    odd = write_sweep(self.create_tempdir().full_path, [0.2] * 2, 4,
                      noise_multiplier=0.5)
    with self.assertRaisesRegex(errors.BadInputError, "at B/4 and σ/4"):
      tan_validation.Validation(ref_dir, odd, out).run()


if __name__ == "__main__":
  absltest.main()
