"""The generic sweep runner, in process: order, failures, status, lock.

The task is ``fake_task.SumTask`` (no training): each run writes its value
plus its parents' results, so a wrong order or a missed parent shows in the
numbers.
"""

import multiprocessing
import os

from absl.testing import absltest

from prifa_tf import errors
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import runner
from tests.sweeps import fake_task
from tests.sweeps.fake_task import chain
from tests.sweeps.fake_task import quiet
from tests.sweeps.fake_task import spec


def _hold_lock(out_dir, ready, release):
  with runner.driver_lock(out_dir):
    ready.set()
    release.wait(30)


class RunnerTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.out = self.create_tempdir().full_path

  def test_chain_results_and_rerun_is_cached(self):
    status = runner.run_sweep(self.out, chain(), fake_task.SumTask(),
                              log=quiet)
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {n: "done" for n in "abcde"})
    # c = 3 + b = 3 + (2 + 1); d = 4 + a + b = 4 + 1 + 3.
    self.assertEqual([fake_task.result(self.out, n) for n in "abcde"],
                     [1, 3, 6, 8, 5])
    on_disk = results_lib.read_json(os.path.join(self.out,
                                                 runner.STATUS_FILE))
    self.assertEqual(on_disk["runs"], status)
    again = runner.run_sweep(self.out, chain(), fake_task.SumTask(),
                             log=quiet)
    self.assertEqual({s["status"] for s in again.values()}, {"cached"})

  def test_failure_skips_dependants_only(self):
    specs = [spec("a"), spec("b", ["a"], fail=True), spec("c", ["b"]),
             spec("d", ["c"]), spec("e", ["a"])]
    status = runner.run_sweep(self.out, specs, fake_task.SumTask(),
                              log=quiet)
    self.assertEqual({n: s["status"] for n, s in status.items()},
                     {"a": "done", "b": "failed", "c": "skipped",
                      "d": "skipped", "e": "done"})
    self.assertIn("fails on purpose", status["b"]["error"])
    self.assertTrue(os.path.exists(os.path.join(
        runner.run_dir(self.out, "b"), "error.txt")))

  def test_second_driver_is_refused(self):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(self.out, ready, release))
    holder.start()
    try:
      self.assertTrue(ready.wait(60))
      with self.assertRaisesRegex(errors.SweepLocked,
                                  f"pid {holder.pid} on"):
        runner.run_sweep(self.out, chain(), fake_task.SumTask(), log=quiet)
      self.assertFalse(os.path.exists(os.path.join(self.out,
                                                   runner.STATUS_FILE)))
    finally:
      release.set()
      holder.join(60)
    # The lock died with its holder: the sweep runs now.
    status = runner.run_sweep(self.out, chain(), fake_task.SumTask(),
                              log=quiet)
    self.assertEqual({s["status"] for s in status.values()}, {"done"})

  def test_killed_driver_leaves_no_lock(self):
    ctx = multiprocessing.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_lock, args=(self.out, ready, release))
    holder.start()
    self.assertTrue(ready.wait(60))
    holder.kill()  # SIGKILL: no cleanup runs.
    holder.join(60)
    status = runner.run_sweep(self.out, chain(), fake_task.SumTask(),
                              log=quiet)
    self.assertEqual({s["status"] for s in status.values()}, {"done"})

  def test_bad_input(self):
    with self.assertRaisesRegex(ValueError, "Unknown executor"):
      runner.run_sweep(self.out, chain(), fake_task.SumTask(),
                       executor="slurm")
    with self.assertRaisesRegex(ValueError, "does not come before"):
      runner.run_sweep(self.out, [spec("b", ["a"]), spec("a")],
                       fake_task.SumTask(), log=quiet)


if __name__ == "__main__":
  absltest.main()
