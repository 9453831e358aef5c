"""One audited training run: canaries in, train, lower bound out.

Writes ``audit.json`` into the workdir beside ``results.json``: the
accountant's ε and the empirical lower bound, side by side. A failed audit
raises ``attacks.audit.AuditFailure`` after the file is written.
"""

import os
from typing import Optional

import numpy as np

from prifa_tf.attacks import audit as audit_lib
from prifa_tf.evaluation import run_evaluation
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import evaluation
from prifa_tf.training import trainer as trainer_lib

AUDIT_FILE = "audit.json"


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
  data = data or datasets.build(cfg)
  chosen = audit_lib.make_canaries(data.train, canaries, seed=seed)
  data.train, canary_set = audit_lib.insert(data.train, chosen)
  log(f"Audit: {canaries} mislabelled canaries, "
      f"{int(chosen.included.sum())} inserted into {len(data.train)} "
      "training examples.")
  trainer_lib.Trainer(cfg, workdir, data=data, log=log).run()
  # The released model: the saved evaluation weights (EMA when PA is on).
  run, _, _, model = run_evaluation._load_run(workdir, data)  # pylint: disable=protected-access
  logits = evaluation.predict_logits(model, canary_set.images, data.dataset)
  scores = audit_lib.canary_scores(logits, canary_set.labels)
  claimed = (run.get("privacy") or {}).get("epsilon")
  result = audit_lib.audit(scores, chosen, claimed, alpha, method)
  record = {**result.to_dict(), "delta": (run.get("privacy") or {}).get(
      "delta"), "canary_ids": chosen.ids.tolist(),
            "canary_included": chosen.included.tolist(),
            "canary_scores": np.asarray(scores).tolist()}
  results_lib.write_json_atomic(os.path.join(workdir, AUDIT_FILE), record)
  log(f"Audit: claimed ε = "
      + (f"{claimed:.3f}" if claimed is not None else "none (non-private)")
      + f", empirical lower bound ε ≥ {result.epsilon_lower_bound:.3f} "
      f"({1 - alpha:.0%} confidence, {method}): "
      + ("PASSED" if result.passed else "FAILED"))
  audit_lib.check(result)
  return record
