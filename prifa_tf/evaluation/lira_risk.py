"""LiRA per-example risk of one training run, from its shadow runs.

The Onion-effect study of Carlini et al. ranks training examples by LiRA;
the paper ranks them by TF-Privacy's MLP risk score. This module gives the
sweep runner the LiRA ranking (``--onion_risk=lira``):

- ``member_pool``: the target run's members (its training set, without
  audit canaries).
- ``shadow_exclusions``: shadow ``m`` of ``N`` trains on the half of that
  pool picked by a balanced keep matrix, so every member is in exactly half
  of the shadows.
- ``write_lira_risk``: the target's online LiRA score of every member
  against its shadows (``lira_risk.csv``: id, lira_score); higher means
  more exposed.
"""

import os
from typing import Callable, List, Optional, Sequence

import numpy as np
import pandas as pd

from prifa_tf.attacks import lira
from prifa_tf.data.image_set import ImageSet
from prifa_tf.evaluation import run_evaluation
from prifa_tf.reporting import tables
from prifa_tf.training import datasets
from prifa_tf.training import evaluation

LIRA_RISK_FILE = "lira_risk.csv"
DataFn = Callable[..., datasets.RunData]


def _build(data_fn: Optional[DataFn], cfg, remove=None) -> datasets.RunData:
  data = (data_fn or datasets.build)(cfg, remove)
  return datasets.with_canaries(data, cfg)


def model_logits(workdir: str, pool: ImageSet) -> List[np.ndarray]:
  """A run's logits on ``pool``: original and horizontally flipped."""
  run, cfg = run_evaluation.load_run(workdir)
  model = run_evaluation.load_model(workdir, run, cfg, pool.num_classes,
                                    pool.images.shape[1:])
  base = cfg.base_dataset
  return [evaluation.predict_logits(model, pool.images, base),
          evaluation.predict_logits(model, pool.images[:, :, ::-1], base)]


def training_ids(workdir: str, data_fn: Optional[DataFn] = None):
  """(config, ids a finished run trained on, members only)."""
  run, cfg = run_evaluation.load_run(workdir)
  data = _build(data_fn, cfg, run.get("removed_ids") or None)
  return cfg, datasets.members(data)


def member_pool(workdir: str, data_fn: Optional[DataFn] = None) -> ImageSet:
  return training_ids(workdir, data_fn)[1]


def shadow_exclusions(target_dir: str, shadow_cfg, index: int,
                      num_shadows: int,
                      data_fn: Optional[DataFn] = None) -> np.ndarray:
  """Training ids shadow ``index`` leaves out: all but its half of the pool.

  The shadow's config must draw the same data subset as the target
  (``subset_seed``) and have no audit canaries.
  """
  target_cfg, pool = training_ids(target_dir, data_fn)
  if shadow_cfg.data_seed != target_cfg.data_seed:
    raise ValueError(f"A shadow must share its target's data subset "
                     f"(subset_seed {target_cfg.data_seed}); got "
                     f"{shadow_cfg.data_seed}.")
  if shadow_cfg.audit_canaries:
    raise ValueError("Shadow models take no audit canaries.")
  keep = lira.keep_matrix(num_shadows, len(pool), seed=target_cfg.seed)
  everything = _build(data_fn, shadow_cfg).train.ids
  return np.setdiff1d(everything, pool.ids[keep[index]]).astype(np.int64)


def write_lira_risk(target_dir: str, shadow_dirs: Sequence[str],
                    data_fn: Optional[DataFn] = None) -> str:
  """Writes the target's LiRA score of every member; returns the path."""
  if len(shadow_dirs) < 2:
    raise ValueError("LiRA needs at least 2 shadow runs.")
  pool = member_pool(target_dir, data_fn)
  stats, keep = [], [np.ones(len(pool), dtype=bool)]
  for d in [target_dir, *shadow_dirs]:
    stats.append(lira.statistics(model_logits(d, pool), pool.labels))
  for d in shadow_dirs:
    keep.append(np.isin(pool.ids, training_ids(d, data_fn)[1].ids))
  keep = np.stack(keep)
  inside = keep[1:].sum(axis=0)
  if inside.min() == 0 or inside.max() == len(shadow_dirs):
    raise ValueError("Every member must be in some shadows and out of "
                     "others; the shadows do not split the target's pool.")
  scores = lira.scores(np.stack(stats), keep, 0, online=True,
                       fix_variance=len(shadow_dirs) < 16)
  path = os.path.join(target_dir, LIRA_RISK_FILE)
  tables.write_csv(pd.DataFrame({"id": pool.ids, "lira_score": scores}), path)
  return path
