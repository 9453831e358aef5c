"""The resumable trainer: kill/resume, budget guard, bad input."""

import os

from absl.testing import absltest
import pandas as pd

from prifa_tf.evaluation import run_evaluation
from prifa_tf.privacy import accounting
from prifa_tf.reporting import tables
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import checkpointing
from prifa_tf.training import config as config_lib
from prifa_tf.training import trainer as trainer_lib
from tests import fixtures

class TrainerTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_budget_guard_stops_at_target(self):
    workdir = self.create_tempdir().full_path
    trainer = fixtures.make_trainer(workdir, target_epsilon=3.0, steps=10_000,
                                    noise_multiplier=2.0)
    res = trainer.run()
    limit = accounting.max_steps(32, 8, 2.0, 3.0, 1e-5)
    self.assertEqual(res["steps"], limit)
    self.assertEqual(res["stop_reason"], "privacy_budget")
    self.assertLessEqual(res["privacy"]["epsilon"], 3.0)
    self.assertGreater(accounting.epsilon(32, 8, 2.0, limit + 1, 1e-5), 3.0)
    self.assertEqual(res["privacy"]["noise_draws"], limit)  # Once per step.

  def test_results_file(self):
    workdir = self.create_tempdir().full_path
    res = fixtures.make_trainer(workdir, steps=2, ema_decay=0.9,
                                eval_weights="ema").run()
    on_disk = results_lib.read_json(os.path.join(workdir, "results.json"))
    self.assertEqual(on_disk["status"], "completed")
    self.assertEqual(on_disk["steps"], 2)
    self.assertAlmostEqual(on_disk["privacy"]["epsilon"],
                           accounting.epsilon(32, 8, 1.0, 2, 1e-5))
    self.assertEqual(on_disk["privacy"]["sampling_assumed_by_accountant"],
                     "poisson")
    self.assertIn("test_accuracy", on_disk["metrics"])
    self.assertIn("train_accuracy", on_disk["metrics"])
    self.assertIsNotNone(on_disk["metrics_last_weights"])
    self.assertEqual(res["config"]["noise_seed"], 123)
    # The README's TensorBoard scalars, read back, at every step.
    scalars = fixtures.read_scalars(os.path.join(workdir, "tensorboard"))
    for tag in ("train/loss", "train/batch_accuracy", "train/learning_rate",
                "privacy/epsilon", "privacy/clipped_fraction",
                "privacy/grad_norm_mean", "privacy/grad_norm_max"):
      self.assertEqual(sorted(scalars.get(tag, {})), [1, 2], tag)
    self.assertAlmostEqual(scalars["privacy/epsilon"][2],
                           on_disk["privacy"]["epsilon"], places=5)
    self.assertLess(scalars["privacy/epsilon"][1],
                    scalars["privacy/epsilon"][2])
    self.assertAlmostEqual(scalars["train/learning_rate"][2], 0.5)
    self.assertTrue(0 <= scalars["privacy/clipped_fraction"][2] <= 1)
    self.assertGreaterEqual(scalars["privacy/grad_norm_max"][2],
                            scalars["privacy/grad_norm_mean"][2])
    self.assertAlmostEqual(scalars["eval/test_accuracy"][2],  # EMA weights.
                           on_disk["metrics"]["test_accuracy"], places=5)
    # Provenance: the commit, the packages, the devices, the command.
    prov = on_disk["provenance"]
    self.assertRegex(prov["git_commit"] or "", r"^[0-9a-f]{40}$")
    self.assertIsInstance(prov["git_dirty"], bool)
    self.assertRegex(prov["packages"]["tensorflow"], r"^2\.15\.")
    for name in ("tensorflow-privacy", "dp-accounting", "numpy",
                 "scikit-learn"):
      self.assertTrue(prov["packages"][name], name)
    self.assertIn("/device:CPU:0", prov["devices"]["visible"])
    self.assertTrue(prov["command"])

  def test_config_mismatch_refused(self):
    workdir = self.create_tempdir().full_path
    fixtures.make_trainer(workdir, steps=1).run()
    with self.assertRaisesRegex(checkpointing.WorkdirError,
                                "different config.*learning_rate"):
      fixtures.make_trainer(workdir, steps=1, learning_rate=0.1)

  def test_corrupt_checkpoint_clear_error_and_nothing_lost(self):
    workdir = self.create_tempdir().full_path
    fixtures.make_trainer(workdir, steps=2, checkpoint_every=1).run()
    os.remove(os.path.join(workdir, "results.json"))
    ckpt_dir = os.path.join(workdir, "checkpoints")
    data_files = [f for f in os.listdir(ckpt_dir) if ".data-" in f]
    for f in data_files:
      with open(os.path.join(ckpt_dir, f), "wb") as fh:
        fh.write(b"garbage")
    before = sorted(os.listdir(ckpt_dir))
    with self.assertRaisesRegex(checkpointing.WorkdirError,
                                "corrupt or incompatible"):
      fixtures.make_trainer(workdir, steps=2, checkpoint_every=1).run()
    self.assertEqual(sorted(os.listdir(ckpt_dir)), before)

  def test_nan_loss_stops_and_keeps_checkpoint(self):
    workdir = self.create_tempdir().full_path
    with self.assertRaisesRegex(trainer_lib.TrainingDivergedError,
                                "Non-finite"):
      fixtures.make_trainer(workdir, private=False, steps=30,
                            learning_rate=1e30, checkpoint_every=1).run()
    self.assertFalse(os.path.exists(os.path.join(workdir, "results.json")))
    self.assertTrue(os.listdir(os.path.join(workdir, "checkpoints")))

  def test_early_stopping_non_private(self):
    workdir = self.create_tempdir().full_path
    data = fixtures.synthetic_run_data(n=32)
    data.validation = fixtures.synthetic_set(16, seed=5, id_offset=500)
    res = fixtures.make_trainer(
        workdir, data=data, private=False, steps=200, val_size=16,
        early_stopping_patience=2, eval_every=1, learning_rate=1e-6).run()
    self.assertEqual(res["stop_reason"], "early_stopping")
    self.assertLess(res["steps"], 200)
    self.assertTrue(res["eval_weights"].startswith("best_validation@"))

  def test_config_validation(self):
    with self.assertRaisesRegex(config_lib.ConfigError, "BatchNorm"):
      fixtures.private_config(normalization="batch").validate()
    with self.assertRaisesRegex(config_lib.ConfigError, "noise_multiplier"):
      fixtures.private_config(noise_multiplier=0.0).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, "validation split"):
      fixtures.private_config(private=False, early_stopping_patience=3
                              ).validate()
    with self.assertRaisesRegex(config_lib.ConfigError, "one step exceeds"):
      fixtures.make_trainer(self.create_tempdir().full_path, steps=None,
                            target_epsilon=0.01).run()

  def test_private_runs_sample_poisson_by_default(self):
    self.assertEqual(config_lib.TrainConfig().sampling, "poisson")
    self.assertFalse(config_lib.TrainConfig().reproducible)
    workdir = self.create_tempdir().full_path
    lines = []
    trainer = trainer_lib.Trainer(
        fixtures.private_config(steps=4, log_every=1, batch_size=8),
        workdir, data=fixtures.synthetic_run_data(n=32), log=lines.append)
    res = trainer.run()
    self.assertTrue(res["privacy"]["epsilon_basis"].startswith("proven"))
    # Poisson: logical batches vary in size (8 expected of 32).
    sizes = {len(trainer.sampler.indices(t)) for t in range(20)}
    self.assertGreater(len(sizes), 2)
    self.assertTrue(any("eps[poisson]=" in line for line in lines), lines)

  def test_shuffled_epsilon_is_labelled_assumed(self):
    workdir = self.create_tempdir().full_path
    lines = []
    res = trainer_lib.Trainer(
        fixtures.private_config(steps=6, log_every=1, sampling="shuffle"),
        workdir, data=fixtures.synthetic_run_data(n=32),
        log=lines.append).run()
    p = res["privacy"]
    self.assertTrue(p["epsilon_basis"].startswith("assumed, not proven"))
    # 6 steps of 8 from 32: two epochs begun, so two participations.
    self.assertAlmostEqual(p["epsilon_without_amplification"],
                           accounting.epsilon_without_amplification(
                               1.0, 2, 1e-5))
    self.assertIn("only against someone without", p["randomness"])
    scalars = fixtures.read_scalars(os.path.join(workdir, "tensorboard"))
    self.assertNotIn("privacy/epsilon", scalars)
    self.assertEqual(
        sorted(scalars["privacy/epsilon_assumed_poisson_but_shuffled"]),
        list(range(1, 7)))
    step_lines = [line for line in lines if line.startswith("step ")]
    self.assertLen(step_lines, 6)
    finals = [line for line in lines if line.startswith("final")]
    for line in step_lines + finals:
      self.assertIn("eps[assumed-poisson,shuffled]=", line)

  def test_tan_simulation_is_labelled_everywhere(self):
    # B=8, σ=0.5 simulating B=32, σ=2 at ε=8: the run takes its 3 steps
    # (no budget guard at the simulated ε) and never claims that ε.
    workdir = self.create_tempdir().full_path
    lines = []
    res = trainer_lib.Trainer(
        fixtures.private_config(target_epsilon=8.0, steps=3, tan_factor=4,
                                noise_multiplier=0.5),
        workdir, data=fixtures.synthetic_run_data(n=32),
        log=lines.append).run()
    label = ("simulated (TAN ×4): the noise of ε=8 at B=32; not a privacy "
             "guarantee")
    p = res["privacy"]
    self.assertEqual(res["steps"], 3)
    self.assertEqual(p["tan_simulation"], {
        "label": label, "tan_factor": 4, "simulated_epsilon": 8.0,
        "reference_batch_size": 32, "reference_noise_multiplier": 2.0})
    self.assertTrue(p["epsilon_basis"].startswith(label + "; "))
    self.assertEqual(p["epsilon"], accounting.epsilon(32, 8, 0.5, 3, 1e-5))
    self.assertGreater(p["epsilon"], 8.0)
    header = [line for line in lines if line.startswith("Training ")]
    final = [line for line in lines if line.startswith("final: ")]
    self.assertIn(label, header[0])
    self.assertNotIn("target eps=8", header[0])
    self.assertIn(f"[this run's own ε; the run is {label}]", final[0])
    row = tables.flatten({"privacy_budget": p})
    self.assertEqual(row["epsilon_basis"], label)
    self.assertIn("which it does not guarantee",
                  tables.epsilon_note(pd.DataFrame([row])))
    self.assertIn("(this run's own; the run is " + label + ")",
                  run_evaluation.epsilon_text({"privacy_budget": p}))
    events = ""
    for root, _, files in os.walk(os.path.join(workdir, "tensorboard")):
      for name in files:
        with open(os.path.join(root, name), "rb") as f:
          events += f.read().decode("utf-8", "replace")
    self.assertIn(label, events)

  def test_training_statistics_are_labelled_not_private(self):
    workdir = self.create_tempdir().full_path
    res = fixtures.make_trainer(workdir, steps=2).run()
    self.assertEqual(res["initialisation"], "random (trained from scratch)")
    self.assertIn("not private", res["last_batch_note"])
    self.assertIn("clipped_fraction", res["last_batch"])
    notes = fixtures.read_descriptions(os.path.join(workdir, "tensorboard"))
    for tag in ("train/loss", "train/batch_accuracy",
                "privacy/clipped_fraction", "privacy/grad_norm_max"):
      self.assertIn("not private", notes.get(tag, ""), tag)
    self.assertIn("eps[poisson]", notes["privacy/epsilon"])
    self.assertIn("train_accuracy", res["metrics"])
    self.assertIn("not private", res["metrics_notes"]["train_accuracy"])
    # And an option to leave them out everywhere.
    quiet = self.create_tempdir().full_path
    lines = []
    res = trainer_lib.Trainer(
        fixtures.private_config(steps=2, log_every=1,
                                log_training_stats=False),
        quiet, data=fixtures.synthetic_run_data(n=32),
        log=lines.append).run()
    self.assertEqual(res["last_batch"], {})
    scalars = fixtures.read_scalars(os.path.join(quiet, "tensorboard"))
    for tag in ("train/loss", "train/batch_accuracy",
                "privacy/clipped_fraction", "privacy/grad_norm_mean",
                "privacy/grad_norm_max"):
      self.assertNotIn(tag, scalars)
    self.assertIn("privacy/epsilon", scalars)
    step_lines = [line for line in lines if line.startswith("step ")]
    self.assertLen(step_lines, 2)
    for line in step_lines:
      self.assertNotIn("loss=", line)
      self.assertNotIn("clipped=", line)
    progress = results_lib.read_json(os.path.join(quiet, "progress.json"))
    self.assertEqual(progress["last_batch"], {})
    # The final weights' training accuracy is exact: labelled where shown,
    # left out with log_training_stats=False.
    self.assertNotIn("train_accuracy", res["metrics"])
    self.assertEqual(res["metrics_notes"], {})
    final_line = [line for line in lines if line.startswith("final:")]
    self.assertLen(final_line, 1)
    self.assertNotIn("train_accuracy", final_line[0])
    self.assertIn("test_accuracy=", final_line[0])

  def test_secure_noise_run(self):
    workdir = self.create_tempdir().full_path
    res = fixtures.make_trainer(workdir, steps=2, secure_noise=True,
                                reproducible=False, noise_seed=None).run()
    self.assertTrue(res["privacy"]["noise_generator"].startswith("secure"))
    self.assertEqual(res["privacy"]["noise_draws"], 2)
    with self.assertRaisesRegex(config_lib.ConfigError, "cannot be reproduced"):
      fixtures.private_config(secure_noise=True).validate()

  def test_secure_noise_releases_only_checkpointed_steps(self):
    # A resumed secure-noise run redoes the steps since the last checkpoint
    # with fresh noise: whatever those steps released would come from a
    # draw that is never accounted. So evaluations and step callbacks run
    # only at checkpointed steps, after the checkpoint is written.
    secure = dict(secure_noise=True, reproducible=False, noise_seed=None)
    with self.assertRaisesRegex(config_lib.ConfigError, "eval_every"):
      fixtures.private_config(eval_every=3, checkpoint_every=2,
                              **secure).validate()
    workdir = self.create_tempdir().full_path
    seen = []

    def callback(trainer_obj, step):
      latest = trainer_obj.manager.latest_checkpoint
      seen.append((step, latest is not None and
                   latest.endswith(f"-{step}")))

    trainer_obj = trainer_lib.Trainer(
        fixtures.private_config(steps=5, checkpoint_every=2, eval_every=2,
                                **secure),
        workdir, data=fixtures.synthetic_run_data(n=32), log=lambda _: None,
        step_callback=callback)
    trainer_obj.run()
    self.assertEqual(seen, [(2, True), (4, True), (5, True)])
    evals = fixtures.read_scalars(os.path.join(workdir, "tensorboard"))
    steps = {s for tag, v in evals.items() if tag.startswith("eval/")
             for s in v}
    self.assertEqual(steps, {2, 4, 5})


if __name__ == "__main__":
  absltest.main()
