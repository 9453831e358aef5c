"""LiRA and RMIA against the paper's models, beside the threshold attack.

N models (16 at paper scale, 10 at smoke scale) train on random halves of
one candidate pool (the run's training set); they share the data subset
(``subset_seed``) and differ in ``seed``. Every model is attacked in turn
with the others as its shadows (leave-one-out), so the keep matrix is drawn
entry by entry (``lira.independent_keep``), not balanced as in Carlini et
al.'s code: with a balanced matrix the others' in/out counts would give
away the target's membership (docs/sharp_edges.md#lira-keep-matrix). A
candidate that
no reference holds out (or, online, none holds in) is left unscored; the
tables give the scored share. ``lira.md`` reports the median and std over
targets of LiRA online/offline and of the threshold attack on the same
members and non-members.

``rmia.md`` compares RMIA (online and offline), LiRA and the threshold
attack by the number of reference models k = 1, 2, 4, 8 (those below N)
and N - 1 (all the others, LiRA's own setting):
each target gets k of the other models as references (a seeded choice),
the population samples z are the run's held-out non-members (never trained
on by any model), and offline RMIA's ``a`` is calibrated by attacking one
of two non-target models with the other. LiRA scores only the candidates
its k references hold both in and out (online) or out (offline); the table
gives that share, and "–" where it is none (k = 1 online).
"""

import dataclasses
import os
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from prifa_tf import errors
from prifa_tf.attacks import lira
from prifa_tf.attacks import rmia
from prifa_tf.data import subsets
from prifa_tf.data import tfds_loader
from prifa_tf.evaluation import lira_risk
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.paper import runs
from prifa_tf.training import datasets

NUM_MODELS = {"paper": 16, "cpu": 8, "smoke": 10, "tiny": 4}
REFERENCE_COUNTS = (1, 2, 4, 8)
POPULATION = 2000  # Population samples z (held-out non-members) at most.
# Non-private smoke models train 500 steps of 32 (16 epochs of their half of
# the 2,000-image pool, K=4), not the smoke scale's 4 epochs: LiRA needs
# models that fit their training data. ``--set=steps=N`` overrides it.
SMOKE_NONPRIVATE_STEPS = 500



@dataclasses.dataclass
class Curve:
  """One ROC curve: membership labels and attack scores (NaN: unscored)."""
  name: str
  is_member: np.ndarray
  scores: np.ndarray


def plot_roc(curves: Sequence[Curve], path: str, title: str) -> None:
  """Log-log ROC curves (the low-FPR regime is what matters)."""
  fig, ax = figures.subplots(figsize=(4.6, 4.4))
  for c in curves:
    ok = np.isfinite(c.scores)
    fpr, tpr, _ = skm.roc_curve(c.is_member[ok], c.scores[ok])
    auc = skm.roc_auc_score(c.is_member[ok], c.scores[ok])
    ax.plot(np.maximum(fpr, 1e-5), np.maximum(tpr, 1e-5),
            label=f"{c.name} (AUC {auc:.3f})")
  ax.plot([1e-5, 1], [1e-5, 1], "k:", lw=0.8)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlim(1e-4, 1)
  ax.set_ylim(1e-4, 1)
  ax.set_xlabel("false positive rate")
  ax.set_ylabel("true positive rate")
  ax.set_title(title, fontsize=9)
  figures.legend_outside(ax)
  out_dir, name = os.path.split(path)
  figures.save(fig, out_dir, os.path.splitext(name)[0])


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
  if args.scale.family == "smoke" and not cfg.private and not steps_set:
    cfg = dataclasses.replace(cfg, steps=SMOKE_NONPRIVATE_STEPS)
  return cfg


def _specs(args):
  out = []
  models = args.num_models or NUM_MODELS[args.scale.family]
  if models < 4:
    raise errors.BadInputError(f"LiRA needs at least 4 models; got {models}.")
  for dataset in LIRA.datasets(args):
    for eps in args.privacies():
      base = _base_config(args, dataset, eps)
      pool = _pool(base, args.data_dir).ids
      keep = lira.independent_keep(models, len(pool), seed=args.seeds[0])
      for m in range(models):
        cfg = dataclasses.replace(base, seed=m, subset_seed=0)
        out.append(runs.spec(
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
  rows, files, ref_rows = [], [], []
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
    keep = np.stack([~np.isin(ids, s.details.exclude_ids) for s in specs
                     if s.name in names])
    logits = [lira_risk.model_logits(runner.run_dir(out_dir, n), pool)
              for n in names]
    stats = np.stack([lira.statistics(z, pool.labels) for z in logits])
    probs_x = np.stack([rmia.true_class_probs(z[0], pool.labels)
                        for z in logits])
    probs_z = _population_probs(names, out_dir, first.config, args.data_dir,
                                args.seeds[0])
    per_target = []
    for t in range(len(names)):
      for r in _by_reference_count(stats, probs_x, probs_z, keep, t,
                                   args.seeds[0]):
        ref_rows.append({"dataset": dataset, "private": private, **r})
      member = keep[t]
      threshold = -_loss(stats[t][:, 0])
      row = {"dataset": dataset, "private": private, "target": t}
      for label, sc in (
          ("lira_online", lira.scores(stats, keep, t, online=True,
                                      fix_variance=len(names) < 16)),
          ("lira_offline", lira.scores(stats, keep, t, online=False,
                                       fix_variance=len(names) < 16)),
          ("lira_offline_two_sided", lira.scores(
              stats, keep, t, online=False, fix_variance=len(names) < 16,
              offline_test="two_sided")),
          ("threshold", threshold)):
        for k, v in lira.metrics(member, sc).items():
          row[f"{label}_{k}"] = v
        if t == 0:
          per_target.append(Curve(label, member, sc))
      rows.append(row)
    tag = f"{dataset}_{exp.privacy_name(8.0 if private else None)}"
    path = os.path.join(out_dir, f"lira_roc_{tag}.png")
    plot_roc(per_target, path, f"LiRA vs threshold, {tag} (target 0, "
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
      f"{a}_{m}" for a in ("lira_online", "lira_offline",
                           "lira_offline_two_sided", "threshold")
      for m in ("auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr")] + [
          "lira_online_scored", "lira_offline_scored"]
  md = tables.markdown(agg, cols, digits=3, with_std=cols[2:-2])
  md += ("\n\nMedian (std) over targets (each model attacked with the "
         "others as shadows); the threshold attack uses the same members and "
         "non-members (minus the loss of the original image). `*_scored`: "
         "share of candidates LiRA could score (some other model trained on "
         "it and some did not; the keep matrix is drawn entry by entry). "
         "`lira_offline` is Carlini et al.'s one-sided test (Algorithm 1: "
         "Pr[Z <= x] under the out Gaussian); `lira_offline_two_sided` is "
         "the density score of the original LiRA code and TF-Privacy, which "
         "also counts a confidence far below the out mean as membership.\n")
  files += exp.write_table(agg, out_dir, "lira", "LiRA vs the threshold attack",
                           md)
  if ref_rows:
    files += _reference_table(pd.DataFrame(ref_rows), out_dir)
  return list(dict.fromkeys(files))  # provenance.json once.


ATTACK_ORDER = ("rmia_online", "rmia_offline", "lira_online", "lira_offline",
                "lira_offline_two_sided", "threshold")


def _population_probs(names, out_dir, cfg, data_dir, seed):
  """Pr(z | model) of up to POPULATION held-out non-members, per model."""
  with tfds_loader.cached_loads():
    population = datasets.build(dataclasses.replace(
        cfg, data_dir=data_dir)).nonmembers
  if len(population.ids) > POPULATION:
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(population.ids), POPULATION,
                              replace=False))
    population = subsets.select_ids(population, population.ids[pick])
  return np.stack([rmia.true_class_probs(lira_risk.model_logits(
      runner.run_dir(out_dir, n), population)[0], population.labels)
                   for n in names])


def _lira(stats, keep, models, online, offline_test="one_sided"):
  """LiRA scores of models[0] against models[1:].

  NaN where a candidate lacks the in/out references LiRA needs.
  """
  # Per-example variances from 16 models on, as in lira.md.
  return lira.scores(stats[models], keep[models], 0, online=online,
                     fix_variance=len(models) < 16,
                     offline_test=offline_test)


def _by_reference_count(stats, probs_x, probs_z, keep, target, seed):
  """Rows of attack metrics for ``target`` at each reference count k."""
  n_models = len(keep)
  member = keep[target]
  pair = rmia.reference_models(target, n_models, 2, seed)
  a = rmia.calibrate_offline_a(probs_x[pair[0]], keep[pair[0]],
                               probs_x[pair[1]], keep[pair[1]],
                               probs_z[pair[0]], probs_z[pair[1]])
  rows = []
  counts = sorted({k for k in REFERENCE_COUNTS if k < n_models} |
                  {n_models - 1})
  for k in counts:
    refs = rmia.reference_models(target, n_models, k, seed)
    models = np.concatenate([[target], refs])
    scored = {
        "rmia_online": rmia.scores(probs_x[target], probs_x[refs],
                                   keep[refs], probs_z[target],
                                   probs_z[refs], online=True),
        "rmia_offline": rmia.scores(probs_x[target], probs_x[refs],
                                    keep[refs], probs_z[target],
                                    probs_z[refs], online=False, a=a),
        "lira_online": _lira(stats, keep, models, True),
        "lira_offline": _lira(stats, keep, models, False),
        "lira_offline_two_sided": _lira(stats, keep, models, False,
                                        "two_sided"),
        "threshold": -_loss(stats[target][:, 0])}
    for attack in ATTACK_ORDER:
      row = {"target": target, "references": k, "attack": attack,
             "offline_a": a if attack == "rmia_offline" else np.nan}
      metrics = lira.metrics(member, scored[attack])
      row.update({m: metrics[m] for m in ("auc", "tpr_at_1%_fpr",
                                          "tpr_at_0.1%_fpr", "scored")})
      rows.append(row)
  return rows


def _reference_table(df, out_dir):
  by = ["dataset", "private", "references", "attack"]
  metric_cols = ["auc", "tpr_at_1%_fpr", "tpr_at_0.1%_fpr", "scored",
                 "offline_a"]
  agg = tables.aggregate(df, by, metric_cols)
  order = {a: i for i, a in enumerate(ATTACK_ORDER)}
  agg = agg.sort_values(["dataset", "private", "references", "attack"],
                        key=lambda c: c.map(order) if c.name == "attack"
                        else c, kind="stable")
  cols = ["dataset", "private", "references", "attack", "auc",
          "tpr_at_1%_fpr", "tpr_at_0.1%_fpr", "scored", "offline_a"]
  md = tables.markdown(agg, cols, digits=3, with_std=cols[4:7])
  md += ("\n\nMedian (std) over targets, each attacked with k of the "
         "other models as references (a seeded choice per target) on the "
         "same members and non-members (the pool). RMIA's population "
         "samples are held-out non-members; offline RMIA's `a` is "
         "calibrated on two non-target models. LiRA scores a candidate "
         "only if some reference trained on it and some did not (online) or "
         "some did not (offline; one-sided as in Carlini et al.'s Algorithm 1, "
         "two-sided as in their code and TF-Privacy); `scored` is the share "
         "of candidates scored "
         "(the keep matrix is drawn entry by entry, so which are scored does "
         "not depend on the target's membership), and \"–\" means none. At n "
         "non-members a TPR at FPR below 1/n is read at FPR 0.\n")
  return exp.write_table(agg, out_dir, "rmia",
                         "RMIA, LiRA and the threshold attack by reference "
                         "models", md)


def _loss(logit_stat):
  """Cross-entropy from the logit statistic log(p / (1 - p))."""
  return np.log1p(np.exp(-logit_stat))


LIRA = exp.Experiment(
    name="lira", title="LiRA membership inference",
    default_datasets=(("cifar10",), ("cifar10",)),
    build=_specs, report=_report)
