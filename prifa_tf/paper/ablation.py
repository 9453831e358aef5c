"""Tables 2, 3 and 8, Figure 1: generalization techniques, cumulative or alone.

Cumulative: BL -> +GN -> +OBS -> +WS -> +AM -> +PA -> +SAT (SAT is DP-SAT
when private). Individual (Table 8): each technique alone on top of BL.
Each step reports accuracy (COLOR|GRAY on CIFAR-S), the AUC of the four
attacks the paper shows and their maximum, the generalization gap, Eq. 1's
bias and the Harmonic Score.
"""

import numpy as np
import pandas as pd

from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.paper import runs

CUMULATIVE_STEPS = [("BL", ())] + [
    ("+" + t, configs.TECHNIQUES[:i + 1])
    for i, t in enumerate(configs.TECHNIQUES)]
INDIVIDUAL_STEPS = [("BL", ())] + [("BL+" + t, (t,))
                                   for t in configs.TECHNIQUES]
METRICS = ["test_accuracy", "color_accuracy", "gray_accuracy", "mlp_auc",
           "rf_auc", "threshold_auc", "threshold_entropy_auc", "max_auc",
           "max_tpr_at_1%_fpr", "max_tpr_at_0.1%_fpr",
           "mia_auc_disparity_domain", "mia_auc_disparity_class",
           "generalization_gap", "skew_bias", "harmonic_score", "epsilon",
           "epsilon_lower_bound"]


def _specs(steps, args: exp.Args, datasets):
  out = []
  for dataset in datasets:
    for eps in args.privacies():
      for step, techniques in steps:
        for seed in args.seeds:
          name = f"{dataset}/{exp.privacy_name(eps)}/{step}/seed{seed}"
          out.append(runs.spec(
              name=name, config=exp.config(args, dataset, eps, techniques,
                                           seed),
              labels={"dataset": dataset, "private": eps is not None,
                      "step": step, "seed": seed},
              attacks=tuple(args.attacks), max_examples=args.max_examples))
  return out


def _report(df, args, out_dir, stem, title, steps):
  if df.empty:
    return []
  agg = tables.aggregate(df, ["dataset", "private", "step"], METRICS)
  agg = _with_paper_bias(agg)
  cols = ["dataset", "private", "step"] + [
      c for c in METRICS + ["paper_skew_bias", "skew_bias_minus_paper"]
      if c in agg.columns and agg[c].notna().any()]
  md = tables.markdown(agg, cols, digits=3, with_std=[
      "test_accuracy", "color_accuracy", "gray_accuracy", "max_auc"])
  # Cumulative: all techniques (GT) against BL; individual: each BL+T.
  arms = [steps[-1][0]] if stem == "ablation" else [s for s, _ in steps[1:]]
  extra = []
  for arm in arms:
    section, files_ = exp.comparisons(
        df, "step", "BL", arm,
        [("test_accuracy", "test accuracy"), ("max_auc", "max MIA AUC"),
         ("skew_bias", "bias (Eq. 1)"),
         ("mia_auc_disparity_domain", "COLOR/GRAY MIA-AUC disparity")],
        ["dataset", "private"], out_dir,
        stem if len(arms) == 1 else f"{stem}_{arm.replace('+', '_')}")
    md += section
    extra += files_
  if stem == "ablation":
    md += _paper_deltas_section(agg)
  files = extra + exp.write_table(agg, out_dir, stem, title, md)
  return files + _figure(agg, out_dir, stem, title, [s for s, _ in steps])


def _with_paper_bias(agg):
  """The paper's Eq. 1 bias beside ours, with ours − paper.

  Section 4.2: BL and all techniques on CIFAR-S.
  """
  paper = tables.paper_numbers("table5_bias").rename(
      columns={"bias": "paper_skew_bias"})
  paper["private"] = paper["private"].astype(bool)
  out = agg.merge(paper, on=["dataset", "private", "step"], how="left")
  if "skew_bias" in out:
    out["skew_bias_minus_paper"] = out["skew_bias"] - out["paper_skew_bias"]
  return out


_COMPARISONS = {
    "GT-BL": "all techniques − BL",
    "SAT-PA": "+SAT − +PA",
    "DP-nonDP": "DP (ε 8) − non-private, all techniques",
}


def paper_deltas(agg) -> pd.DataFrame:
  """The differences the paper states in prose (Tables 2, 3, 6), ours beside.

  Ours is the difference of our medians over seeds; accuracy in percentage
  points as the paper's. NaN where the arms were not run.
  """
  paper = tables.paper_numbers("prose_deltas")
  last = CUMULATIVE_STEPS[-1][0]
  before_last = CUMULATIVE_STEPS[-2][0]
  def value(dataset, private, step, metric):
    hit = agg[(agg["dataset"] == dataset) & (agg["private"] == private) &
              (agg["step"] == step)]
    if hit.empty or metric not in hit:
      return np.nan
    v = float(hit[metric].iloc[0])
    return 100.0 * v if metric == "test_accuracy" else v
  ours = []
  for r in paper.itertuples():
    d, m = r.dataset, r.metric
    if r.comparison == "GT-BL":
      ours.append(value(d, r.private, last, m) - value(d, r.private, "BL", m))
    elif r.comparison == "SAT-PA":
      ours.append(value(d, r.private, last, m) -
                  value(d, r.private, before_last, m))
    else:
      ours.append(value(d, True, last, m) - value(d, False, last, m))
  out = paper.drop(columns=["quote"]).rename(columns={"value": "paper"})
  out["ours"] = ours
  out["ours_minus_paper"] = out["ours"] - out["paper"]
  return out


def _paper_deltas_section(agg) -> str:
  deltas = paper_deltas(agg)
  deltas = deltas[deltas["ours"].notna()]
  if deltas.empty:
    return ""
  lines = ["", "", "### Differences the paper states in prose", "",
           "Tables 2, 3 and 6 are images the paper's text lacks; these are "
           "the differences its text states (`paper_numbers.json`, each "
           "traced to its sentence by `tests/reporting/paper_numbers_test."
           "py`), beside the same difference of our medians. Accuracy in "
           "percentage points; ≈: the paper says \"approximately\".", "",
           "| source | dataset | setting | metric | difference | paper | ours "
           "| ours − paper |", "|---|---|---|---|---|---|---|---|"]
  for r in deltas.itertuples():
    setting = ("both" if r.comparison == "DP-nonDP" else
               "DP (ε 8)" if r.private else "non-private")
    lines.append(
        f"| {r.table} | {r.dataset} | {setting} | {r.metric} | "
        f"{_COMPARISONS[r.comparison]} | {'≈' if r.approx else ''}"
        f"{r.paper:+.2f} | {r.ours:+.2f} | {r.ours_minus_paper:+.2f} |")
  return "\n".join(lines) + "\n"


def _figure(agg, out_dir, stem, title, order):
  metrics = [("test_accuracy", "accuracy"), ("max_auc", "max MIA AUC"),
             ("skew_bias", "bias (Eq. 1)"), ("harmonic_score", "HS")]
  fig, axes = figures.subplots(1, 4, figsize=(15, 3.6))
  x = np.arange(len(order))
  arms = agg.groupby(["dataset", "private"], sort=False)
  for k, ((dataset, private), g) in enumerate(arms):
    g = g.set_index("step").reindex(order)
    label = (f"{dataset} {'DP (ε 8)' if private else 'non-private'} "
             "(median ± std)")
    shift = 0.08 * (k - (arms.ngroups - 1) / 2)  # Arms side by side.
    for ax, (m, _) in zip(axes, metrics):
      if m in g:
        ax.errorbar(x + shift, g[m], yerr=g.get(f"{m}_std"),
                    marker="osd^v<>"[k % 7], capsize=2, alpha=0.85,
                    label=label)
  for ax, (_, ylabel) in zip(axes, metrics):
    ax.set_xticks(x)
    ax.set_xticklabels(order, rotation=45, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.set_title(ylabel)
    ax.set_xlabel("technique added (cumulative)" if stem == "ablation" else
                  "technique")
  figures.legend_outside(axes[-1])
  return exp.save_figure(fig, out_dir, stem, title=title)


CUMULATIVE = exp.Experiment(
    name="ablation",
    title="Cumulative ablation of generalization techniques (Tables 2-3, "
    "Figure 1)",
    default_datasets=(("cifar10", "cifar100", "cifar10s", "cifar100s"),
                      ("cifar10s",)),
    build=lambda args: _specs(CUMULATIVE_STEPS, args,
                              CUMULATIVE.datasets(args)),
    report=lambda df, args, out: _report(
        df, args, out, "ablation", CUMULATIVE.title, CUMULATIVE_STEPS))

INDIVIDUAL = exp.Experiment(
    name="individual",
    title="Each generalization technique alone on the baseline (Table 8)",
    default_datasets=(("cifar10", "cifar100", "cifar10s", "cifar100s"),
                      ("cifar10s",)),
    build=lambda args: _specs(INDIVIDUAL_STEPS, args,
                              INDIVIDUAL.datasets(args)),
    report=lambda df, args, out: _report(
        df, args, out, "individual", INDIVIDUAL.title, INDIVIDUAL_STEPS))
