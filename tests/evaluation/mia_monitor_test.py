"""MIA tracked during training (Trainer and Keras), with ES/OF markers."""

import os

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.evaluation import mia_monitor
from tests import fixtures


class MIAMonitorTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_trainer_callback_records_history(self):
    workdir = self.create_tempdir().full_path
    data = fixtures.synthetic_run_data(n=32)
    monitor = mia_monitor.MIAMonitor(
        data.train, data.evaluation["test"], "cifar10", every=2,
        track_ids=[3, 5], workdir=workdir)
    trainer = fixtures.make_trainer(workdir, data=data, private=False,
                                    steps=6, learning_rate=0.05,
                                    momentum=0.9)
    trainer._step_callback = monitor  # pylint: disable=protected-access
    trainer.run()
    steps = [h["step"] for h in monitor.history]
    self.assertEqual(steps, [2, 4, 6])
    for h in monitor.history:
      self.assertBetween(h["auc"]["threshold"], 0.0, 1.0)
      self.assertEqual(set(h["membership_probability"]), {"3", "5"})
    self.assertTrue(os.path.exists(os.path.join(workdir, "mia_history.json")))
    # A new monitor on the same workdir picks the history up (resume).
    again = mia_monitor.MIAMonitor(data.train, data.evaluation["test"],
                                   "cifar10", every=2, workdir=workdir)
    self.assertLen(again.history, 3)
    path = os.path.join(workdir, "fig2.png")
    with fixtures.saved_figures() as saved:
      monitor.plot(path)
    fixtures.assert_figure(
        self, saved, "fig2.png",
        ["train accuracy", "test accuracy", "MIA AUC (threshold attack)",
         "membership probability of id 3", "membership probability of id 5",
         "early stopping (best test acc)",
         "overfitting (lowest test loss)"], out_dir=workdir)
    # The right panel has its own y label (a reviewer asked).
    right = saved["fig2.png"].axes[1]
    self.assertEqual(right.get_ylabel(), "AUC / membership probability")

  def test_keras_callback(self):
    data = fixtures.synthetic_run_data(n=32)
    model = fixtures.tiny_model(size=16)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.05),
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    monitor = mia_monitor.MIAMonitor(data.train, data.evaluation["test"],
                                     "cifar10", every=1)
    x = (data.train.images.astype(np.float32) / 255.0 - 0.47) / 0.25
    model.fit(x, data.train.labels, epochs=2, batch_size=16, verbose=0,
              callbacks=[mia_monitor.KerasMIACallback(monitor)])
    self.assertEqual([h["step"] for h in monitor.history], [1, 2])

  def test_markers(self):
    history = [
        {"step": 1, "test_accuracy": 0.5, "test_loss": 1.0},
        {"step": 2, "test_accuracy": 0.7, "test_loss": 0.8},
        {"step": 3, "test_accuracy": 0.6, "test_loss": 0.6},
        {"step": 4, "test_accuracy": 0.55, "test_loss": 0.9},
    ]
    self.assertEqual(mia_monitor.markers(history), (2, 3))
    self.assertEqual(mia_monitor.markers([]), (None, None))

  def test_bad_track_ids(self):
    data = fixtures.synthetic_run_data(n=8)
    with self.assertRaisesRegex(ValueError, "not members"):
      mia_monitor.MIAMonitor(data.train, data.evaluation["test"], "cifar10",
                             track_ids=[12345])


if __name__ == "__main__":
  absltest.main()
