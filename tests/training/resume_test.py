"""Kill -9 mid-run, restart with the same command: same result."""

import os
import subprocess
import sys

from absl.testing import absltest
import h5py
import numpy as np

from prifa_tf.reporting import results as results_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "training", "resume_worker.py")


def run_worker(workdir, die_at=None):
  env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
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
    for (na, xa), (nb, xb) in zip(h5_arrays(os.path.join(killed, a[
        "weights_file"])), h5_arrays(os.path.join(clean, b["weights_file"]))):
      self.assertEqual(na, nb)
      np.testing.assert_allclose(xa, xb, atol=1e-5)
    # A third run finds the results complete and does nothing.
    third = run_worker(killed)
    self.assertEqual(third.returncode, 0)
    self.assertEqual(results_lib.read_json(os.path.join(killed,
                                                        "results.json")), a)



if __name__ == "__main__":
  absltest.main()
