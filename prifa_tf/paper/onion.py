"""Figures 5, 6 and 9: the Onion effect of removing high-risk examples.

Layer 0 trains on the whole training set and is attacked; its MLP
privacy-risk scores rank the training ids (the paper), or, with
``--onion_risk=lira``, its online LiRA scores against ``--num_models``
shadow models trained on balanced halves of the layer's members (Carlini
et al.'s original Onion-effect study). Layer L+1 retrains without the
ids removed so far plus layer L's ``remove_top`` riskiest ids (5,000 in the
paper). After each layer: accuracy, MIA AUC, bias and HS. Every layer's
removed ids are saved in its workdir (``removed_ids.json``).
"""

import dataclasses

import numpy as np

from prifa_tf import errors
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import tables
from prifa_tf.paper import runs

DEFAULT_REMOVE = {"paper": 5000, "cpu": 2000, "smoke": 200, "tiny": 20}
DEFAULT_SHADOWS = {"paper": 16, "cpu": 8, "smoke": 8, "tiny": 4}
RISK_COLUMNS = {"mlp": "mlp_score", "lira": "lira_score"}


def _shadows(args, target_name, cfg, layer_labels):
  """LiRA shadow runs of one layer (same recipe, other seeds, no canaries)."""
  n = args.num_models or DEFAULT_SHADOWS[args.scale.family]
  if n < 2 or n % 2:
    raise errors.BadInputError(f"--num_models must be even and >= 2; got {n}.")
  out = []
  for m in range(n):
    shadow_cfg = dataclasses.replace(
        cfg, seed=10_000 + 100 * cfg.seed + m,
        subset_seed=cfg.data_seed, audit_canaries=0).validate()
    out.append(runs.spec(
        name=f"{target_name}_shadow{m}", config=shadow_cfg,
        labels={**layer_labels, "role": "shadow"}, attacks=("threshold",),
        max_examples=500, shadow_of=target_name, shadow_index=m,
        num_shadows=n))
  return out


def _specs(args):
  remove = args.remove_top or DEFAULT_REMOVE[args.scale.family]
  attacks = tuple(dict.fromkeys(tuple(args.attacks) + ("mlp",)))
  if args.onion_risk not in RISK_COLUMNS:
    raise errors.BadInputError(
        f"--onion_risk must be one of {sorted(RISK_COLUMNS)}.")
  lira_ranked = args.onion_risk == "lira"
  out = []
  for dataset in ONION.datasets(args):
    for eps in args.privacies():
      for seed in args.seeds:
        parent, shadows = None, []
        for layer in range(args.layers + 1):
          name = f"{dataset}/{exp.privacy_name(eps)}/layer{layer}/seed{seed}"
          cfg = exp.config(args, dataset, eps, configs.TECHNIQUES, seed)
          labels = {"dataset": dataset, "private": eps is not None,
                    "layer": layer, "removed": layer * remove, "seed": seed}
          out.append(runs.spec(
              name=name, config=cfg, labels={**labels, "role": "target"},
              # Every training id must be scored to rank them: no bound.
              attacks=attacks, max_examples=None, remove_from=parent,
              remove_top=remove if parent else 0,
              risk_score=RISK_COLUMNS[args.onion_risk],
              risk_shadows=[s.name for s in shadows] if parent else ()))
          shadows = []
          if lira_ranked and layer < args.layers:
            shadows = _shadows(args, name, cfg, labels)
            out += shadows
          parent = name
  return out


def _report(df, args, out_dir):
  if "role" in df:
    df = df[df["role"] == "target"]
  if df.empty:
    return []
  metrics = ["test_accuracy", "mean_accuracy", "color_accuracy",
             "gray_accuracy", "auc_used_for_hs", "max_auc",
             "max_tpr_at_1%_fpr", "skew_bias",
             "harmonic_score", "train_examples", "epsilon",
             "epsilon_lower_bound"]
  agg = tables.aggregate(df, ["dataset", "private", "layer", "removed"],
                         metrics)
  md = tables.markdown(
      agg, ["dataset", "private", "layer", "removed", "train_examples",
            "epsilon", "epsilon_lower_bound", "test_accuracy",
            "auc_used_for_hs", "max_tpr_at_1%_fpr", "skew_bias",
            "harmonic_score"],
      ["dataset", "private", "layer", "removed", "n train", "ε spent",
       "ε audit LB",
       "accuracy", "MIA AUC (MLP)", "max TPR@1%FPR", "bias", "HS"],
      digits=3,
      with_std=["test_accuracy", "auc_used_for_hs", "skew_bias"])
  if args.onion_risk == "mlp":
    ranking = "TF-Privacy's MLP privacy-risk score, as the paper"
  else:
    shadows = args.num_models or DEFAULT_SHADOWS[args.scale.family]
    ranking = f"online LiRA against {shadows} shadow models per layer"
  md += f"\n\nRemoval ranking: {ranking}.\n"
  files = exp.write_table(agg, out_dir, "onion",
                          "Onion effect (Figures 5, 6, 9)", md)
  panels = [("test_accuracy", "accuracy"), ("auc_used_for_hs", "MIA AUC"),
            ("skew_bias", "bias (Eq. 1)"), ("harmonic_score", "HS")]
  fig, axes = figures.subplots(1, 4, figsize=(15, 3.4))
  arms = agg.groupby(["dataset", "private"], sort=False)
  step = max(float(np.diff(sorted(set(agg["removed"]))).min(initial=1.0))
             if agg["removed"].nunique() > 1 else 1.0, 1.0)
  for k, ((dataset, private), g) in enumerate(arms):
    shift = 0.04 * step * (k - (arms.ngroups - 1) / 2)  # Side by side.
    for ax, (m, label) in zip(axes, panels):
      ax.errorbar(g["removed"] + shift, g[m], yerr=g[f"{m}_std"],
                  marker="osd^v<>"[k % 7], capsize=2, alpha=0.85,
                  label=f"{dataset} {'DP' if private else 'non-private'} "
                  "(median ± std)")
      ax.set_ylabel(label)
      ax.set_title(label)
      ax.set_xlabel("training examples removed")
  figures.legend_outside(axes[-1])
  return files + exp.save_figure(
      fig, out_dir, "onion", title="Onion effect: removing the riskiest "
      f"examples layer by layer ({args.scale.name} scale)")


ONION = exp.Experiment(
    name="onion",
    title="Onion effect (Figures 5, 6, 9)",
    default_datasets=(("cifar10", "cifar100", "cifar10s", "cifar100s"),
                      ("cifar10s",)),
    build=_specs, report=_report)
