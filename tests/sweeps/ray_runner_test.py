"""Sweeps on Ray: a local cluster (head + worker nodes via ``ray start``).

The task is ``fake_task.SumTask`` (no training: each run sums its parents'
results), so results show whether dependencies held. Checked: a chain
gives the in-process runner's results; a failure skips its dependants;
a worker killed with SIGKILL mid-run is retried and its run resumes from
its checkpoint, with the same results as an uninterrupted sweep; the
driver alone writes sweep.json. Prints the per-run overhead Ray adds.
"""

import os
import signal
import threading
import time

from tests import ray_cluster  # pylint: disable=g-bad-import-order
from absl.testing import absltest
import ray  # After ray_cluster (its auth token).

from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import runner
from tests.sweeps import fake_task
from tests.sweeps.fake_task import chain
from tests.sweeps.fake_task import quiet
from tests.sweeps.fake_task import spec


class RayRunnerTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.cluster = ray_cluster.LocalCluster(workers=1, cpus_per_worker=2)
    cls.cluster.start()
    ray.init(address=cls.cluster.address, include_dashboard=False,
             configure_logging=False, log_to_driver=False)
    cls.cluster.wait_for_cpus(2)

  @classmethod
  def tearDownClass(cls):
    ray.shutdown()
    cls.cluster.stop()
    super().tearDownClass()

  def sweep(self, out, specs, task=None, **options):
    return runner.run_sweep(out, specs, task or fake_task.SumTask(),
                            log=quiet, executor="ray",
                            ray_options={"num_cpus": 1, **options})

  def test_chain_equals_in_process(self):
    local = self.create_tempdir().full_path
    on_ray = self.create_tempdir().full_path
    runner.run_sweep(local, chain(), fake_task.SumTask(), log=quiet)
    status = self.sweep(on_ray, chain())
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {n: "done" for n in "abcde"})
    for n in "abcde":
      self.assertEqual(fake_task.result(on_ray, n),
                       fake_task.result(local, n), n)
    # Ran in worker processes, not in this driver.
    self.assertNotIn(os.getpid(), {s["pid"] for s in status.values()})
    on_disk = results_lib.read_json(os.path.join(on_ray,
                                                 runner.STATUS_FILE))
    self.assertEqual(on_disk["runs"], status)
    again = self.sweep(on_ray, chain())
    self.assertEqual({s["status"] for s in again.values()}, {"cached"})

  def test_failure_skips_dependants(self):
    out = self.create_tempdir().full_path
    specs = [spec("a"), spec("b", ["a"], fail=True), spec("c", ["b"]),
             spec("d", ["c"]), spec("e", ["a"])]
    status = self.sweep(out, specs)
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {"a": "done", "b": "failed", "c": "skipped",
                      "d": "skipped", "e": "done"})
    self.assertIn("fails on purpose", status["b"]["error"])
    self.assertIn("parent b failed", status["c"]["reason"])
    self.assertIn("parent c skipped", status["d"]["reason"])
    # A failing run is not retried (the log shows one start).
    self.assertTrue(os.path.exists(os.path.join(
        runner.run_dir(out, "b"), "error.txt")))

  def test_killed_worker_is_retried_and_resumes(self):
    specs = [spec("a", value=1), spec("slow", ["a"], value=2, seconds=4.0),
             spec("after", ["slow"], value=3)]
    clean = self.create_tempdir().full_path
    t0 = time.time()
    self.sweep(clean, specs)
    uninterrupted = time.time() - t0
    out = self.create_tempdir().full_path
    started = os.path.join(out, "started.txt")
    killed = {}

    def killer():
      deadline = time.time() + 120
      ckpt = os.path.join(runner.run_dir(out, "slow"), "ckpt.json")
      while time.time() < deadline:
        if os.path.exists(started) and os.path.exists(ckpt):
          with open(started) as f:
            lines = [line.split() for line in f if line.startswith("slow ")]
          spent = results_lib.read_json(ckpt)["spent"]
          if lines and spent >= 1.0:
            pid = int(lines[0][1])
            killed.update(pid=pid, at=spent, time=time.time())
            os.kill(pid, signal.SIGKILL)
            return
        time.sleep(0.05)
    thread = threading.Thread(target=killer)
    thread.start()
    t0 = time.time()
    status = self.sweep(out, specs, fake_task.SumTask(started=started),
                        max_retries=2)
    thread.join()
    elapsed = time.time() - t0
    self.assertIn("pid", killed, "the slow run was never seen running")
    self.assertEqual({s["status"] for s in status.values()}, {"done"},
                     status)
    with open(started) as f:
      slow_pids = [int(line.split()[1]) for line in f
                   if line.startswith("slow ")]
    self.assertLen(slow_pids, 2)  # Killed once, retried once.
    self.assertNotEqual(slow_pids[0], slow_pids[1])
    self.assertEqual(slow_pids[0], killed["pid"])
    for n in ("a", "slow", "after"):
      self.assertEqual(fake_task.result(out, n), fake_task.result(clean, n))
    resumed = results_lib.read_json(os.path.join(
        runner.run_dir(out, "slow"), fake_task.RESULT))["resumed_from"]
    self.assertGreaterEqual(resumed, 4.0)
    print(f"\nkill-a-worker: SIGKILL at {killed['at']:.1f} s of the slow "
          f"run's 4 s; retried in a new worker (pid {slow_pids[1]}), "
          f"resumed from its checkpoint; sweep {elapsed:.1f} s with the "
          f"kill, {uninterrupted:.1f} s without", flush=True)

  def test_overhead_per_run(self):
    n = 20
    specs = [spec(f"r{i}") for i in range(n)]
    local = self.create_tempdir().full_path
    t0 = time.perf_counter()
    runner.run_sweep(local, specs, fake_task.SumTask(), log=quiet)
    t_local = time.perf_counter() - t0
    self.sweep(self.create_tempdir().full_path, specs[:2])  # Warm workers.
    on_ray = self.create_tempdir().full_path
    t0 = time.perf_counter()
    status = self.sweep(on_ray, specs)
    t_ray = time.perf_counter() - t0
    self.assertEqual({s["status"] for s in status.values()}, {"done"})
    per_run = (t_ray - t_local) / n
    print(f"\nRay overhead: {n} no-op runs in {t_ray:.2f} s on Ray vs "
          f"{t_local:.2f} s in process: {1000 * per_run:.0f} ms per run "
          "(2 runs at a time)", flush=True)
    self.assertLess(per_run, 5.0)  # Sanity: not a hang per run.


if __name__ == "__main__":
  absltest.main()
