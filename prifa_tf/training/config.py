"""Training configuration (configs as code) and its validation."""

import dataclasses
import json
import math
import os
from typing import Optional

from prifa_tf.privacy import guarantee

DATASETS = ("cifar10", "cifar100", "cifar10s", "cifar100s", "celeb_a")
SAMPLINGS = ("shuffle", "poisson")
AUDIT_METHODS = ("clopper-pearson", "bailey", "katz-log")


class ConfigError(ValueError):
  """An invalid configuration; the message says which field and why."""


@dataclasses.dataclass
class TrainConfig:
  """Everything that defines a training run. ``--set=help`` lists each field."""
  # Data.
  dataset: str = "cifar10"
  skew: float = 0.95
  data_dir: Optional[str] = None
  download: bool = False
  train_subset: Optional[int] = None
  test_subset: Optional[int] = None
  val_size: int = 0
  image_size: Optional[int] = None  # CelebA resize (square).
  # Model.
  model: str = "wrn_16_4"
  normalization: str = "group"
  groups: int = 16
  weight_standardization: bool = True
  pretrained: Optional[str] = None
  # Privacy.
  private: bool = True
  target_epsilon: Optional[float] = 8.0
  delta: float = 1e-5
  noise_multiplier: float = 3.0
  l2_norm_clip: float = 1.0
  accountant: str = "rdp"
  # TAN simulation (Sander et al. 2023) when > 1: batch_size and
  # noise_multiplier are a reference run's divided by tan_factor, for the
  # reference's step count (steps). target_epsilon is then the reference's
  # ε, simulated and never a guarantee; the run's own ε is far larger.
  tan_factor: int = 1
  # Poisson: every example joins each logical batch independently with
  # probability B/n, as the accountant assumes. "shuffle" is an explicit
  # option whose ε is only assumed (privacy/guarantee.py).
  sampling: str = "poisson"
  # Optimisation.
  batch_size: int = 4096
  physical_batch_size: int = 64
  steps: Optional[int] = None
  optimizer: str = "sgd"
  learning_rate: float = 2.0
  momentum: float = 0.0
  weight_decay: float = 0.0
  augmult: int = 16
  ema_decay: Optional[float] = 0.999
  eval_weights: str = "ema"
  sharpness_rho: float = 0.0
  per_example: str = "auto"
  early_stopping_patience: int = 0
  # Privacy audit: this many training examples become mislabelled canaries
  # (each inserted w.p. 1/2, the others left out) and the trainer reports an empirical ε
  # lower bound beside the accountant's ε (0: no audit).
  audit_canaries: int = 0
  audit_seed: int = 0
  audit_alpha: float = 0.05
  audit_method: str = "clopper-pearson"
  # Bookkeeping.
  seed: int = 0
  # Seed of the data subsets (train/test subset, validation split, CIFAR-S
  # gray choice); None: ``seed``. Shadow models (LiRA) share it and vary
  # ``seed``, so they draw from one candidate pool.
  subset_seed: Optional[int] = None
  # Private runs draw their noise and batch-sampling seeds from OS entropy
  # and keep them only in the workdir's secrets file. reproducible=True
  # seeds both from the config instead (noise: ``noise_seed``, else ``seed``;
  # sampling: ``seed``), for debugging and tests: its ε then holds only
  # against someone without the config.
  reproducible: bool = False
  # Noise from the OS CSPRNG with Opacus' secure-mode floating-point
  # mitigation (privacy/noise.py) instead of the seeded Philox generator.
  secure_noise: bool = False
  noise_seed: Optional[int] = None
  # Training loss, accuracy, clipped fraction and gradient norms are logged
  # without noise (labelled "not private"); False leaves them out of the
  # console, TensorBoard, progress.json and results.json.
  log_training_stats: bool = True
  eval_every: int = 100
  checkpoint_every: int = 50
  log_every: int = 10

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
    return {"cifar10s": "cifar10", "cifar100s": "cifar100"}.get(
        self.dataset, self.dataset)

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
    """Checks what the model, optimizer, accountant, strategy and data
    sizes accept, before any data is read or any file written."""
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
    need(not self.private or self.batch_size <= n,
         f"batch_size {self.batch_size} exceeds the {n} training examples.")


# One line of meaning per field: ``--set=help`` prints these with each
# field's type and default (``describe_fields``); a test keeps it complete.
FIELD_HELP = {
    "dataset": f"one of {DATASETS}; the S variants are CIFAR-10S/100S "
               "(colour/gray skew)",
    "skew": "CIFAR-S: fraction of each class's images kept in its majority "
            "domain (colour or gray)",
    "data_dir": "TFDS data directory (default: $PRIFA_TFDS_DIR, "
                "../shared/tfds, TFDS's own)",
    "download": "let TFDS download the data set",
    "train_subset": "use a seeded subset of this many training images",
    "test_subset": "use a seeded subset of this many test images",
    "val_size": "hold out this many training images for validation",
    "image_size": "CelebA: resize to this square size",
    "model": "wrn_16_4, wrn_28_10, wrn_16_1 or wrn_10_1",
    "normalization": "group (GN), batch (non-private only) or none",
    "groups": "GroupNorm groups",
    "weight_standardization": "WS on every convolution",
    "pretrained": "Keras HDF5 or TF checkpoint to start from (head reset)",
    "private": "DP-SGD / DP-SAT (True) or plain SGD / SAM (False)",
    "target_epsilon": "stop before ε would exceed this (finite; None needs "
                      "explicit steps)",
    "tan_factor": "TAN simulation: B and σ are a reference run's / k at its "
                  "steps; target_epsilon is then simulated, not a guarantee "
                  "(1: off)",
    "delta": "δ of the (ε, δ) guarantee",
    "noise_multiplier": "σ: noise std / clipping norm",
    "l2_norm_clip": "C: per-example clipping norm",
    "accountant": "rdp or pld (dp-accounting)",
    "sampling": "poisson (proven ε) or shuffle (ε only assumed)",
    "batch_size": "logical batch B (noise once per logical batch)",
    "physical_batch_size": "examples per forward/backward pass (b)",
    "steps": "training steps (None: as many as the target ε allows)",
    "optimizer": "sgd or adam",
    "learning_rate": "learning rate",
    "momentum": "SGD momentum",
    "weight_decay": "L2 weight decay",
    "augmult": "augmentation multiplicity K (0: no augmentation)",
    "ema_decay": "EMA decay of the averaged weights (None: no EMA)",
    "eval_weights": "weights evaluated and released: ema, polyak or last",
    "sharpness_rho": "ρ of SAM (non-private) or DP-SAT (private); 0: off",
    "per_example": "per-example gradients: auto, per_layer, loop or "
                   "vectorized",
    "early_stopping_patience": "evaluations without validation gain before "
                               "stopping (0: off)",
    "audit_canaries": "mislabelled canaries for the privacy audit (0: none)",
    "audit_seed": "which canaries, and which are inserted",
    "audit_alpha": "the audit's bound holds with confidence 1 - alpha",
    "audit_method": f"binomial bound: {AUDIT_METHODS}",
    "seed": "model initialisation and augmentation seed",
    "subset_seed": "seed of the data subsets (None: seed)",
    "reproducible": "seed noise and sampling from the config (debugging; "
                    "ε then holds only against someone without it)",
    "secure_noise": "noise from the OS CSPRNG, Opacus' secure mode",
    "noise_seed": "noise seed (needs reproducible=True)",
    "log_training_stats": "log loss, accuracy and gradient norms (not "
                          "private)",
    "eval_every": "evaluate every N steps",
    "checkpoint_every": "checkpoint every N steps",
    "log_every": "print a progress line every N steps",
}


def describe_fields() -> str:
  """Every TrainConfig field with its type, default and meaning."""
  rows = []
  for f in dataclasses.fields(TrainConfig):
    kind = (f.type.__name__ if isinstance(f.type, type) else
            str(f.type).replace("typing.", ""))
    rows.append((f.name, kind, repr(f.default), FIELD_HELP.get(f.name, "")))
  width = [max(len(r[i]) for r in rows) for i in range(3)]
  lines = ["TrainConfig fields (--set=name=value, repeatable):"]
  for r in rows:
    lines.append("  " + "  ".join(r[i].ljust(width[i]) for i in range(3))
                 + "  " + r[3])
  return "\n".join(lines)
