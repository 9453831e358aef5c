"""Table 7 and Figure 7: CelebA attributes with and without DP and GT.

Four models trained with BCE-with-logits over the 39 attributes: Baseline,
+GT (all generalization techniques), +DP (epsilon 8), +GT+DP. Reported:
gender-weighted mAP, Eq. 2's bias and the average per-attribute MIA AUC
over skewness [0.5, 1] and >= 0.8, beside the paper's values; Figure 7
plots each attribute's AP change of +GT+DP over the Baseline against its
skewness.
"""

import csv
import os

import numpy as np

from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.paper import runs

MODELS = [("Baseline", None, ()), ("Baseline+GT", None, configs.TECHNIQUES),
          ("Baseline+DP", 8.0, ()),
          ("Baseline+GT+DP", 8.0, configs.TECHNIQUES)]
ATTRIBUTE_ATTACKS = ("threshold", "threshold_entropy")


def _specs(args):
  attacks = tuple(args.attacks)
  if attacks == exp.PAPER_ATTACKS:
    attacks = ATTRIBUTE_ATTACKS  # 34 attributes: keep the default cheap.
  out = []
  for model, eps, techniques in MODELS:
    if (eps is None and args.privacy == "private") or (
        eps is not None and args.privacy == "nonprivate"):
      continue
    for seed in args.seeds:
      out.append(runs.spec(
          name=f"celeb_a/{model.replace('+', '_')}/seed{seed}",
          config=exp.config(args, "celeb_a", eps, techniques, seed),
          labels={"model": model, "seed": seed}, attacks=attacks,
          max_examples=args.max_examples))
  return out


def _attribute_rows(out_dir, run):
  path = os.path.join(runner.run_dir(out_dir, run), "attributes.csv")
  with open(path) as f:
    return {r["attribute"]: r for r in csv.DictReader(f)}


def _report(df, args, out_dir):
  if df.empty:
    return []
  df = df.copy()
  df["map_pct"] = 100 * df["weighted_map"]
  agg = tables.aggregate(df, ["model"], [
      "map_pct", "bias", "avg_auc_skew_0.5_1", "avg_auc_skew_ge_0.8",
      "epsilon"])
  paper = tables.paper_numbers("table7").rename(columns={
      "map": "paper_map_pct", "bias": "paper_bias",
      "auc_skew_0.5_1": "paper_auc_skew_0.5_1",
      "auc_skew_ge_0.8": "paper_auc_skew_ge_0.8"})
  agg = agg.merge(paper, on="model", how="left")
  md = tables.markdown(
      agg, ["model", "epsilon", "map_pct", "paper_map_pct", "bias",
            "paper_bias", "avg_auc_skew_0.5_1", "paper_auc_skew_0.5_1",
            "avg_auc_skew_ge_0.8", "paper_auc_skew_ge_0.8"],
      ["model", "ε spent", "mAP %", "mAP % (paper)", "bias", "bias (paper)",
       "AUC 0.5≤skew≤1", "(paper)", "AUC skew≥0.8", "(paper)"], digits=3,
      with_std=["map_pct", "bias"])
  md += (f"\n\nScale: {args.scale.name}. Paper values: "
         f"{tables.paper_source()}\n")
  files = exp.write_table(agg, out_dir, "table7", "CelebA (Table 7)", md)
  # Figure 7: per-attribute AP change of +GT+DP over the baseline (seed 0
  # of each, or the first seed present).
  base = df[df["model"] == "Baseline"]
  best = df[df["model"] == "Baseline+GT+DP"]
  if len(base) and len(best):
    a = _attribute_rows(out_dir, base["run"].iloc[0])
    b = _attribute_rows(out_dir, best["run"].iloc[0])
    names = [n for n in a if n in b]
    skew = np.array([float(a[n]["skewness"]) for n in names])
    delta = np.array([100 * (float(b[n]["weighted_ap"]) -
                             float(a[n]["weighted_ap"])) for n in names])
    fig, ax = figures.subplots(figsize=(6, 4))
    ax.scatter(skew, delta, s=16)
    for n, x, y in zip(names, skew, delta):
      ax.annotate(n, (x, y), fontsize=5)
    for lo, hi in ((0.5, 0.8), (0.8, 1.01)):
      sel = (skew >= lo) & (skew < hi) & np.isfinite(delta)
      if sel.any():
        ax.hlines(delta[sel].mean(), lo, min(hi, 1.0), colors="r",
                  label=f"mean over skew [{lo}, {min(hi, 1.0)}]: "
                        f"{delta[sel].mean():.2f}")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xlabel("level of skewness")
    ax.set_ylabel("deterioration over baseline (% AP)")
    ax.set_title(f"Figure 7: +GT+DP vs Baseline per attribute "
                 f"({args.scale.name} scale)", fontsize=9)
    figures.legend_outside(ax)
    files += exp.save_figure(fig, out_dir, "figure7")
  return files


CELEBA = exp.Experiment(
    name="celeba",
    title="CelebA attributes (Table 7, Figure 7)",
    default_datasets=(("celeb_a",), ("celeb_a",)),
    build=_specs, report=_report)
