"""The README demo: the paper's pipeline in miniature on CIFAR-10S.

Two models with every generalization technique, one private (DP-SAT,
epsilon 8) and one not (SAM), each attacked with the paper's four attacks
and scored for bias; a table of accuracy (COLOR|GRAY), MIA AUC, bias and
the Harmonic Score, and a figure of the same.
"""

import numpy as np

from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.paper import runs

PANELS = [("mean_accuracy", "accuracy (C+G)/2"),
          ("auc_used_for_hs", "MIA AUC (MLP)"), ("skew_bias", "bias (Eq. 1)"),
          ("harmonic_score", "HS (Eq. 3)")]


def _specs(args):
  out = []
  for dataset in DEMO.datasets(args):
    for eps in args.privacies():
      model = "DP-SAT + GT" if eps is not None else "SAM + GT"
      for seed in args.seeds:
        out.append(runs.spec(
            name=f"{dataset}/{exp.privacy_name(eps)}/seed{seed}",
            config=exp.config(args, dataset, eps, configs.TECHNIQUES, seed),
            labels={"dataset": dataset, "model": model, "seed": seed},
            attacks=tuple(args.attacks), max_examples=args.max_examples))
  return out


def _report(df, args, out_dir):
  if df.empty:
    return []
  metrics = [m for m, _ in PANELS] + ["test_accuracy", "color_accuracy",
                                      "gray_accuracy",
                                      "max_auc", "max_tpr_at_1%_fpr",
                                      "epsilon",
                                      "epsilon_lower_bound"]
  agg = tables.aggregate(df, ["dataset", "model"], metrics)
  md = tables.markdown(
      agg, ["dataset", "model", "epsilon", "epsilon_lower_bound",
            "color_accuracy", "gray_accuracy",
            "auc_used_for_hs", "max_auc", "max_tpr_at_1%_fpr", "skew_bias",
            "harmonic_score"],
      ["dataset", "model", "ε spent", "ε audit LB", "acc COLOR", "acc GRAY",
       "MIA AUC (MLP)", "max AUC", "max TPR@1%FPR", "bias", "HS"],
      digits=3)
  files = exp.write_table(agg, out_dir, "demo",
                          f"Privacy, utility and fairness on CIFAR-10S "
                          f"({args.scale.name} scale)", md)
  fig, axes = figures.subplots(1, 4, figsize=(12, 3.2))
  x = np.arange(len(agg))
  labels = [f"{m}\n{d}" for d, m in zip(agg["dataset"], agg["model"])]
  for ax, (m, title) in zip(axes, PANELS):
    ax.bar(x, agg[m], color=["tab:blue", "tab:orange"] * len(agg))
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(title, fontsize=8)
    ax.set_xlabel("run (median over seeds)", fontsize=8)
  return files + exp.save_figure(
      fig, out_dir, "demo", title="DP-SAT vs SAM with all generalization "
      f"techniques ({args.scale.name} scale)")


DEMO = exp.Experiment(
    name="demo", title="Demo: private vs non-private on CIFAR-10S",
    default_datasets=(("cifar10s",), ("cifar10s",)),
    build=_specs, report=_report)
