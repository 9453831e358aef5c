"""Configurations of the paper's experiments, as code, at three scales.

A run is described by a dataset, privacy (an epsilon or non-private), the
set of generalization techniques switched on, and a seed. ``make_config``
turns that into a ``TrainConfig``:

- **BL** (no technique): no normalization, no weight standardization, a
  small batch (``bl_batch``), no augmentation, last weights, plain SGD
  step.
- **GN**: group normalization with 16 groups.
- **OBS**: the paper's batch size (Table 1: 4096 private for CIFAR-10,
  16384 for CIFAR-100; 32/64 non-private).
- **WS**: weight standardization.
- **AM**: augmentation multiplicity K (16 in the paper; none for CelebA,
  whose Table 1 column leaves AM empty).
- **PA**: EMA of the parameters, evaluated with the EMA weights.
- **SAT**: sharpness-aware training: SAM when non-private, DP-SAT when
  private, with Table 1's radius.

Private runs stop at their epsilon. With the paper's batch, sigma is Table
1's and the step count follows from the budget. Any other batch (BL without
OBS) trains for the same number of epochs and gets the smallest sigma that
reaches the same epsilon there (``accounting.min_noise_multiplier``), so
every private row of a table spends the same budget.

Scales: ``paper`` (Table 1, full data), ``cpu`` (a small WRN on 20,000
images, about 20 minutes per private run on 2 cores: sized for the paper's
effects to show), ``smoke`` (a small WRN on a 2,000 image subset, a few
epochs: minutes per run on a CPU) and ``tiny`` (a few steps on 240 images,
for tests). ``load_scale`` also reads a Scale from a
Python file, and ``scale_with`` changes fields of one (``--scale_set``);
σ and the step counts are always computed from the scale's own sizes.
"""

import dataclasses
import functools
import json
import math
import os
import runpy
from typing import FrozenSet, Iterable, Optional

from prifa_tf import errors
from prifa_tf.data import tfds_loader
from prifa_tf.privacy import accounting
from prifa_tf.privacy import per_example as per_example_lib
from prifa_tf.training import presets
from prifa_tf.training.config import DATASETS
from prifa_tf.training.config import TrainConfig
from prifa_tf.training.config import base_dataset

TECHNIQUES = ("GN", "OBS", "WS", "AM", "PA", "SAT")
ALL = frozenset(TECHNIQUES)
EPSILONS = (1, 2, 4, 8)
DELTA = 1e-5
CELEBA_DELTA = 2.02e-5  # Table 1.


@dataclasses.dataclass(frozen=True)
class Scale:
  """Sizes that differ between the paper and the CPU scales.

  Attributes:
    name: scale name.
    train_subset, test_subset: data subsets (None: full split).
    models: model per base dataset.
    private_obs, nonprivate_obs: OBS batch per base dataset.
    bl_batch_private, bl_batch_nonprivate: batch without OBS.
    augmult: K for AM.
    private_epochs: epochs of a private run with OBS at Table 1's sigma
      (None: as many as the budget allows, the paper's rule).
    nonprivate_epochs: epochs of a non-private run.
    ema_decay: PA's decay.
    physical_batch: physical batch (memory only; results do not change).
    private_lr, nonprivate_lr, momentum: optimiser settings.
    image_size: CelebA resize.
    val_size: non-private validation split (early stopping).
    early_stopping_patience: evaluations without improvement.
    audit_canaries: canaries of the privacy audit in every private run on
      CIFAR (0: none). Override with ``--set=audit_canaries=0``.
    family: the built-in scale (paper, cpu, smoke, tiny) whose per-experiment
      defaults (LiRA models, Onion shadows, default datasets, the paper's
      pretrained start) this scale takes; a scale derived with
      ``dataclasses.replace`` keeps its parent's.
    per_example: the per-example gradient strategy of private runs
      (``TrainConfig.per_example``). ``auto`` everywhere but ``tiny``,
      whose few-step runs take ``loop``: it traces about 3x faster, and
      ``auto``'s route is tested on its own (tests/privacy).
  """
  name: str
  train_subset: Optional[int]
  test_subset: Optional[int]
  models: dict
  private_obs: dict
  nonprivate_obs: dict
  bl_batch_private: int
  bl_batch_nonprivate: int
  augmult: int
  private_epochs: Optional[float]
  nonprivate_epochs: float
  ema_decay: float
  physical_batch: int
  private_lr: dict
  nonprivate_lr: dict
  momentum: float
  image_size: Optional[int]
  val_size: int
  early_stopping_patience: int
  eval_every: int
  audit_canaries: int = 0
  family: str = ""
  per_example: str = "auto"


PAPER = Scale(
    name="paper", train_subset=None, test_subset=None,
    models={"cifar10": "wrn_16_4", "cifar100": "wrn_28_10",
            "celeb_a": "wrn_28_10"},
    private_obs={"cifar10": 4096, "cifar100": 16384, "celeb_a": 4096},
    nonprivate_obs={"cifar10": 32, "cifar100": 64, "celeb_a": 64},
    bl_batch_private=256, bl_batch_nonprivate=128, augmult=16,
    private_epochs=None, nonprivate_epochs=60, ema_decay=0.999,
    physical_batch=64,
    private_lr={"cifar10": 2.0, "cifar100": 4.0, "celeb_a": 2.0},
    nonprivate_lr={"cifar10": 0.01, "cifar100": 0.01, "celeb_a": 1e-4},
    momentum=0.9, image_size=64, val_size=5000, early_stopping_patience=5,
    eval_every=1000, audit_canaries=500, family="paper")

SMOKE = Scale(
    name="smoke", train_subset=2000, test_subset=1000,
    models={"cifar10": "wrn_10_1", "cifar100": "wrn_10_1",
            "celeb_a": "wrn_10_1"},
    private_obs={"cifar10": 400, "cifar100": 400, "celeb_a": 400},
    nonprivate_obs={"cifar10": 32, "cifar100": 32, "celeb_a": 32},
    bl_batch_private=100, bl_batch_nonprivate=128, augmult=4,
    private_epochs=4, nonprivate_epochs=4, ema_decay=0.9, physical_batch=100,
    private_lr={"cifar10": 2.0, "cifar100": 2.0, "celeb_a": 2.0},
    nonprivate_lr={"cifar10": 0.05, "cifar100": 0.05, "celeb_a": 0.05},
    momentum=0.9, image_size=32, val_size=0, early_stopping_patience=0,
    eval_every=100, audit_canaries=50, family="smoke")

TINY = dataclasses.replace(
    SMOKE, name="tiny", train_subset=240, test_subset=120,
    private_obs={"cifar10": 60, "cifar100": 60, "celeb_a": 60},
    nonprivate_obs={"cifar10": 30, "cifar100": 30, "celeb_a": 30},
    bl_batch_private=30, bl_batch_nonprivate=60, augmult=2,
    private_epochs=0.5, nonprivate_epochs=0.5, physical_batch=30,
    image_size=16, audit_canaries=10, family="tiny", per_example="loop")

# Sized for the paper's effects on one 2-core CPU (about 20 minutes per
# private run): WRN-10-1 on 20,000 CIFAR-10 images, B = 1,000 for 15 epochs
# (300 steps; σ ≈ 0.9 spends ε = 8), one augmented view per example (K = 1:
# K views cost K times the compute), and 6 non-private epochs. How each
# size was chosen, and what it reached: docs/reproduction_cpu.md.
CPU = Scale(
    name="cpu", train_subset=20_000, test_subset=2_000,
    models={"cifar10": "wrn_10_1", "cifar100": "wrn_10_1",
            "celeb_a": "wrn_10_1"},
    private_obs={"cifar10": 1000, "cifar100": 1000, "celeb_a": 1000},
    nonprivate_obs={"cifar10": 64, "cifar100": 64, "celeb_a": 64},
    bl_batch_private=250, bl_batch_nonprivate=128, augmult=1,
    private_epochs=15, nonprivate_epochs=6, ema_decay=0.99,
    physical_batch=250,
    private_lr={"cifar10": 2.0, "cifar100": 2.0, "celeb_a": 2.0},
    nonprivate_lr={"cifar10": 0.05, "cifar100": 0.05, "celeb_a": 0.05},
    momentum=0.9, image_size=32, val_size=0, early_stopping_patience=0,
    eval_every=100, audit_canaries=100, family="cpu")

# The README demo, sized for ten minutes on 2 cores: the CPU scale's recipe
# on 10,000 images with B = 500, so that the private run takes 120 steps
# (6 epochs) and the non-private one 3 epochs; the smoke family's
# per-experiment defaults. How it was sized and what it reached:
# docs/experiments/demo.md.
DEMO = dataclasses.replace(
    CPU, name="demo", train_subset=10_000,
    private_obs={"cifar10": 500, "cifar100": 500, "celeb_a": 500},
    private_epochs=6, nonprivate_epochs=3, ema_decay=0.98, eval_every=200,
    audit_canaries=50, family="smoke")

SCALES = {s.name: s for s in (PAPER, CPU, DEMO, SMOKE, TINY)}


def get_scale(name: str) -> Scale:
  if name not in SCALES:
    raise errors.UnknownNameError(
        f"Unknown scale {name!r}; choose one of {sorted(SCALES)}, or give a "
        "Python file that defines a Scale.")
  return SCALES[name]


def load_scale(spec: str) -> Scale:
  """A built-in scale by name, or the ``Scale`` a Python file defines.

  The file is run as a module; it names its scale ``SCALE``, or defines
  exactly one ``Scale``. For example::

    import dataclasses
    from prifa_tf.paper import configs
    SCALE = dataclasses.replace(configs.SMOKE, name="smoke_5k",
                                train_subset=5000)
  """
  if spec in SCALES:
    return SCALES[spec]
  if not spec.endswith(".py"):
    return get_scale(spec)
  if not os.path.isfile(spec):
    raise errors.BadInputError(f"--scale {spec}: no such file.")
  namespace = runpy.run_path(spec)
  found = ({"SCALE": namespace["SCALE"]} if "SCALE" in namespace else
           {k: v for k, v in namespace.items() if isinstance(v, Scale)
            and not k.startswith("_")})
  found = {k: v for k, v in found.items() if isinstance(v, Scale)}
  if len(found) != 1:
    raise errors.BadInputError(
        f"--scale {spec} must define one Scale (named SCALE, or the only "
        f"one); found {sorted(found) or 'none'}.")
  return validate_scale(next(iter(found.values())))


def _parse_scale_value(field, text: str, current):
  """``text`` as a value of Scale ``field`` (current value for dicts)."""
  try:
    value = json.loads(text)
  except json.JSONDecodeError:
    value = None if text.lower() == "none" else text
  if isinstance(current, dict):
    if isinstance(value, dict):
      unknown = set(value) - set(current)
      if unknown:
        raise errors.BadInputError(
            f"--scale_set={field.name}: unknown keys {sorted(unknown)}; the "
            f"keys are {sorted(current)}.")
      return {**current, **value}
    return {k: value for k in current}  # One value for every dataset.
  return value


def scale_with(scale: Scale, items: Iterable[str]) -> Scale:
  """``scale`` with ``field=value`` changes, named after them.

  Every size a run is calibrated from (subset, batches, epochs) lives in
  the scale, so σ and the step counts follow the changed sizes when the
  configs are made from it.
  """
  fields = {f.name: f for f in dataclasses.fields(Scale)}
  changes, items = {}, list(items)
  for item in items:
    key, sep, text = item.partition("=")
    if not sep or not key:
      raise errors.BadInputError(
          f"--scale_set expects field=value; got {item!r}.")
    if key not in fields or key in ("name", "family"):
      raise errors.BadInputError(
          f"--scale_set: unknown field {key!r}; the fields are "
          f"{sorted(set(fields) - {'name', 'family'})}.")
    changes[key] = _parse_scale_value(fields[key], text,
                                      getattr(scale, key))
  if not changes:
    return scale
  return validate_scale(dataclasses.replace(
      scale, name=f"{scale.name}[{','.join(items)}]", **changes))


def validate_scale(scale: Scale) -> Scale:
  """Checks the types and ranges of a scale's fields; returns it."""
  def need(ok, what):
    if not ok:
      raise errors.BadInputError(f"Scale {scale.name!r}: {what}.")
  need(scale.family in SCALES, f"family must be one of {sorted(SCALES)} "
       f"(whose per-experiment defaults it takes); got {scale.family!r}")
  def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)
  def is_num(v):
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v))
  for name in ("train_subset", "test_subset"):
    v = getattr(scale, name)
    need(v is None or (is_int(v) and v > 0), f"{name} must be None or an "
         f"integer > 0; got {v!r}")
  for name in ("bl_batch_private", "bl_batch_nonprivate", "physical_batch",
               "eval_every"):
    v = getattr(scale, name)
    need(is_int(v) and v > 0, f"{name} must be an integer > 0; got {v!r}")
  for name in ("augmult", "val_size", "early_stopping_patience",
               "audit_canaries"):
    v = getattr(scale, name)
    need(is_int(v) and v >= 0, f"{name} must be an integer >= 0; got {v!r}")
  need(scale.private_epochs is None or (is_num(scale.private_epochs) and
                                        scale.private_epochs > 0),
       "private_epochs must be None (the budget decides) or > 0")
  need(is_num(scale.nonprivate_epochs) and scale.nonprivate_epochs > 0,
       "nonprivate_epochs must be > 0")
  need(is_num(scale.ema_decay) and 0 < scale.ema_decay < 1,
       "ema_decay must be in (0, 1)")
  need(is_num(scale.momentum) and 0 <= scale.momentum < 1,
       "momentum must be in [0, 1)")
  need(scale.image_size is None or (is_int(scale.image_size) and
                                    scale.image_size > 0),
       "image_size must be None or an integer > 0")
  for name in ("private_obs", "nonprivate_obs"):
    v = getattr(scale, name)
    need(isinstance(v, dict) and all(is_int(b) and b > 0 for b in
                                     v.values()),
         f"{name} must map datasets to integers > 0; got {v!r}")
  for name in ("private_lr", "nonprivate_lr"):
    v = getattr(scale, name)
    need(isinstance(v, dict) and all(is_num(r) and r > 0 for r in
                                     v.values()),
         f"{name} must map datasets to rates > 0; got {v!r}")
  need(scale.per_example in per_example_lib.STRATEGIES,
       f"per_example must be one of {per_example_lib.STRATEGIES}; got "
       f"{scale.per_example!r}")
  need(isinstance(scale.models, dict) and all(
      isinstance(m, str) for m in scale.models.values()),
       f"models must map datasets to model names; got {scale.models!r}")
  return scale


def parse_techniques(items: Iterable[str]) -> FrozenSet[str]:
  out = frozenset(items)
  unknown = out - ALL
  if unknown:
    raise errors.BadInputError(
        f"Unknown techniques {sorted(unknown)}; choose from {TECHNIQUES}.")
  return out


def _train_size(scale: Scale, dataset: str) -> int:
  # CIFAR-S grays part of each class and keeps every image.
  return scale.train_subset or tfds_loader.SPLIT_SIZES[
      base_dataset(dataset)]["train"]


def _table1_sigma(dataset: str, epsilon: float) -> float:
  base = base_dataset(dataset)
  table = (presets.CIFAR100_SIGMA if base == "cifar100"
           else presets.CIFAR10_SIGMA)
  if epsilon not in table:
    raise errors.BadInputError(f"Table 1 has no sigma for epsilon={epsilon}.")
  return table[epsilon]


@functools.lru_cache(maxsize=None)
def _calibrated_sigma(n, batch, steps, epsilon, delta):
  return accounting.min_noise_multiplier(n, batch, steps, epsilon, delta)


def _private_schedule(scale, dataset, n, batch, epsilon, delta):
  """(sigma, steps or None) for a private run."""
  base = base_dataset(dataset)
  obs = scale.private_obs[base]
  if scale.private_epochs is None:
    sigma = _table1_sigma(dataset, epsilon)
    if batch == obs:
      return sigma, None
    obs_steps = accounting.max_steps(n, obs, sigma, epsilon, delta)
    epochs = obs_steps * obs / n
  else:
    epochs = scale.private_epochs
  steps = max(1, int(round(epochs * n / batch)))
  return _calibrated_sigma(n, batch, steps, float(epsilon), delta), steps


def _tan_simulation(cfg: TrainConfig, n: int, k: int) -> TrainConfig:
  """``cfg`` at B/k and σ/k for ``cfg``'s own step count (TAN)."""
  if not isinstance(k, int) or k < 1:
    raise errors.BadInputError(
        f"--tan_factor must be an integer >= 1; got {k!r}.")
  if cfg.batch_size % k:
    raise errors.BadInputError(
        f"--tan_factor={k} must divide the batch B={cfg.batch_size} (TAN "
        "keeps σ/B: B/k and σ/k exactly).")
  steps = cfg.steps or accounting.max_steps(
      n, cfg.batch_size, cfg.noise_multiplier, cfg.target_epsilon, cfg.delta)
  batch = cfg.batch_size // k
  return dataclasses.replace(
      cfg, batch_size=batch, noise_multiplier=cfg.noise_multiplier / k,
      steps=steps, physical_batch_size=min(cfg.physical_batch_size, batch),
      tan_factor=k, audit_canaries=0)


# The paper fine-tunes these from an ImageNet-pretrained WRN-28-10.
PRETRAINED_DATASETS = ("cifar100", "cifar100s", "celeb_a")


def missing_pretrained(configs, scale: Scale) -> list:
  """Datasets the paper fine-tunes from ImageNet that would start cold.

  Paper scale only: smaller scales train small models from scratch by
  design.
  """
  if scale.family != "paper":
    return []
  return sorted({c.dataset for c in configs
                 if c.dataset in PRETRAINED_DATASETS and not c.pretrained})


def make_config(dataset: str, epsilon: Optional[float], techniques,
                scale: Scale, seed: int = 0, skew: float = 0.95,
                pretrained: Optional[str] = None,
                tan_factor: int = 1) -> TrainConfig:
  """The TrainConfig of one cell of the paper's experiments.

  Args:
    dataset: one of ``DATASETS``.
    epsilon: target epsilon (private, delta 1e-5; 2.02e-5 for CelebA), or
      None for non-private training.
    techniques: subset of ``TECHNIQUES`` switched on.
    scale: ``PAPER``, ``SMOKE`` or ``TINY``.
    seed: data-order, initialisation and noise seed.
    skew: CIFAR-S colour/gray skew.
    pretrained: ImageNet checkpoint (paper: CIFAR-100(S), CelebA).
    tan_factor: k > 1 makes a private run a TAN simulation (Sander et al.
      2023) of this cell: batch B/k and noise σ/k for the cell's step
      count, k times cheaper; its ε is then labelled simulated
      (``TrainConfig.tan_label``). k must divide B. Non-private runs are
      unchanged.
  """
  if dataset not in DATASETS:
    raise errors.UnknownNameError(
        f"Unknown dataset {dataset!r}; choose from {DATASETS}.")
  techniques = parse_techniques(techniques)
  base = base_dataset(dataset)
  private = epsilon is not None
  n = _train_size(scale, dataset) - (0 if private else scale.val_size)
  if private:
    batch = scale.private_obs[base] if "OBS" in techniques \
        else scale.bl_batch_private
  else:
    batch = scale.nonprivate_obs[base] if "OBS" in techniques \
        else scale.bl_batch_nonprivate
  batch = min(batch, n)
  radius = 0.03 if base in ("cifar100", "celeb_a") else 0.05
  cfg = TrainConfig(
      dataset=dataset, skew=skew, train_subset=scale.train_subset,
      test_subset=scale.test_subset,
      image_size=scale.image_size if base == "celeb_a" else None,
      model=scale.models[base],
      normalization="group" if "GN" in techniques else "none", groups=16,
      weight_standardization="WS" in techniques, pretrained=pretrained,
      private=private, batch_size=batch,
      physical_batch_size=min(scale.physical_batch, batch),
      # Table 1 gives CelebA no augmentation multiplicity.
      augmult=scale.augmult if "AM" in techniques and base != "celeb_a"
      else 0,
      ema_decay=scale.ema_decay if "PA" in techniques else None,
      eval_weights="ema" if "PA" in techniques else "last",
      sharpness_rho=radius if "SAT" in techniques else 0.0,
      seed=seed, eval_every=scale.eval_every, per_example=scale.per_example,
      # Private: Poisson, as the accountant assumes; the paper's non-private
      # SAM runs shuffle.
      sampling="poisson" if private else "shuffle",
      checkpoint_every=max(1, scale.eval_every // 2), log_every=10)
  if private:
    delta = CELEBA_DELTA if base == "celeb_a" else DELTA
    sigma, steps = _private_schedule(scale, dataset, n, batch, epsilon, delta)
    cfg = dataclasses.replace(
        cfg, target_epsilon=float(epsilon), delta=delta,
        noise_multiplier=sigma, steps=steps, learning_rate=scale.private_lr[
            base], momentum=0.0,
        # Every private result on single-label data carries an audit.
        audit_canaries=0 if base == "celeb_a" else scale.audit_canaries,
        audit_seed=seed)
    if tan_factor != 1:
      cfg = _tan_simulation(cfg, n, tan_factor)
  else:
    steps = max(1, int(round(scale.nonprivate_epochs * n / batch)))
    cfg = dataclasses.replace(
        cfg, target_epsilon=None, steps=steps,
        learning_rate=scale.nonprivate_lr[base], momentum=scale.momentum,
        # Table 1's CelebA rate (1e-4) is an Adam rate.
        optimizer="adam" if base == "celeb_a" and scale.family == "paper"
        else "sgd",
        val_size=scale.val_size,
        early_stopping_patience=scale.early_stopping_patience)
  # About three progress lines per run in a log (a terminal shows a bar);
  # runs that stop at their ε (steps unknown here) log every 10 steps.
  cfg = dataclasses.replace(cfg, log_every=max(10, -(-(cfg.steps or 0) // 3)))
  return cfg.validate()
