"""Training progress: the steady-state rate leaves tracing out; the ETA."""

from unittest import mock

from absl.testing import absltest

from prifa_tf.reporting import progress


class StepClockTest(absltest.TestCase):

  def test_first_step_is_not_in_the_rate_and_eta_follows_wall_time(self):
    now = [100.0]
    with mock.patch.object(progress.time, "time", lambda: now[0]):
      clock = progress.StepClock(total_steps=10)
      now[0] = 130.0
      clock.step_done(30.0)  # Tracing: 30 s, left out of the rate.
      self.assertIsNone(clock.steps_per_second())
      self.assertIsNone(clock.eta(1))
      for _ in range(2):     # Two steps of 1 s, plus 3 s of evaluation.
        now[0] += 2.5
        clock.step_done(1.0)
      self.assertAlmostEqual(clock.steps_per_second(), 1.0)
      # 7 steps left at the 2.5 s of wall time per step since the first.
      self.assertAlmostEqual(clock.eta(3), 17.5)
      self.assertAlmostEqual(clock.elapsed(), 35.0)

  def test_format_seconds(self):
    self.assertEqual(progress.format_seconds(None), "?")
    self.assertEqual(progress.format_seconds(65), "1:05")
    self.assertEqual(progress.format_seconds(3725), "1:02:05")

  def test_bar_off_the_terminal_is_disabled(self):
    for enabled in (False, True):
      made = progress.bar(3, enabled=enabled)
      self.assertEqual(made.disable, not enabled)
      made.close()


if __name__ == "__main__":
  absltest.main()
