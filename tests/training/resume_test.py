"""Kill -9 mid-run, restart with the same command: same result."""

import os
import stat
import subprocess
import sys

from absl.testing import absltest
import h5py
import numpy as np

from prifa_tf.reporting import results as results_lib
from prifa_tf.training import secrets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "training", "resume_worker.py")


def run_worker(workdir, die_at=None, secret=False):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2",
             PRIFA_SECRET_SEEDS="1" if secret else "0")
  args = [sys.executable, WORKER, workdir] + ([str(die_at)] if die_at else [])
  return subprocess.run(args, env=env, capture_output=True, text=True,
                        timeout=900)


def h5_arrays(path):
  out = []
  with h5py.File(path, "r") as f:
    f.visititems(lambda n, o: out.append((n, o[()])) if isinstance(
        o, h5py.Dataset) else None)
  return sorted(out, key=lambda x: x[0])


class ResumeTest(absltest.TestCase):

  def test_sigkill_then_resume_matches_uninterrupted(self):
    killed = self.create_tempdir("killed").full_path
    clean = self.create_tempdir("clean").full_path
    first = run_worker(killed, die_at=6)
    self.assertEqual(first.returncode, -9, first.stderr[-2000:])
    self.assertFalse(os.path.exists(os.path.join(killed, "results.json")))
    self.assertTrue(os.path.exists(os.path.join(killed, "progress.json")))
    second = run_worker(killed)
    self.assertEqual(second.returncode, 0, second.stderr[-2000:])
    ref = run_worker(clean)
    self.assertEqual(ref.returncode, 0, ref.stderr[-2000:])
    a = results_lib.read_json(os.path.join(killed, "results.json"))
    b = results_lib.read_json(os.path.join(clean, "results.json"))
    self.assertEqual(a["steps"], b["steps"])
    self.assertGreater(a["steps"], 6)
    self.assertEqual(a["privacy"]["epsilon"], b["privacy"]["epsilon"])
    self.assertLessEqual(a["privacy"]["epsilon"], 10.0)
    self.assertEqual(a["stop_reason"], "privacy_budget")
    # The privacy counter survives the kill: one draw per step, as if
    # uninterrupted.
    self.assertEqual(a["privacy"]["noise_draws"], a["steps"])
    self.assertEqual(a["privacy"]["noise_draws"], b["privacy"]["noise_draws"])
    for (na, xa), (nb, xb) in zip(h5_arrays(os.path.join(killed, a[
        "weights_file"])), h5_arrays(os.path.join(clean, b["weights_file"]))):
      self.assertEqual(na, nb)
      np.testing.assert_allclose(xa, xb, atol=1e-5)
    # A third run finds the results complete and does nothing.
    third = run_worker(killed)
    self.assertEqual(third.returncode, 0)
    self.assertEqual(results_lib.read_json(os.path.join(killed,
                                                        "results.json")), a)

  def test_secret_seeds_survive_resume_and_appear_nowhere_else(self):
    workdir = self.create_tempdir("secret").full_path
    first = run_worker(workdir, die_at=6, secret=True)
    self.assertEqual(first.returncode, -9, first.stderr[-2000:])
    path = os.path.join(workdir, secrets.SECRETS_FILE)
    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
    seeds = results_lib.read_json(path)
    second = run_worker(workdir, secret=True)
    self.assertEqual(second.returncode, 0, second.stderr[-2000:])
    self.assertEqual(results_lib.read_json(path), seeds)  # Read, not redrawn.
    res = results_lib.read_json(os.path.join(workdir, "results.json"))
    self.assertEqual(res["privacy"]["noise_draws"], res["steps"])
    self.assertIn("OS entropy", res["privacy"]["randomness"])
    self.assertIsNone(res["config"]["noise_seed"])
    # Neither seed, in decimal or as little/big-endian int64 bytes, in any
    # other file of the workdir (TensorBoard and checkpoints included) or in
    # the processes' output.
    needles = []
    for key in ("noise_seed", "sampling_seed"):
      value = int(seeds[key])
      needles += [str(value).encode(), value.to_bytes(8, "little"),
                  value.to_bytes(8, "big")]
    outputs = [first.stdout, first.stderr, second.stdout, second.stderr]
    blobs = [("output", o.encode()) for o in outputs]
    for root, _, names in os.walk(workdir):
      for name in names:
        full = os.path.join(root, name)
        if full != path:
          with open(full, "rb") as f:
            blobs.append((full, f.read()))
    self.assertGreater(len(blobs), 8)
    for where, blob in blobs:
      for needle in needles:
        self.assertNotIn(needle, blob, where)


if __name__ == "__main__":
  absltest.main()
