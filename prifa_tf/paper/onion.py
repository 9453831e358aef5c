"""Figures 5, 6 and 9: the Onion effect of removing high-risk examples.

Layer 0 trains on the whole training set and is attacked; its MLP
privacy-risk scores rank the training ids. Layer L+1 retrains without the
ids removed so far plus layer L's ``remove_top`` riskiest ids (5,000 in the
paper). After each layer: accuracy, MIA AUC, bias and HS. Every layer's
removed ids are saved in its workdir (``removed_ids.json``).
"""

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import tables
from prifa_tf.sweeps.spec import RunSpec

DEFAULT_REMOVE = {"paper": 5000, "smoke": 200, "tiny": 20}


def _specs(args):
  remove = args.remove_top or DEFAULT_REMOVE[args.scale.name]
  attacks = tuple(dict.fromkeys(tuple(args.attacks) + ("mlp",)))
  out = []
  for dataset in ONION.datasets(args):
    for eps in args.privacies():
      for seed in args.seeds:
        parent = None
        for layer in range(args.layers + 1):
          name = f"{dataset}/{exp.privacy_name(eps)}/layer{layer}/seed{seed}"
          out.append(RunSpec(
              name=name,
              config=exp.config(args, dataset, eps, configs.TECHNIQUES, seed),
              labels={"dataset": dataset, "private": eps is not None,
                      "layer": layer, "removed": layer * remove,
                      "seed": seed},
              # Every training id must be scored to rank them: no bound.
              attacks=attacks, max_examples=None, remove_from=parent,
              remove_top=remove if parent else 0, risk_score="mlp_score"))
          parent = name
  return out


def _report(df, args, out_dir):
  if df.empty:
    return []
  metrics = ["test_accuracy", "mean_accuracy", "color_accuracy",
             "gray_accuracy", "auc_used_for_hs", "max_auc", "skew_bias",
             "harmonic_score", "train_examples", "epsilon"]
  agg = tables.aggregate(df, ["dataset", "private", "layer", "removed"],
                         metrics)
  md = tables.markdown(
      agg, ["dataset", "private", "layer", "removed", "train_examples",
            "epsilon", "test_accuracy", "auc_used_for_hs", "skew_bias",
            "harmonic_score"],
      ["dataset", "private", "layer", "removed", "n train", "ε spent",
       "accuracy", "MIA AUC (MLP)", "bias", "HS"], digits=3,
      with_std=["test_accuracy", "auc_used_for_hs", "skew_bias"])
  files = exp.write_table(agg, out_dir, "onion",
                          "Onion effect (Figures 5, 6, 9)", md)
  panels = [("test_accuracy", "accuracy"), ("auc_used_for_hs", "MIA AUC"),
            ("skew_bias", "bias (Eq. 1)"), ("harmonic_score", "HS")]
  fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
  for (dataset, private), g in agg.groupby(["dataset", "private"],
                                           sort=False):
    for ax, (m, label) in zip(axes, panels):
      ax.errorbar(g["removed"], g[m], yerr=g[f"{m}_std"], marker="o",
                  capsize=2,
                  label=f"{dataset} {'DP' if private else 'non-private'}")
      ax.set_ylabel(label)
      ax.set_xlabel("training examples removed")
  axes[0].legend(fontsize=7)
  return files + exp.save_figure(
      fig, out_dir, "onion", title="Onion effect: removing the riskiest "
      f"examples layer by layer ({args.scale.name} scale)")


ONION = exp.Experiment(
    name="onion",
    title="Onion effect (Figures 5, 6, 9)",
    default_datasets=(("cifar10", "cifar100", "cifar10s", "cifar100s"),
                      ("cifar10s",)),
    build=_specs, report=_report)
