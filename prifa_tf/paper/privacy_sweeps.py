"""Table 4 and Table 6 with Figures 3, 4 and 8.

Table 4 is DP-SGD vs DP-SAT over epsilon; Table 6 and its figures are the
privacy budget x training-data bias.

Both train with every generalization technique. Table 4 compares DP-SGD
(all but SAT) with DP-SAT (all) at epsilon 1, 2, 4, 8 on CIFAR-10/100 and
prints the paper's numbers beside ours. Table 6 crosses epsilon 1, 2, 4, 8
and non-private with a 95% and a 75% skew on CIFAR-10S/100S.
"""

import numpy as np

from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.paper import runs

OPTIMIZERS = {"DP-SGD": tuple(t for t in configs.TECHNIQUES if t != "SAT"),
              "DP-SAT": configs.TECHNIQUES}
SKEWS = (0.95, 0.75)


def _table4_specs(args):
  out = []
  for dataset in TABLE4.datasets(args):
    for eps in args.epsilons:
      for opt, techniques in OPTIMIZERS.items():
        for seed in args.seeds:
          out.append(runs.spec(
              name=f"{dataset}/eps{eps:g}/{opt}/seed{seed}",
              config=exp.config(args, dataset, float(eps), techniques, seed),
              labels={"dataset": dataset, "epsilon_target": float(eps),
                      "optimizer": opt, "seed": seed},
              attacks=tuple(args.attacks), max_examples=args.max_examples))
  return out


def _table4_report(df, args, out_dir):
  if df.empty:
    return []
  agg = tables.aggregate(df, ["dataset", "epsilon_target", "optimizer"],
                         ["test_accuracy", "epsilon",
                          "epsilon_lower_bound", "max_auc",
                          "max_tpr_at_1%_fpr"])
  agg["accuracy_pct"] = 100 * agg["test_accuracy"]
  agg["accuracy_pct_std"] = 100 * agg["test_accuracy_std"]
  paper = tables.paper_numbers("table4").rename(
      columns={"epsilon": "epsilon_target", "optimizer": "optimizer",
               "accuracy": "paper_accuracy_pct"})
  paper["epsilon_target"] = paper["epsilon_target"].astype(float)
  agg = agg.merge(paper, on=["dataset", "epsilon_target", "optimizer"],
                  how="left")
  agg["difference_pct"] = agg["accuracy_pct"] - agg["paper_accuracy_pct"]
  md = tables.markdown(
      agg, ["dataset", "epsilon_target", "optimizer", "epsilon",
            "epsilon_lower_bound",
            "accuracy_pct", "paper_accuracy_pct", "difference_pct",
            "max_auc", "max_tpr_at_1%_fpr"],
      ["dataset", "target ε", "optimizer", "ε spent", "ε audit LB",
       "acc % (ours)",
       "acc % (paper)", "ours − paper", "max MIA AUC", "max TPR@1%FPR"],
      digits=2,
      with_std=["accuracy_pct"])
  md += (f"\n\nScale: {args.scale.name}. Paper values: "
         f"{tables.paper_source()}\n")
  section, extra = exp.comparisons(
      df, "optimizer", "DP-SGD", "DP-SAT",
      [("test_accuracy", "test accuracy"), ("max_auc", "max MIA AUC"),
       ("max_tpr_at_1%_fpr", "max TPR at 1% FPR")],
      ["dataset", "epsilon_target"], out_dir, "table4")
  md += section
  files = extra + exp.write_table(agg, out_dir, "table4",
                                  "DP-SGD vs DP-SAT (Table 4)", md)
  panels = max(1, agg["dataset"].nunique())
  fig, axes = figures.subplots(1, panels, figsize=(5 * panels, 3.6),
                               squeeze=False)
  for ax, (dataset, g) in zip(axes[0], agg.groupby("dataset", sort=False)):
    for k, (opt, h) in enumerate(g.groupby("optimizer", sort=False)):
      # Arms side by side at each ε (x offset on the log axis, own marker)
      # so that equal accuracies do not hide one arm under the other.
      shift = 2.0 ** (0.08 * (k - 0.5))
      ax.errorbar(h["epsilon_target"] * shift, h["accuracy_pct"],
                  yerr=h["accuracy_pct_std"], marker="os"[k % 2], capsize=2,
                  alpha=0.85, label=f"{opt} (ours, median ± std)")
      if h["paper_accuracy_pct"].notna().any():
        ax.plot(h["epsilon_target"] * shift, h["paper_accuracy_pct"],
                ls="--", marker="x^"[k % 2], label=f"{opt} (paper)")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("ε")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(f"{dataset} ({args.scale.name} scale)")
    figures.legend_outside(ax)
  return files + exp.save_figure(
      fig, out_dir, "table4", title="DP-SGD vs DP-SAT: test accuracy over "
      "the privacy budget (Table 4)")


def _table6_specs(args):
  out = []
  budgets = [float(e) for e in args.epsilons] + [None]
  if args.privacy == "private":
    budgets = budgets[:-1]
  elif args.privacy == "nonprivate":
    budgets = [None]
  for dataset in TABLE6.datasets(args):
    for skew in SKEWS:
      for eps in budgets:
        for seed in args.seeds:
          out.append(runs.spec(
              name=f"{dataset}/skew{skew:g}/{exp.privacy_name(eps)}/"
                   f"seed{seed}",
              config=exp.config(args, dataset, eps, configs.TECHNIQUES, seed,
                                skew=skew),
              labels={"dataset": dataset, "skew": skew,
                      "budget": "non-private" if eps is None else f"{eps:g}",
                      "seed": seed},
              attacks=tuple(args.attacks), max_examples=args.max_examples))
  return out


def _table6_report(df, args, out_dir):
  if df.empty:
    return []
  metrics = ["mean_accuracy", "color_accuracy", "gray_accuracy",
             "auc_used_for_hs", "max_auc", "max_tpr_at_1%_fpr", "skew_bias",
             "harmonic_score", "epsilon", "epsilon_lower_bound"]
  agg = tables.aggregate(df, ["dataset", "skew", "budget"], metrics)
  md = tables.markdown(
      agg, ["dataset", "skew", "budget", "epsilon", "epsilon_lower_bound",
            "mean_accuracy",
            "auc_used_for_hs", "max_tpr_at_1%_fpr", "skew_bias",
            "harmonic_score"],
      ["dataset", "skew", "budget ε", "ε spent", "ε audit LB",
       "acc (C+G)/2",
       "MIA AUC", "max TPR@1%FPR", "bias", "HS"], digits=3,
      with_std=["mean_accuracy", "auc_used_for_hs", "skew_bias",
                "harmonic_score"])
  section, extra = exp.comparisons(
      df, "skew", 0.75, 0.95,
      [("skew_bias", "bias (Eq. 1)"), ("auc_used_for_hs", "MIA AUC"),
       ("mean_accuracy", "accuracy (C+G)/2"),
       ("mia_auc_disparity_domain", "COLOR/GRAY MIA-AUC disparity")],
      ["dataset", "budget"], out_dir, "table6")
  md += section
  files = extra + exp.write_table(agg, out_dir, "table6",
                                  "Privacy budget x data bias (Table 6)", md)
  panels = [("mean_accuracy", "accuracy"), ("auc_used_for_hs", "MIA AUC"),
            ("skew_bias", "bias (Eq. 1)"), ("harmonic_score", "HS")]
  for dataset, g in agg.groupby("dataset", sort=False):
    order = list(dict.fromkeys(g["budget"]))
    x = np.arange(len(order))
    fig, axes = figures.subplots(1, 4, figsize=(15, 3.4))
    skews = list(dict.fromkeys(g["skew"]))
    for k, (skew, h) in enumerate(g.groupby("skew", sort=False)):
      h = h.set_index("budget").reindex(order)
      shift = 0.08 * (k - (len(skews) - 1) / 2)  # Side by side per budget.
      for ax, (m, label) in zip(axes, panels):
        ax.errorbar(x + shift, h[m], yerr=h[f"{m}_std"], marker="osd^v"[k % 5],
                    capsize=2, alpha=0.85,
                    label=f"skew {skew:.0%} (median ± std)")
        ax.set_ylabel(label)
        ax.set_title(label)
    for ax in axes:
      ax.set_xticks(x)
      ax.set_xticklabels(order)
      ax.set_xlabel("ε")
    figures.legend_outside(axes[-1])
    files += exp.save_figure(
        fig, out_dir, f"table6_{dataset}", title=f"{dataset}: privacy "
        f"budget x data bias ({args.scale.name} scale; Figures 3, 4, 8)")
  return files


TABLE4 = exp.Experiment(
    name="dpsgd_vs_dpsat",
    title="DP-SGD vs DP-SAT over epsilon (Table 4)",
    default_datasets=(("cifar10", "cifar100"), ("cifar10",)),
    build=_table4_specs, report=_table4_report)

TABLE6 = exp.Experiment(
    name="budget_bias",
    title="Privacy budget x training-data bias (Table 6, Figures 3, 4, 8)",
    default_datasets=(("cifar10s", "cifar100s"), ("cifar10s",)),
    build=_table6_specs, report=_table6_report)
