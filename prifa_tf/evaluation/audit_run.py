"""One audited training run: canaries in, train, lower bound out.

The trainer does the audit whenever a config has ``audit_canaries > 0``;
this is the standalone entry point of ``experiments/audit.py``. The workdir
gets ``audit.json`` (per-canary scores) and the summary in
``results.json``, beside the accountant's ε. A failed audit raises
``attacks.audit.AuditFailure`` after both files are written.
"""

import dataclasses
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from prifa_tf.privacy import audit as audit_lib
from prifa_tf.attacks import step_audit
from prifa_tf.data import augment
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import trainer as trainer_lib

AUDIT_FILE = trainer_lib.AUDIT_FILE
STEP_AUDIT_FILE = "step_audit.json"


def run_audit(cfg, workdir: str, canaries: int = 500, alpha: float = 0.05,
              method: str = "clopper-pearson", seed: int = 0,
              data: Optional[datasets.RunData] = None, log=print) -> dict:
  """Trains ``cfg`` with mislabelled canaries and audits its ε.

  Args:
    cfg: a TrainConfig (private or not).
    workdir: the run's (resumable) workdir.
    canaries: how many training examples become canaries (each inserted
      independently with probability 1/2).
    alpha: the bound holds with confidence 1 - alpha.
    method: "clopper-pearson", "bailey" or "katz-log".
    seed: which canaries, and which of them are inserted.
    data: prebuilt data (tests); default: built from ``cfg``.
    log: progress printer.

  Returns:
    The audit record (also in ``audit.json``).

  Raises:
    AuditFailure: the lower bound exceeds the run's ε.
  """
  cfg = dataclasses.replace(cfg, audit_canaries=canaries, audit_seed=seed,
                            audit_alpha=alpha, audit_method=method).validate()
  data = datasets.with_canaries(data or datasets.build(cfg), cfg)
  log(f"Audit: {canaries} mislabelled canaries, "
      f"{int(data.canaries.included.sum())} inserted into {len(data.train)} "
      "training examples.")
  trainer_lib.Trainer(cfg, workdir, data=data, log=log).run()
  return results_lib.read_json(os.path.join(workdir, AUDIT_FILE))


def run_step_audit(cfg, workdir: str, trials: int = 2000,
                   alpha: float = 0.05, canaries: int = 3,
                   data: Optional[datasets.RunData] = None,
                   log=print) -> dict:
  """The white-box step audit of ``cfg``'s engine (no training).

  Builds the run exactly as training would (data, model, per-example and
  distribution strategy, engine), measures one privatisation step's
  sensitivity and noise on a real physical batch plus crafted input
  canaries, and composes them over the run's planned steps at its q and δ
  (``attacks/step_audit.py``). Writes ``step_audit.json``.

  Raises:
    AuditFailure: the lower bound exceeds the claimed ε, or the engine is
      mis-implemented (sensitivity above C, noise off by more than 3%).
  """
  if not cfg.private:
    raise ValueError("The step audit needs a private config.")
  trainer = trainer_lib.Trainer(cfg, workdir, data=data, log=log).build()
  cfg, train = trainer.cfg, trainer.data.train
  b = min(cfg.physical_batch_size, len(train))
  if b < 2:
    raise ValueError("The step audit needs a physical batch of >= 2.")
  x = trainer.prepare_views(train.images[:b], seed=(0, 0))
  y = augment.repeat_labels(tf.constant(train.labels[:b]), cfg.augmult)
  weights = np.ones(b, np.float32)
  weights[-1] = 0.0  # The canary's slot.
  k = trainer.views
  rng = np.random.default_rng(0)
  first = y.numpy()[:1]
  crafted = []
  for c in range(canaries):
    # Multi-label (CelebA): every attribute flipped; else class c.
    label = 1 - first if train.multilabel else np.full_like(
        first, c % train.num_classes)
    crafted.append((np.repeat(
        30.0 * rng.normal(size=(1,) + tuple(x.shape[1:])), k,
        axis=0).astype(np.float32), np.repeat(label, k, axis=0)))
  steps = trainer.plan.total_steps
  claimed = trainer.epsilon_spent(steps)
  log(f"Step audit: {cfg.per_example} -> {trainer.engine.strategy_name}, "
      f"{trainer.engine.replicas} replica(s), b={b}, K={k}, "
      f"{len(crafted)} input canaries, {trials} noise trials; claim: "
      f"eps={claimed:.3f} at delta={cfg.delta:g} after {steps} steps, "
      f"q={cfg.batch_size / trainer.n:.5f}.")
  result = step_audit.audit_step(
      trainer.engine, x.numpy(), y.numpy(), weights, b - 1, crafted,
      claimed_epsilon=claimed, l2_norm_clip=cfg.l2_norm_clip,
      noise_multiplier=cfg.noise_multiplier,
      sampling_rate=cfg.batch_size / trainer.n, steps=steps,
      delta=cfg.delta, trials=trials, alpha=alpha)
  record = result.to_dict()
  results_lib.write_json_atomic(os.path.join(workdir, STEP_AUDIT_FILE),
                                record)
  log(result.summary())
  log(f"written: {os.path.join(workdir, STEP_AUDIT_FILE)}")
  if not result.passed:
    raise audit_lib.AuditFailure(
        "PRIVACY AUDIT FAILED (step audit): " + result.summary())
  return record
