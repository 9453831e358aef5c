"""Presets follow Table 1 and overrides parse with clear errors."""

import dataclasses

from absl.testing import absltest

from prifa_tf.training import config
from prifa_tf.training import presets


class PresetsTest(absltest.TestCase):

  def test_table1(self):
    for eps, sigma in ((1, 10.0), (2, 6.0), (4, 4.0), (8, 3.0)):
      cfg = presets.get(f"cifar10_dpsat_eps{eps}")
      self.assertEqual((cfg.noise_multiplier, cfg.batch_size, cfg.augmult,
                        cfg.model, cfg.sharpness_rho, cfg.target_epsilon),
                       (sigma, 4096, 16, "wrn_16_4", 0.05, eps))
      self.assertEqual(presets.get(f"cifar10_dpsgd_eps{eps}").sharpness_rho,
                       0.0)
    for eps, sigma in ((1, 21.1), (2, 15.8), (4, 12.0), (8, 9.4)):
      cfg = presets.get(f"cifar100_dpsat_eps{eps}")
      self.assertEqual((cfg.noise_multiplier, cfg.batch_size, cfg.model,
                        cfg.sharpness_rho), (sigma, 16384, "wrn_28_10", 0.03))
    for name in presets.PRESETS:
      presets.get(name).validate()

  def test_every_field_is_described(self):
    # --set=help is generated from the dataclass: a field without a line of
    # meaning (a new one, say) fails here.
    names = [f.name for f in dataclasses.fields(config.TrainConfig)]
    for f in dataclasses.fields(config.TrainConfig):
      self.assertTrue(f.metadata.get("help"), f.name)
      self.assertIn(f.metadata.get("kind"), config.KINDS, f.name)
    text = config.describe_fields().splitlines()
    self.assertLen(text, len(names) + 1)
    row = next(line for line in text if line.split()[0] == "noise_multiplier")
    self.assertEqual(row.split()[1:3], ["float", "3.0"])
    self.assertIn("σ", row)
    self.assertIn("[privacy]", row)
    row = next(line for line in text if line.split()[0] == "per_example")
    self.assertIn("[speed]", row)

  def test_overrides(self):
    cfg = presets.apply_overrides(presets.get("smoke"), [
        "steps=12", "learning_rate=0.5", "private=false", "test_subset=none",
        "sampling=poisson"])
    self.assertEqual((cfg.steps, cfg.learning_rate, cfg.private,
                      cfg.test_subset, cfg.sampling),
                     (12, 0.5, False, None, "poisson"))
    with self.assertRaisesRegex(ValueError, "Unknown config field"):
      presets.apply_overrides(presets.get("smoke"), ["stepz=3"])
    with self.assertRaisesRegex(ValueError, "expected"):
      presets.apply_overrides(presets.get("smoke"), ["steps=many"])
    with self.assertRaisesRegex(ValueError, "key=value"):
      presets.apply_overrides(presets.get("smoke"), ["steps"])
    with self.assertRaisesRegex(KeyError, "Unknown preset"):
      presets.get("cifar10_eps3")


if __name__ == "__main__":
  absltest.main()
