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

from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import trainer as trainer_lib

AUDIT_FILE = trainer_lib.AUDIT_FILE


def run_audit(cfg, workdir: str, canaries: int = 500, alpha: float = 0.05,
              method: str = "clopper-pearson", seed: int = 0,
              data: Optional[datasets.RunData] = None, log=print) -> dict:
  """Trains ``cfg`` with mislabelled canaries and audits its ε.

  Args:
    cfg: a TrainConfig (private or not).
    workdir: the run's (resumable) workdir.
    canaries: how many training examples become canaries (half inserted).
    alpha: the bound holds with confidence 1 - alpha.
    method: "clopper-pearson", "bailey" or "katz-log".
    seed: which canaries, and which half is inserted.
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
