"""Two worker processes on localhost train together like one process."""

import json
import os
import subprocess
import sys

from absl.testing import absltest
import numpy as np

from prifa_tf.reporting import results as results_lib
from prifa_tf.training import secrets
from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
WORKER = os.path.join(ROOT, "tests", "training", "multiworker_worker.py")
ENV = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")


class MultiWorkerTest(absltest.TestCase):

  def cluster(self, shared, *flags):
    """Runs two workers on 127.0.0.1 into ``shared``; returns their stderr."""
    hosts = [f"127.0.0.1:{p}" for p in fixtures.free_ports(2)]
    procs, errors = [], []
    for i in range(2):
      tf_config = {"cluster": {"worker": hosts},
                   "task": {"type": "worker", "index": i}}
      procs.append(subprocess.Popen(
          [sys.executable, WORKER, shared, *flags],
          env=dict(ENV, TF_CONFIG=json.dumps(tf_config)),
          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for p in procs:
      try:
        _, err = p.communicate(timeout=600)
      except subprocess.TimeoutExpired:
        for q in procs:
          q.kill()
        self.fail("multi-worker training timed out")
      self.assertEqual(p.returncode, 0, err[-3000:])
      errors.append(err)
    return errors

  def test_two_workers_match_single_process(self):
    single = self.create_tempdir("single").full_path
    ref = subprocess.run([sys.executable, WORKER, single, "--single"],
                         env=ENV, capture_output=True, text=True, timeout=600)
    self.assertEqual(ref.returncode, 0, ref.stderr[-3000:])
    shared = self.create_tempdir("cluster").full_path
    self.cluster(shared)

    want = np.load(os.path.join(single, "weights_local.npy"))
    for task in ("worker0", "worker1"):
      got = np.load(os.path.join(shared, f"weights_{task}.npy"))
      np.testing.assert_allclose(got, want, atol=1e-5)
    a = results_lib.read_json(os.path.join(single, "results.json"))
    b = results_lib.read_json(os.path.join(shared, "results.json"))
    self.assertEqual(b["replicas"], 2)
    self.assertEqual(a["privacy"]["epsilon"], b["privacy"]["epsilon"])
    self.assertEqual(a["steps"], b["steps"])
    # Only the chief wrote the real checkpoints and results.
    self.assertTrue(os.listdir(os.path.join(shared, "checkpoints")))

  def test_secret_seeds_are_shared_by_the_workers(self):
    shared = self.create_tempdir("secret").full_path
    self.cluster(shared, "--secret")
    w0 = np.load(os.path.join(shared, "weights_worker0.npy"))
    w1 = np.load(os.path.join(shared, "weights_worker1.npy"))
    # Each worker adds the noise itself: only a shared seed keeps them equal.
    np.testing.assert_allclose(w0, w1, atol=1e-6)
    res = results_lib.read_json(os.path.join(shared, "results.json"))
    self.assertIn("OS entropy", res["privacy"]["randomness"])
    self.assertIsNone(res["config"]["noise_seed"])
    secret = results_lib.read_json(os.path.join(shared, secrets.SECRETS_FILE))
    self.assertGreater(secret["noise_seed"], 2**20)  # Drawn, not a default.


if __name__ == "__main__":
  absltest.main()
