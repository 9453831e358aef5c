"""Training configuration (configs as code) and its validation."""

import dataclasses
import json
import math
import os
from typing import Optional

from prifa_tf.errors import ConfigError
from prifa_tf.privacy import guarantee

DATASETS = ("cifar10", "cifar100", "cifar10s", "cifar100s", "celeb_a")
# The skewed variants (CIFAR-10S/100S) are built from these TFDS datasets.
SKEWED_BASES = {"cifar10s": "cifar10", "cifar100s": "cifar100"}
SAMPLINGS = ("shuffle", "poisson")
AUDIT_METHODS = ("clopper-pearson", "bailey", "katz-log")


def check_batch_fits(batch_size: int, n: int) -> None:
  """A private run's logical batch B must not exceed its n examples."""
  if batch_size > n:
    raise ConfigError(f"batch_size {batch_size} exceeds the {n} training "
                      "examples.")


def base_dataset(dataset: str) -> str:
  """The TFDS dataset ``dataset`` is built from (cifar10s -> cifar10)."""
  return SKEWED_BASES.get(dataset, dataset)


# What a setting changes; ``--set=help`` tags every field with it.
PRIVACY = "privacy"  # The (ε, δ) guarantee, or what it assumes or releases.
MODEL = "model"  # The trained model, not the guarantee.
SPEED = "speed"  # Only speed, memory, where files go, or what is printed.
KINDS = {PRIVACY: "changes the (ε, δ) guarantee, or what it assumes or "
                  "releases",
         MODEL: "changes the model, not the guarantee",
         SPEED: "changes only speed, memory, paths or logging"}


def _field(default, kind: str, help_text: str):
  """A TrainConfig field: its default, what it changes, what it means."""
  return dataclasses.field(default=default,
                           metadata={"kind": kind, "help": help_text})


@dataclasses.dataclass
class TrainConfig:
  """Everything that defines a training run.

  Each field carries its meaning and what it changes (``PRIVACY``,
  ``MODEL`` or ``SPEED``) as metadata; ``--set=help`` prints them
  (``describe_fields``).
  """
  # Data.
  dataset: str = _field("cifar10", PRIVACY,
      f"one of {DATASETS}; the S variants are CIFAR-10S/100S (colour/gray "
      "skew)")
  skew: float = _field(0.95, MODEL,
      "CIFAR-S: fraction of each class's images kept in its majority domain "
      "(colour or gray)")
  data_dir: Optional[str] = _field(None, SPEED,
      "TFDS data directory (default: $PRIFA_TFDS_DIR, ../shared/tfds, TFDS's "
      "own)")
  download: bool = _field(False, SPEED, "let TFDS download the data set")
  train_subset: Optional[int] = _field(None, PRIVACY,
      "use a seeded subset of this many training images")
  test_subset: Optional[int] = _field(None, MODEL,
      "use a seeded subset of this many test images")
  val_size: int = _field(0, PRIVACY,
      "hold out this many training images for validation")
  image_size: Optional[int] = _field(None, MODEL,
      "CelebA: resize to this square size")
  # Model.
  model: str = _field("wrn_16_4", MODEL,
      "wrn_16_4, wrn_28_10, wrn_16_1 or wrn_10_1")
  normalization: str = _field("group", MODEL,
      "group (GN), batch (non-private only) or none")
  groups: int = _field(16, MODEL, "GroupNorm groups")
  weight_standardization: bool = _field(True, MODEL, "WS on every convolution")
  pretrained: Optional[str] = _field(None, MODEL,
      "Keras HDF5 or TF checkpoint to start from (head reset)")
  # Privacy.
  private: bool = _field(True, PRIVACY,
      "DP-SGD / DP-SAT (True) or plain SGD / SAM (False)")
  target_epsilon: Optional[float] = _field(8.0, PRIVACY,
      "stop before ε would exceed this (finite; None needs explicit steps)")
  delta: float = _field(1e-5, PRIVACY, "δ of the (ε, δ) guarantee")
  noise_multiplier: float = _field(3.0, PRIVACY, "σ: noise std / clipping norm")
  l2_norm_clip: float = _field(1.0, PRIVACY, "C: per-example clipping norm")
  accountant: str = _field("rdp", PRIVACY, "rdp or pld (dp-accounting)")
  # TAN simulation (Sander et al. 2023) when > 1: batch_size and
  # noise_multiplier are a reference run's divided by tan_factor, for the
  # reference's step count (steps). target_epsilon is then the reference's
  # ε, simulated and never a guarantee; the run's own ε is far larger.
  tan_factor: int = _field(1, PRIVACY,
      "TAN simulation: B and σ are a reference run's / k at its steps; "
      "target_epsilon is then simulated, not a guarantee (1: off)")
  # Poisson: every example joins each logical batch independently with
  # probability B/n, as the accountant assumes. "shuffle" is an explicit
  # option whose ε is only assumed (privacy/guarantee.py).
  sampling: str = _field("poisson", PRIVACY,
      "poisson (proven ε) or shuffle (ε only assumed)")
  # Optimisation.
  batch_size: int = _field(4096, PRIVACY,
      "logical batch B (noise once per logical batch)")
  physical_batch_size: int = _field(64, SPEED,
      "examples per forward/backward pass (b)")
  steps: Optional[int] = _field(None, PRIVACY,
      "training steps (None: as many as the target ε allows)")
  optimizer: str = _field("sgd", MODEL, "sgd or adam")
  learning_rate: float = _field(2.0, MODEL, "learning rate")
  momentum: float = _field(0.0, MODEL, "SGD momentum")
  weight_decay: float = _field(0.0, MODEL, "L2 weight decay")
  augmult: int = _field(16, MODEL,
      "augmentation multiplicity K (0: no augmentation)")
  ema_decay: Optional[float] = _field(0.999, MODEL,
      "EMA decay of the averaged weights (None: no EMA)")
  eval_weights: str = _field("ema", MODEL,
      "weights evaluated and released: ema, polyak or last")
  sharpness_rho: float = _field(0.0, MODEL,
      "ρ of SAM (non-private) or DP-SAT (private); 0: off")
  per_example: str = _field("auto", SPEED,
      "per-example gradients: auto, per_layer, loop or vectorized")
  early_stopping_patience: int = _field(0, MODEL,
      "evaluations without validation gain before stopping (0: off)")
  # Privacy audit: this many training examples become mislabelled canaries
  # (each inserted w.p. 1/2, the others left out) and the trainer reports an
  # empirical ε lower bound beside the accountant's ε (0: no audit).
  audit_canaries: int = _field(0, PRIVACY,
      "mislabelled canaries for the privacy audit (0: none)")
  audit_seed: int = _field(0, MODEL, "which canaries, and which are inserted")
  audit_alpha: float = _field(0.05, MODEL,
      "the audit's bound holds with confidence 1 - alpha")
  audit_method: str = _field("clopper-pearson", MODEL,
      f"binomial bound: {AUDIT_METHODS}")
  # Bookkeeping.
  seed: int = _field(0, MODEL, "model initialisation and augmentation seed")
  # Seed of the data subsets (train/test subset, validation split, CIFAR-S
  # gray choice); None: ``seed``. Shadow models (LiRA) share it and vary
  # ``seed``, so they draw from one candidate pool.
  subset_seed: Optional[int] = _field(None, MODEL,
      "seed of the data subsets (None: seed)")
  # Private runs draw their noise and batch-sampling seeds from OS entropy
  # and keep them only in the workdir's secrets file. reproducible=True
  # seeds both from the config instead (noise: ``noise_seed``, else ``seed``;
  # sampling: ``seed``), for debugging and tests: its ε then holds only
  # against someone without the config.
  reproducible: bool = _field(False, PRIVACY,
      "seed noise and sampling from the config (debugging; ε then holds only "
      "against someone without it)")
  # Noise from the OS CSPRNG with Opacus' secure-mode floating-point
  # mitigation (privacy/noise.py) instead of the seeded Philox generator.
  secure_noise: bool = _field(False, PRIVACY,
      "noise from the OS CSPRNG, Opacus' secure mode")
  noise_seed: Optional[int] = _field(None, PRIVACY,
      "noise seed (needs reproducible=True)")
  # Training loss, accuracy, clipped fraction and gradient norms are logged
  # without noise (labelled "not private"); False leaves them out of the
  # console, TensorBoard, progress.json and results.json.
  log_training_stats: bool = _field(True, PRIVACY,
      "log loss, accuracy and gradient norms (not private)")
  eval_every: int = _field(100, SPEED, "evaluate every N steps")
  checkpoint_every: int = _field(50, SPEED, "checkpoint every N steps")
  log_every: int = _field(10, SPEED, "print a progress line every N steps")

  # Fields that may change between a run and its resumption.
  RESUMABLE_CHANGES = ("eval_every", "checkpoint_every", "log_every",
                       "log_training_stats",
                       "data_dir", "download")

  def to_dict(self):
    return dataclasses.asdict(self)

  def to_json(self):
    return json.dumps(self.to_dict(), indent=2, sort_keys=True)

  @classmethod
  def from_dict(cls, d):
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
      raise ConfigError(f"Unknown config fields {sorted(unknown)}.")
    return cls(**d)

  @property
  def base_dataset(self) -> str:
    return base_dataset(self.dataset)

  @property
  def data_seed(self) -> int:
    return self.seed if self.subset_seed is None else self.subset_seed

  @property
  def tan_label(self) -> Optional[str]:
    """How this run's ε must be read when it simulates another (else None)."""
    if self.tan_factor == 1:
      return None
    return guarantee.tan_label(self.tan_factor, self.target_epsilon,
                               self.batch_size * self.tan_factor)

  @property
  def skewed(self) -> bool:
    return self.dataset in ("cifar10s", "cifar100s")

  def validate(self) -> "TrainConfig":
    """Raises ConfigError on any inconsistent setting; returns self."""
    def need(cond, msg):
      if not cond:
        raise ConfigError(msg)
    need(self.dataset in DATASETS, f"dataset must be one of {DATASETS}.")
    need(0.5 < self.skew < 1.0, "skew must be in (0.5, 1).")
    need(self.sampling in SAMPLINGS, f"sampling must be one of {SAMPLINGS}.")
    need(self.batch_size >= 1, "batch_size must be >= 1.")
    need(self.physical_batch_size >= 1, "physical_batch_size must be >= 1.")
    need(self.augmult >= 0, "augmult must be >= 0.")
    need(self.learning_rate > 0, "learning_rate must be > 0.")
    need(self.sharpness_rho >= 0, "sharpness_rho must be >= 0.")
    need(self.eval_weights in ("last", "ema", "polyak"),
         "eval_weights must be last, ema or polyak.")
    need(self.eval_weights == "last" or self.ema_decay is not None,
         "eval_weights=ema/polyak needs ema_decay (parameter averaging) set.")
    need(self.ema_decay is None or 0 < self.ema_decay < 1,
         "ema_decay must be in (0, 1).")
    need(self.eval_every >= 1 and self.checkpoint_every >= 1 and
         self.log_every >= 1, "eval/checkpoint/log intervals must be >= 1.")
    need(self.val_size >= 0, "val_size must be >= 0.")
    need(self.image_size is None or self.image_size >= 8,
         f"image_size must be None (no resize) or >= 8; got "
         f"{self.image_size}.")
    for field in ("seed", "audit_seed", "subset_seed", "noise_seed"):
      value = getattr(self, field)
      need(value is None or 0 <= value < 2**32,
           f"{field} must be in [0, 2**32 - 1]; got {value}.")
    need(self.audit_canaries == 0 or self.audit_canaries >= 2,
         "audit_canaries must be 0 (no audit) or >= 2.")
    need(self.audit_canaries == 0 or self.dataset != "celeb_a",
         "the canary audit needs single-label data; CelebA is multi-label "
         "(set audit_canaries=0).")
    need(0 < self.audit_alpha < 0.5, "audit_alpha must be in (0, 0.5).")
    need(self.audit_method in AUDIT_METHODS,
         f"audit_method must be one of {AUDIT_METHODS}.")
    need(isinstance(self.tan_factor, int) and self.tan_factor >= 1,
         "tan_factor must be an integer >= 1 (1: no TAN simulation).")
    if self.tan_factor > 1:
      need(self.private, "tan_factor > 1 simulates a private run; this one "
           "is non-private (set tan_factor=1).")
      need(self.steps is not None and self.target_epsilon is not None,
           "a TAN simulation runs a reference run's steps for its ε: give "
           "steps and target_epsilon (the reference's).")
      need(self.audit_canaries == 0,
           "a TAN simulation claims no ε to audit: set audit_canaries=0.")
    need(self.early_stopping_patience == 0 or self.val_size > 0,
         "early stopping needs a validation split (val_size > 0).")
    if self.private:
      need(self.normalization != "batch",
           "BatchNorm cannot be used for private training (no per-example "
           "gradients); use normalization=group or none.")
      need(self.noise_multiplier > 0, "private training needs "
           "noise_multiplier > 0 (sigma = 0 has no finite epsilon).")
      need(self.l2_norm_clip > 0, "l2_norm_clip must be > 0.")
      need(0 < self.delta < 1, "delta must be in (0, 1).")
      need(self.target_epsilon is not None or self.steps is not None,
           "private training needs target_epsilon or steps.")
      need(self.target_epsilon is None or (
          math.isfinite(self.target_epsilon) and self.target_epsilon > 0),
           "target_epsilon must be finite and > 0 (an infinite target never "
           "binds: give a finite one, or explicit steps).")
      need(self.reproducible or self.noise_seed is None,
           "noise_seed fixes the noise, which must stay secret: drop it (each "
           "run then draws its own from OS entropy), or set reproducible=True "
           "(its ε holds only against someone without the seed).")
      need(not (self.secure_noise and self.reproducible),
           "secure_noise draws from the OS CSPRNG and cannot be reproduced: "
           "drop reproducible=True or secure_noise=True.")
      need(not self.secure_noise or
           self.eval_every % self.checkpoint_every == 0,
           "secure_noise releases evaluations only at checkpoints (a resumed "
           "run redoes the steps since the last one with fresh noise): "
           "eval_every must be a multiple of checkpoint_every.")
      need(self.early_stopping_patience == 0,
           "early stopping would select on held-out data after the fact; the "
           "paper uses the privacy budget as the stopping rule for DP runs.")
    else:
      need(self.steps is not None and self.steps > 0,
           "non-private training needs steps > 0.")
    need(self.steps is None or self.steps > 0, "steps must be > 0.")
    self._validate_components(need)
    return self

  def validate_files(self) -> "TrainConfig":
    """Checks the files the run will read (before any data is loaded)."""
    if self.pretrained is not None and not os.path.isfile(self.pretrained):
      raise ConfigError(
          f"pretrained checkpoint {self.pretrained!r} is not a file.")
    return self

  def _validate_components(self, need):
    """Checks what the model, optimizer, accountant and strategy accept.

    And the data sizes, before any data is read or any file written.
    """
    # pylint: disable=g-import-not-at-top
    from prifa_tf.models import wide_resnet as models
    from prifa_tf.data import tfds_loader
    from prifa_tf.optim import optimizers
    from prifa_tf.privacy import accounting
    from prifa_tf.privacy import per_example
    # pylint: enable=g-import-not-at-top
    need(self.model in models.NAMED,
         f"model must be one of {sorted(models.NAMED)}; got {self.model!r}.")
    need(self.optimizer in optimizers.OPTIMIZERS, "optimizer must be one of "
         f"{optimizers.OPTIMIZERS}; got {self.optimizer!r}.")
    need(self.accountant in accounting.ACCOUNTANTS, "accountant must be one "
         f"of {accounting.ACCOUNTANTS}; got {self.accountant!r}.")
    need(self.per_example in per_example.STRATEGIES, "per_example must be "
         f"one of {per_example.STRATEGIES}; got {self.per_example!r}.")
    need(self.groups >= 1, f"groups must be >= 1; got {self.groups}.")
    try:
      models.named_config(
          self.model, normalization=self.normalization, groups=self.groups,
          weight_standardization=self.weight_standardization).validate(
              private=self.private)
    except ValueError as e:
      raise ConfigError(str(e)) from e
    sizes = tfds_loader.SPLIT_SIZES[self.base_dataset]
    need(self.train_subset is None or 0 < self.train_subset <= sizes["train"],
         f"train_subset must be in [1, {sizes['train']}] (the {self.dataset} "
         f"training split); got {self.train_subset}.")
    need(self.test_subset is None or 0 < self.test_subset <= sizes["test"],
         f"test_subset must be in [1, {sizes['test']}] (the {self.dataset} "
         f"test split); got {self.test_subset}.")
    n = (self.train_subset or sizes["train"]) - self.val_size
    need(n > 0, f"val_size {self.val_size} leaves no training data.")
    if self.private:
      check_batch_fits(self.batch_size, n)



def describe_fields() -> str:
  """Every TrainConfig field: type, default, what it changes, meaning."""
  rows = []
  for f in dataclasses.fields(TrainConfig):
    kind = (f.type.__name__ if isinstance(f.type, type) else
            str(f.type).replace("typing.", ""))
    rows.append((f.name, kind, repr(f.default), f"[{f.metadata['kind']}]",
                 f.metadata["help"]))
  width = [max(len(r[i]) for r in rows) for i in range(4)]
  legend = "; ".join(f"[{k}] {v}" for k, v in KINDS.items())
  lines = [f"TrainConfig fields (--set=name=value, repeatable). {legend}:"]
  for r in rows:
    lines.append("  " + "  ".join(r[i].ljust(width[i]) for i in range(4))
                 + "  " + r[4])
  return "\n".join(lines)
