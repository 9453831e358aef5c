"""A private run's seeds: secret by default, reproducible only on request."""

import os
import stat

from absl.testing import absltest

from prifa_tf.training import secrets
from prifa_tf.training.checkpointing import WorkdirError
from prifa_tf.training.config import ConfigError
from tests import fixtures


def secret_config(**kw):
  return fixtures.private_config(reproducible=False, noise_seed=None, **kw)


class SecretsTest(absltest.TestCase):

  def test_private_runs_draw_their_own_seeds(self):
    cfg = secret_config()
    draws = [secrets.load_or_draw(cfg, self.create_tempdir().full_path)
             for _ in range(4)]
    self.assertTrue(all(d.secret for d in draws))
    values = {v for d in draws for v in (d.noise, d.sampling)}
    self.assertLen(values, 8)  # No two runs, and no two uses, share a seed.
    self.assertNotIn(str(draws[0].noise), repr(draws[0]))

  def test_pinned_file_is_private_and_read_back(self):
    workdir = self.create_tempdir().full_path
    cfg = secret_config()
    seeds = secrets.load_or_draw(cfg, workdir)
    self.assertFalse(os.path.exists(os.path.join(workdir,
                                                 secrets.SECRETS_FILE)))
    secrets.pin(seeds, workdir)
    path = os.path.join(workdir, secrets.SECRETS_FILE)
    self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
    self.assertEqual(secrets.load_or_draw(cfg, workdir), seeds)
    secrets.pin(secrets.load_or_draw(cfg, self.create_tempdir().full_path),
                workdir)  # Never overwritten.
    self.assertEqual(secrets.load_or_draw(cfg, workdir), seeds)

  def test_checkpoints_without_secrets_refuse_to_resume(self):
    workdir = self.create_tempdir().full_path
    os.makedirs(os.path.join(workdir, "checkpoints"))
    open(os.path.join(workdir, "checkpoints", "ckpt-4.index"), "w").close()
    with self.assertRaisesRegex(WorkdirError, "secrets.json"):
      secrets.load_or_draw(secret_config(), workdir)
    with open(os.path.join(workdir, secrets.SECRETS_FILE), "w") as f:
      f.write("{garbage")
    with self.assertRaisesRegex(WorkdirError, "unreadable"):
      secrets.load_or_draw(secret_config(), workdir)

  def test_reproducible_and_nonprivate_runs_use_the_config(self):
    workdir = self.create_tempdir().full_path
    seeds = secrets.load_or_draw(fixtures.private_config(seed=3), workdir)
    self.assertEqual((seeds.noise, seeds.sampling, seeds.secret),
                     (123, 3, False))
    seeds = secrets.load_or_draw(
        fixtures.private_config(seed=3, noise_seed=None), workdir)
    self.assertEqual(seeds.noise, 3)
    secrets.pin(seeds, workdir)
    self.assertFalse(os.path.exists(os.path.join(workdir,
                                                 secrets.SECRETS_FILE)))

  def test_a_fixed_noise_seed_needs_reproducible(self):
    with self.assertRaisesRegex(ConfigError, "reproducible=True"):
      fixtures.private_config(reproducible=False, noise_seed=5).validate()
    fixtures.private_config(reproducible=False, noise_seed=None).validate()


if __name__ == "__main__":
  absltest.main()
