"""The README demo: the paper's pipeline in miniature on CIFAR-10S.

Two models with every generalization technique, one private (DP-SAT,
epsilon 8) and one not (SAM), each attacked with the paper's four attacks
and scored for bias; a table of accuracy (COLOR|GRAY), MIA AUC, bias and
the Harmonic Score, and a figure of the same.
"""

import numpy as np
import pandas as pd

from prifa_tf.data import tfds_loader
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import comparisons
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.training.config import base_dataset
from prifa_tf.paper import runs

PANELS = [("mean_accuracy", "accuracy (C+G)/2"),
          ("auc_used_for_hs", "MIA AUC (MLP)"), ("skew_bias", "bias (Eq. 1)"),
          ("harmonic_score", "HS (Eq. 3)")]


def _specs(args):
  out = []
  for dataset in DEMO.datasets(args):
    for eps in args.privacies():
      model = PRIVATE if eps is not None else NONPRIVATE
      for seed in args.seeds:
        out.append(runs.spec(
            name=f"{dataset}/{exp.privacy_name(eps)}/seed{seed}",
            config=exp.config(args, dataset, eps, configs.TECHNIQUES, seed),
            labels={"dataset": dataset, "model": model, "seed": seed},
            attacks=tuple(args.attacks), max_examples=args.max_examples))
  return out


PRIVATE, NONPRIVATE = "DP-SAT + GT", "SAM + GT"
PAIRED_METRICS = [("mean_accuracy", "accuracy (C+G)/2"),
                  ("max_auc", "max MIA AUC"), ("skew_bias", "bias (Eq. 1)")]
MIN_SEEDS = comparisons.MIN_SEEDS


def reading(agg) -> str:
  """What to read from the table, in words, from its own numbers.

  One paragraph per dataset that has both arms. It names chance, the
  accuracy privacy costs, which model the attacks see more of and each
  bias, and says how many seeds back it: below ``MIN_SEEDS`` no difference
  is called established.
  """
  out = []
  for dataset, rows in agg.groupby("dataset", sort=False):
    arms = {r["model"]: r for _, r in rows.iterrows()}
    if PRIVATE not in arms or NONPRIVATE not in arms:
      continue
    p, n = arms[PRIVATE], arms[NONPRIVATE]
    chance = 1 / tfds_loader.NUM_CLASSES[base_dataset(dataset)]
    basis = str(p.get("epsilon_basis") or "")
    spent = (f"its own ε = {p['epsilon']:.2f}, {basis}"
             if basis.startswith("simulated") else
             f"ε = {p['epsilon']:.2f} spent")
    cost = 100 * (n["mean_accuracy"] - p["mean_accuracy"])
    seeds = int(min(p["seeds"], n["seeds"]))
    leak = ("higher against the non-private model, as the paper expects"
            if n["max_auc"] > p["max_auc"] else
            "not higher against the non-private model, against the paper's "
            "direction")
    if seeds < MIN_SEEDS:
      backing = (f"These are medians over {seeds} seed"
                 f"{'s' if seeds > 1 else ''}: too few for the paired test "
                 f"to decide (it needs {MIN_SEEDS}), so none of these "
                 f"differences is established (run with "
                 f"`--seeds={MIN_SEEDS}`).")
    else:
      backing = ("Which of these differences the paired test across seeds "
                 "establishes is stated below.")
    out.append(
        f"**What to read ({dataset}).** Chance is {chance:.0%}. The private "
        f"model (DP-SAT, {spent}) reaches "
        f"{p['color_accuracy']:.1%} on COLOR and {p['gray_accuracy']:.1%} "
        f"on GRAY test images, the non-private one (SAM) "
        f"{n['color_accuracy']:.1%} and {n['gray_accuracy']:.1%}: privacy "
        f"costs {cost:.1f} points of mean accuracy here. The best of the "
        f"four membership attacks reaches an AUC of {p['max_auc']:.3f} "
        f"against the private model and {n['max_auc']:.3f} against the "
        f"non-private one (0.5 is guessing): {leak}. Bias (Eq. 1) runs from "
        "0 (each class predicted as often on COLOR as on GRAY images) to 0.5 "
        "(each class predicted in one domain only): "
        f"{p['skew_bias']:.3f} private, {n['skew_bias']:.3f} non-private. "
        + backing)
  return "\n\n".join(out)


# Our paired metric for each metric of the paper's prose deltas.
PAPER_METRICS = {"test_accuracy": "mean_accuracy", "max_auc": "max_auc",
                 "skew_bias": "skew_bias"}


def paper_directions() -> pd.DataFrame:
  """The paper's private − non-private differences with all techniques.

  From ``paper_numbers.json``'s prose deltas (Table 6 for CIFAR-10S; the
  "overall accuracy" there is compared with our (COLOR + GRAY) / 2).
  """
  paper = tables.paper_numbers("prose_deltas")
  paper = paper[(paper["comparison"] == "DP-nonDP") &
                (paper["table"] == "Table 6")].copy()
  paper["ours"] = paper["metric"].map(PAPER_METRICS)
  order = {m: i for i, m in enumerate(PAPER_METRICS)}
  return paper.sort_values("metric", key=lambda m: m.map(order),
                           kind="stable")


def _paper_value(row) -> str:
  about = "≈ " if row["approx"] else ""
  if row["metric"] == "test_accuracy":
    return f"{about}{row['value']:+.0f} points"
  return f"{about}{row['value']:+.2f}"


def against_paper(paired: pd.DataFrame) -> str:
  """The paper's directions (Table 6) beside our paired test, with verdicts.

  ``paired`` is the demo's comparisons table (non-private − private); the
  section states private − non-private, as the paper does. Empty when no
  dataset of ``paired`` has the paper's figures.
  """
  paper = paper_directions()
  lines = []
  for _, p in paper.iterrows():
    hit = paired[(paired["dataset"] == p["dataset"]) &
                 (paired["metric"] == p["ours"])]
    if hit.empty:
      continue
    row = hit.iloc[0].copy()
    for key in ("mean_difference", "ci_low", "ci_high"):
      row[key] = -row[key]  # Private − non-private.
    row["ci_low"], row["ci_high"] = row["ci_high"], row["ci_low"]
    scale, digits, unit = ((100, 1, " points")
                           if p["metric"] == "test_accuracy" else (1, 3, ""))
    ours = f"{scale * row['mean_difference']:+.{digits}f}{unit}"
    if row["seeds"] >= 2:
      ours += (f" [{scale * row['ci_low']:+.{digits}f}, "
               f"{scale * row['ci_high']:+.{digits}f}]")
    p_value = ("–" if pd.isna(row["wilcoxon_p"]) else
               f"{row['wilcoxon_p']:.3f}")
    verdict = comparisons.verdict(row, int(np.sign(p["value"])))
    lines.append(f"| {p['dataset']} | {row['label']} | {_paper_value(p)} | "
                 f"{ours} | {p_value} | {int(row['seeds'])} | {verdict} |")
  if not lines:
    return ""
  return ("\n## Against the paper (Table 6: all techniques, ε = 8 against "
          "non-private)\n\n"
          "| dataset | metric | paper: private − non-private | ours (95% "
          "bootstrap CI) | Wilcoxon p | seeds | verdict |\n"
          "|---|---|---|---|---|---|---|\n" + "\n".join(lines) + "\n\n"
          "A verdict judges the direction only: \"reproduced\" when our "
          "difference has the paper's sign and the paired test establishes "
          "it (interval excludes 0, p < 0.05), \"not reproduced\" when it "
          "establishes the other sign, \"not established\" otherwise. The "
          "paper's sizes come from its text (`paper_numbers.json`) and are "
          "at its scale, not this one.\n")


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
  text = reading(agg)
  if text:
    md += "\n\n" + text
  section, extra = exp.comparisons(df, "model", PRIVATE, NONPRIVATE,
                                   PAIRED_METRICS, ["dataset"], out_dir,
                                   "demo")
  md += section
  if extra:
    md += against_paper(pd.read_csv(extra[0]))
  files = extra + exp.write_table(agg, out_dir, "demo",
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
