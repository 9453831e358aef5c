"""LiRA against the paper's models, beside TF-Privacy's threshold attack.

N models (16 at paper scale, 8 at smoke scale) train on random halves of
one candidate pool (the run's training set) with a balanced keep matrix;
they share the data subset (``subset_seed``) and differ in ``seed``. Every
model is attacked in turn with the others as its shadows (leave-one-out);
the table reports the mean and std over targets of LiRA online/offline and
of the threshold attack on the same members and non-members.
"""

import dataclasses
import os

import numpy as np
import pandas as pd

from prifa_tf.attacks import lira
from prifa_tf.data import tfds_loader
from prifa_tf.evaluation import lira_risk
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.sweeps.spec import RunSpec
from prifa_tf.training import datasets

NUM_MODELS = {"paper": 16, "smoke": 8, "tiny": 4}
# Non-private smoke models train 500 steps of 32 (16 epochs of their half of
# the 2,000-image pool, K=4), not the smoke scale's 4 epochs: LiRA needs
# models that fit their training data. ``--set=steps=N`` overrides it.
SMOKE_NONPRIVATE_STEPS = 500


def _pool(cfg, data_dir):
  with tfds_loader.cached_loads():
    return datasets.build(dataclasses.replace(cfg, data_dir=data_dir)).train


def _base_config(args, dataset, eps):
  # No audit canaries: every model must see the same pool with the same
  # labels, and the keep matrix must say exactly who trained on what.
  cfg = dataclasses.replace(
      exp.config(args, dataset, eps, configs.TECHNIQUES, seed=0),
      audit_canaries=0)
  steps_set = any(o.split("=", 1)[0].strip() == "steps"
                  for o in args.overrides)
  if args.scale.name == "smoke" and not cfg.private and not steps_set:
    cfg = dataclasses.replace(cfg, steps=SMOKE_NONPRIVATE_STEPS)
  return cfg


def _specs(args):
  out = []
  models = args.num_models or NUM_MODELS[args.scale.name]
  if models < 4 or models % 2:
    raise ValueError(f"LiRA needs an even number of models >= 4; got "
                     f"{models}.")
  for dataset in LIRA.datasets(args):
    for eps in args.privacies():
      base = _base_config(args, dataset, eps)
      pool = _pool(base, args.data_dir).ids
      keep = lira.keep_matrix(models, len(pool), seed=args.seeds[0])
      for m in range(models):
        cfg = dataclasses.replace(base, seed=m, subset_seed=0)
        out.append(RunSpec(
            name=f"{dataset}/{exp.privacy_name(eps)}/model{m}",
            config=cfg.validate(),
            labels={"dataset": dataset, "private": eps is not None,
                    "model": m},
            attacks=("threshold",), exclude_ids=pool[~keep[m]].tolist()))
  return out


def _report(df, args, out_dir):
  if df.empty:
    return []
  specs = _specs(args)
  rows, files = [], []
  for (dataset, private), group in df.groupby(["dataset", "private"],
                                              sort=False):
    names = [s.name for s in specs if s.labels["dataset"] == dataset
             and s.labels["private"] == private]
    done = set(group["run"])
    if any(n not in done for n in names):
      continue  # Every model is needed.
    first = [s for s in specs if s.name == names[0]][0]
    pool = _pool(first.config, args.data_dir)
    ids = pool.ids
    keep = np.stack([~np.isin(ids, s.exclude_ids) for s in specs
                     if s.name in names])
    stats = np.stack([lira.statistics(lira_risk.model_logits(
                                          runner.run_dir(out_dir, n), pool),
                                      pool.labels) for n in names])
    per_target = []
    for t in range(len(names)):
      member = keep[t]
      threshold = -_loss(stats[t][:, 0])
      row = {"dataset": dataset, "private": private, "target": t}
      for label, sc in (
          ("lira_online", lira.scores(stats, keep, t, online=True,
                                      fix_variance=len(names) < 16)),
          ("lira_offline", lira.scores(stats, keep, t, online=False,
                                       fix_variance=len(names) < 16)),
          ("threshold", threshold)):
        for k, v in lira.metrics(member, sc).items():
          row[f"{label}_{k}"] = v
        if t == 0:
          per_target.append(lira.Curve(label, member, sc))
      rows.append(row)
    tag = f"{dataset}_{exp.privacy_name(8.0 if private else None)}"
    path = os.path.join(out_dir, f"lira_roc_{tag}.png")
    lira.plot_roc(per_target, path, f"LiRA vs threshold, {tag} (target 0, "
                  f"{len(names) - 1} shadows)")
    files += [path, path[:-4] + ".pdf"]
    scores0 = pd.DataFrame({"id": ids, "member_of_target0": keep[0],
                            **{c.name: c.scores for c in per_target}})
    score_path = os.path.join(out_dir, f"lira_scores_{tag}.csv")
    tables.write_csv(scores0, score_path)
    files.append(score_path)
  if not rows:
    return files
  table = pd.DataFrame(rows)
  metric_cols = [c for c in table.columns
                 if c not in ("dataset", "private", "target")]
  agg = tables.aggregate(table, ["dataset", "private"], metric_cols)
  cols = ["dataset", "private"] + [
      f"{a}_{m}" for a in ("lira_online", "lira_offline", "threshold")
      for m in ("auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr")]
  md = tables.markdown(agg, cols, digits=3, with_std=cols[2:])
  md += ("\n\nMean over targets (each model attacked with the others as "
         "shadows); the threshold attack uses the same members and "
         "non-members (minus the loss of the original image).\n")
  return files + exp.write_table(agg, out_dir, "lira",
                                 "LiRA vs the threshold attack", md)


def _loss(logit_stat):
  """Cross-entropy from the logit statistic log(p / (1 - p))."""
  return np.log1p(np.exp(-logit_stat))


LIRA = exp.Experiment(
    name="lira", title="LiRA membership inference (issue 8)",
    default_datasets=(("cifar10",), ("cifar10",)),
    build=_specs, report=_report)
