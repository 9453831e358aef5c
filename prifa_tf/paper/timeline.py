"""Figure 2: memorization over training.

A reference model (non-private baseline) is trained and attacked first; its
riskiest training example (highest MLP membership score) is then tracked
in four runs: baseline and all techniques (GT), private and non-private.
Every epoch each run records train/test accuracy, the MIA AUC and the
tracked example's membership probability; the early-stopping (best test
accuracy) and overfitting (lowest test loss) points are marked.
"""

import os


from prifa_tf.data import tfds_loader
from prifa_tf.evaluation import mia_monitor
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.paper import runs

ARMS = [("baseline", ()), ("GT", configs.TECHNIQUES)]


def _epoch_steps(cfg, n):
  return max(1, n // cfg.batch_size)


def _specs(args):
  out = []
  for dataset in TIMELINE.datasets(args):
    for seed in args.seeds:
      ref = f"{dataset}/reference/seed{seed}"
      out.append(runs.spec(
          name=ref, config=exp.config(args, dataset, None, (), seed),
          labels={"dataset": dataset, "arm": "reference", "private": False,
                  "seed": seed},
          attacks=("mlp",), max_examples=args.max_examples))
      for eps in args.privacies():
        for arm, techniques in ARMS:
          cfg = exp.config(args, dataset, eps, techniques, seed)
          # Non-private arms train past the early-stopping point to show it.
          cfg.early_stopping_patience = 0
          n = (cfg.train_subset
               or tfds_loader.SPLIT_SIZES[cfg.base_dataset]["train"])
          out.append(runs.spec(
              name=f"{dataset}/{exp.privacy_name(eps)}/{arm}/seed{seed}",
              config=cfg.validate(),
              labels={"dataset": dataset, "arm": arm,
                      "private": eps is not None, "seed": seed},
              attacks=tuple(args.attacks), max_examples=args.max_examples,
              mia_every=_epoch_steps(cfg, n - cfg.val_size), track_from=ref,
              track_top=1))
  return out


def _report(df, args, out_dir):
  if df.empty:
    return []
  arm_runs = df[df["arm"] != "reference"]
  files = []
  summary = tables.aggregate(arm_runs, ["dataset", "private", "arm"],
                             ["test_accuracy", "max_auc",
                              "max_tpr_at_1%_fpr", "epsilon",
                              "epsilon_lower_bound"])
  md = tables.markdown(summary, ["dataset", "private", "arm", "epsilon",
                                 "epsilon_lower_bound",
                                 "test_accuracy", "max_auc",
                                 "max_tpr_at_1%_fpr"], digits=3)
  files += exp.write_table(summary, out_dir, "timeline",
                           "Memorization timeline: final metrics (Figure 2)",
                           md)
  for (dataset, seed), g in arm_runs.groupby(["dataset", "seed"], sort=False):
    panels = list(g.itertuples())
    fig, axes = figures.subplots(1, len(panels),
                                 figsize=(4.6 * len(panels), 4.0),
                                 squeeze=False)
    for ax, row in zip(axes[0], panels):
      path = os.path.join(runner.run_dir(out_dir, row.run),
                          mia_monitor.HISTORY_FILE)
      if not os.path.exists(path):
        continue
      hist = sorted(results_lib.read_json(path), key=lambda h: h["step"])
      es, of = mia_monitor.draw_history(ax, hist)
      privacy = "DP" if row.private else "non-private"
      ax.set_title(f"{row.arm}, {privacy}\nearly stop at step {es}, "
                   f"overfit from step {of}\nfinal max MIA AUC "
                   f"{row.max_auc:.3f} (evaluation)", fontsize=8)
      ax.set_ylim(0, 1)
    figures.legend_outside(axes[0][-1])
    files += exp.save_figure(
        fig, out_dir, f"timeline_{dataset}_seed{seed}",
        title=f"{dataset}: memorization during training (Figure 2; "
        f"{args.scale.name} scale, seed {seed})")
  return files


TIMELINE = exp.Experiment(
    name="memorization",
    title="Memorization timeline (Figure 2)",
    default_datasets=(("cifar10",), ("cifar10",)),
    build=_specs, report=_report)
