"""Named configurations: the paper's Table 1 and small CPU smoke runs.

Table 1 (Hassanpour et al. 2025): CIFAR-10(S) with WRN-16-4, B = 4096,
AM = 16, GN groups = 16, lr = 2, sigma = 10/6/4/3 for eps = 1/2/4/8, SAT
radius 0.05; CIFAR-100(S) with WRN-28-10 from ImageNet, B = 16384 (the
table's "16348" is read as a typo), sigma = 21.1/15.8/12/9.4, radius 0.03.
Non-private: lr 0.01, B = 32 (CIFAR-10) / 64 (CIFAR-100), AM = 16.
Private step counts are calibrated to the target epsilon ("stop at eps").
"""

import dataclasses

from prifa_tf import errors
from prifa_tf.training.config import TrainConfig

CIFAR10_SIGMA = {1: 10.0, 2: 6.0, 4: 4.0, 8: 3.0}
CIFAR100_SIGMA = {1: 21.1, 2: 15.8, 4: 12.0, 8: 9.4}


# Per dataset: model, B, sigma per epsilon, SAT radius, lr, physical batch.
_PRIVATE = {
    "cifar10": ("wrn_16_4", 4096, CIFAR10_SIGMA, 0.05, 2.0, 256),
    "cifar100": ("wrn_28_10", 16384, CIFAR100_SIGMA, 0.03, 4.0, 64),
}


def _private(dataset, eps, sat):
  model, batch, sigmas, radius, lr, physical = _PRIVATE[dataset]
  return TrainConfig(
      dataset=dataset, model=model, private=True, target_epsilon=eps,
      noise_multiplier=sigmas[eps], batch_size=batch, augmult=16,
      learning_rate=lr, ema_decay=0.999, eval_weights="ema",
      sharpness_rho=radius if sat else 0.0, physical_batch_size=physical)


def _presets():
  p = {}
  for dataset in _PRIVATE:
    for eps in (1, 2, 4, 8):
      p[f"{dataset}_dpsat_eps{eps}"] = _private(dataset, eps, sat=True)
      p[f"{dataset}_dpsgd_eps{eps}"] = _private(dataset, eps, sat=False)
  p["cifar10_nonprivate_sam"] = TrainConfig(
      dataset="cifar10", model="wrn_16_4", private=False, batch_size=32,
      physical_batch_size=32, augmult=16, learning_rate=0.01, momentum=0.9,
      steps=50_000, sharpness_rho=0.05, ema_decay=0.999, eval_weights="ema",
      val_size=5000, early_stopping_patience=5, eval_every=1000)
  p["cifar100_nonprivate_sam"] = dataclasses.replace(
      p["cifar10_nonprivate_sam"], dataset="cifar100", model="wrn_28_10",
      batch_size=64, physical_batch_size=64, sharpness_rho=0.03)
  # CPU smoke runs: a small WRN on a CIFAR-10 subset, minutes on 2 cores.
  p["smoke"] = TrainConfig(
      dataset="cifar10", model="wrn_10_1", private=False, train_subset=5000,
      test_subset=2000, batch_size=64, physical_batch_size=64, steps=300,
      learning_rate=0.05, momentum=0.9, augmult=1, ema_decay=0.99,
      eval_weights="last", eval_every=100, checkpoint_every=100, log_every=20)
  p["smoke_dpsgd"] = TrainConfig(
      dataset="cifar10", model="wrn_10_1", private=True, train_subset=5000,
      test_subset=2000, batch_size=250, physical_batch_size=125, steps=None,
      target_epsilon=8.0, noise_multiplier=0.8, l2_norm_clip=1.0,
      learning_rate=2.0, augmult=0, ema_decay=0.9, eval_weights="ema",
      eval_every=40, checkpoint_every=20, log_every=20)
  p["smoke_dpsat"] = dataclasses.replace(p["smoke_dpsgd"], sharpness_rho=0.05)
  p["smoke_sam"] = dataclasses.replace(p["smoke"], sharpness_rho=0.05)
  return p


PRESETS = _presets()


def get(name: str) -> TrainConfig:
  if name not in PRESETS:
    raise errors.UnknownNameError(
        f"Unknown preset {name!r}; choose one of {sorted(PRESETS)}.")
  return dataclasses.replace(PRESETS[name])


def apply_overrides(cfg: TrainConfig, overrides) -> TrainConfig:
  """Applies ``key=value`` strings, converting to each field's type."""
  fields = {f.name: f for f in dataclasses.fields(cfg)}
  changes = {}
  for item in overrides or ():
    if "=" not in item:
      raise errors.ConfigError(
          f"Override {item!r} is not of the form key=value.")
    key, raw = item.split("=", 1)
    key = key.strip()
    if key not in fields:
      raise errors.ConfigError(
          f"Unknown config field {key!r} in override {item!r}; fields: "
          f"{sorted(fields)}.")
    changes[key] = _parse(raw.strip(), getattr(cfg, key), fields[key], key)
  return dataclasses.replace(cfg, **changes)


def _parse(raw, current, field, key):
  if raw.lower() in ("none", "null"):
    return None
  kind = field.type if isinstance(field.type, str) else (
      field.type.__name__ if isinstance(field.type, type) else str(field.type))
  try:
    if "bool" in kind:
      if raw.lower() in ("1", "true", "yes"):
        return True
      if raw.lower() in ("0", "false", "no"):
        return False
      raise errors.ConfigError(raw)
    if "int" in kind:
      return int(raw)
    if "float" in kind:
      return float(raw)
  except ValueError:
    raise errors.ConfigError(
        f"Override {key}={raw!r}: expected {kind}.") from None
  return raw
