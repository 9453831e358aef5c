"""Three-way evaluation of a finished training run: utility, privacy, fairness.

Reads a workdir written by ``training.Trainer`` and writes beside it:
``eval.json`` (every metric, epsilon, config), ``attacks.csv`` (one row per
attack), ``risk_scores.csv`` (per training id: each trained attack's
membership score and the Song & Mittal membership probability), TensorBoard
scalars under ``tensorboard/eval`` and ROC / score-histogram plots.

Members are the training examples of the run; non-members are held-out test
examples drawn like them (for CIFAR-S, the test set skewed by the training
rule, so that colour alone does not tell members apart). Every CIFAR model is
also scored on the
COLOR/GRAY pair of the test set, so Eq. 1's bias and the Harmonic Score are
defined for models trained on unbiased data too.

Multi-label (CelebA) runs get Table 7's evaluation instead (see
``multilabel``): ``attributes.csv`` (per attribute: skewness, threshold,
Eq. 2, weighted AP, MIA AUC per attack), ``attributes_vs_skewness.png``,
and risk scores averaged over attributes.
"""

import csv
import io
import os
from typing import Optional, Sequence

import numpy as np
import pandas as pd
import tensorflow as tf

from prifa_tf.errors import EvaluationError
from prifa_tf import attacks as attacks_lib
from prifa_tf import fairness
from prifa_tf import metrics
from prifa_tf.data import skewed
from prifa_tf.data import subsets
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet
from prifa_tf.evaluation import multilabel
from prifa_tf.evaluation import privacy_by_group
from prifa_tf.reporting import figures
from prifa_tf.reporting import provenance
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import datasets
from prifa_tf.training import evaluation
from prifa_tf.training import trainer as trainer_lib
from prifa_tf.training.config import TrainConfig

EVAL_FILE = "eval.json"


def _write_text_atomic(path, text):
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def _csv(rows, columns):
  buf = io.StringIO()
  writer = csv.DictWriter(buf, fieldnames=columns)
  writer.writeheader()
  for r in rows:
    writer.writerow(r)
  return buf.getvalue()


def _plots(outcomes, member_probs, nonmember_probs, out_dir):
  # Log-log: the low-FPR regime is what matters (Carlini et al. 2022).
  # Each curve is TF-Privacy's, the one its AUC and our TPR at low FPR come
  # from; FPR 0 is drawn at the axis floor.
  fig, ax = figures.subplots(figsize=(4.5, 4.5))
  floor = 1e-4
  for name, o in outcomes.items():
    ax.plot(np.maximum(o.roc_fpr, floor), np.maximum(o.roc_tpr, floor),
            label=f"{name} (AUC {o.auc:.3f}, TPR@1% "
            f"{o.tpr_at_fpr(0.01):.3f})")
  ax.plot([floor, 1], [floor, 1], "k:", lw=0.8)
  ax.set_xscale("log")
  ax.set_yscale("log")
  ax.set_xlim(floor, 1)
  ax.set_ylim(floor, 1)
  ax.set_xlabel("false positive rate")
  ax.set_ylabel("true positive rate")
  ax.set_title("Membership inference ROC (log-log)")
  figures.legend_outside(ax)
  figures.save(fig, out_dir, "mia_roc")
  fig, ax = figures.subplots(figsize=(5.5, 3.4))
  bins = np.linspace(0, 1, 51)
  ax.hist(member_probs, bins=bins, alpha=0.55, label="members", density=True)
  ax.hist(nonmember_probs, bins=bins, alpha=0.55, label="non-members",
          density=True, histtype="stepfilled")
  ax.set_xlabel("membership probability (Song & Mittal privacy risk score)")
  ax.set_ylabel("density")
  ax.set_title("Privacy risk scores: members vs non-members")
  figures.legend_outside(ax)
  figures.save(fig, out_dir, "risk_score_hist")


def _find(top, name, limit=3):
  """Up to ``limit`` paths of files called ``name`` below ``top``."""
  found = []
  for root, dirs, files in os.walk(top):
    dirs.sort()
    if name in files and root != top:
      found.append(os.path.join(root, name))
      if len(found) >= limit:
        break
  return found


def load_run(workdir):
  """(results.json, config) of a completed run, or EvaluationError."""
  res_path = os.path.join(workdir, trainer_lib.RESULTS_FILE)
  if not os.path.isdir(workdir):
    raise EvaluationError(f"{workdir}: no such directory; pass a training "
                          "run's workdir.")
  if not os.path.exists(res_path):
    runs = sorted(os.path.dirname(os.path.relpath(p, workdir)) for p in
                  _find(workdir, trainer_lib.RESULTS_FILE))
    if runs:
      raise EvaluationError(
          f"{workdir} is a sweep directory, not a run; pass one of its "
          f"runs, e.g. --workdir={os.path.join(workdir, runs[0])}.")
    raise EvaluationError(f"{workdir} has no {trainer_lib.RESULTS_FILE}: "
                          "train (or finish training) first.")
  if not results_lib.is_writable(workdir):
    raise EvaluationError(f"{workdir} is not writable, so the evaluation's "
                          "files could not be saved; nothing was run.")
  run = results_lib.read_json(res_path)
  if run.get("status") != "completed":
    raise EvaluationError(f"The run in {workdir} is not complete.")
  return run, TrainConfig.from_dict(run["config"])


def load_model(workdir, run, cfg, num_classes, input_shape):
  """The run's model with its saved evaluation weights."""
  weights = os.path.join(workdir, run["weights_file"])
  if not os.path.exists(weights):
    raise EvaluationError(f"Missing weights file {weights}.")
  model = trainer_lib.build_model(cfg, num_classes, input_shape)
  try:
    model.load_weights(weights)
  except (OSError, ValueError) as e:
    raise EvaluationError(f"Cannot read weights {weights}: {e}") from e
  return model


def _load_run(workdir, data):
  """(run results, config, data, model with the evaluated weights)."""
  run, cfg = load_run(workdir)
  data = datasets.with_canaries(
      data or datasets.build(cfg, remove_ids=run.get("removed_ids")), cfg)
  removed = np.intersect1d(data.train.ids, run.get("removed_ids", []))
  if removed.size:
    raise EvaluationError(
        f"The data given holds {removed.size} ids the run left out of "
        f"training (e.g. {removed[:3].tolist()}); they are not members.")
  model = load_model(workdir, run, cfg, data.train.num_classes,
                     data.train.images.shape[1:])
  return run, cfg, data, model


def evaluate_workdir(workdir: str, attacks: Sequence[str] = ("threshold",
                                                             "mlp"),
                     backend: Optional[str] = None,
                     max_examples: Optional[int] = None, seed: int = 0,
                     data: Optional[datasets.RunData] = None,
                     log=print, balanced: bool = False,
                     validation: Optional[ImageSet] = None) -> dict:
  """Evaluates the run in ``workdir``; returns what eval.json holds.

  Args:
    workdir: a completed training workdir.
    attacks: TF-Privacy attacks to run (``attacks.ALL_ATTACKS``); for
      multi-label data, the attacks run on every attribute.
    backend: joblib backend for the trained attacks.
    max_examples: bound on members and on non-members given to the attacks.
    seed: attack seed.
    data: prebuilt data (tests); default: rebuilt from the run's config.
    log: progress printer.
    balanced: give the attacks as many members as non-members.
    validation: multi-label only: the split that picks each attribute's
      F1-optimal threshold; default: the run's validation split, else the
      dataset's own validation split.
  """
  run, cfg, data, model = _load_run(workdir, data)
  trainer_lib.check_audit(run)  # A failed privacy audit stops here too.
  train = datasets.members(data)  # Audit canaries are not members.

  def logits(s):
    return evaluation.predict_logits(model, s.images, data.dataset)

  test_name = next(iter(data.evaluation))
  test = data.evaluation[test_name]
  logits_train, logits_test = logits(train), logits(test)
  train_acc = evaluation.accuracy(logits_train, train.labels)
  test_acc = evaluation.accuracy(logits_test, test.labels)
  held_out = data.nonmembers
  logits_held = (logits_test if held_out is test else logits(held_out))
  full = attacks_lib.MembershipData(
      logits_train, train.labels, train.ids, logits_held,
      held_out.labels, held_out.ids)
  members = full.subsample(max_examples, seed, balanced=balanced)
  report = {
      "workdir": os.path.abspath(workdir),
      "provenance": provenance.collect(),
      "training_provenance": run.get("provenance"),
      "config": cfg.to_dict(),
      "privacy_budget": run["privacy"],
      **({"audit": run["audit"]} if run.get("audit") else {}),
      "utility": {"train_accuracy": train_acc, "test_accuracy": test_acc,
                  "generalization_gap": metrics.generalization_gap(
                      train_acc, test_acc)},
  }
  if data.train.multilabel:
    validation = validation or data.validation or _dataset_validation(cfg)
    rows, outcomes = multilabel.attribute_rows(
        members, logits(validation), validation.labels,
        _rows_of(held_out, members.ids_test).domains, data.train.labels,
        data.train.domains, attacks, backend=backend, seed=seed, log=log,
        member_male=(_rows_of(train, members.ids_train).domains
                     if train.domains is not None else None))
    summary = multilabel.summarize(rows)
    report.update({
        "mia": {"avg_auc_skew_0.5_1": summary["avg_mia_auc_skew_0.5_1"],
                "avg_auc_skew_ge_0.8": summary["avg_mia_auc_skew_ge_0.8"],
                "members": len(members.ids_train),
                "non_members": len(members.ids_test)},
        "fairness": summary,
        "attributes": rows,
        "harmonic_score": None,  # The paper defines no HS for CelebA.
    })
    _write_multilabel_outputs(workdir, report, rows, outcomes, members)
    log(format_multilabel_table(report))
    return report
  outcomes = attacks_lib.run(members, attacks, backend=backend, seed=seed)
  probs, nonmember_probs = attacks_lib.membership_probabilities(members)
  by_group = _privacy_by_group(members, probs, nonmember_probs, train,
                               held_out, cfg, seed)

  # Utility and fairness on the COLOR / GRAY pair of the test set.
  color, gray = skewed.make_domain_test_sets(test)
  pred_c = np.argmax(logits(color), -1)
  pred_g = np.argmax(logits(gray), -1)
  domain = fairness.domain_accuracies(pred_c, pred_g, test.labels)
  bias = fairness.skew_bias(pred_c, pred_g, test.num_classes)
  head = attacks_lib.headline(outcomes)
  auc = head.get("mlp_auc", head["max_auc"])
  accuracy = domain["mean_accuracy"] if cfg.skewed else test_acc
  advantage = max(o.attacker_advantage for o in outcomes.values())
  report["utility"].update(domain)
  report.update({
      "attacks": {n: o.row() for n, o in outcomes.items()},
      "mia": {**head, "auc_used_for_hs": auc,
              "max_attacker_advantage": advantage,
              "members": len(members.ids_train),
              "non_members": len(members.ids_test)},
      "fairness": {"skew_bias": bias},
      "privacy_by_group": privacy_by_group.summary(by_group),
      "harmonic_score": metrics.harmonic_score(accuracy, auc, bias),
      "harmonic_score_inputs": {"accuracy": accuracy, "auc": auc,
                                "bias": bias},
      "p1_score": metrics.p1_score(accuracy, advantage),
      "top_risk_ids": attacks_lib.top_risk_ids(
          members.ids_train, probs, min(20, len(probs))).tolist(),
  })
  _write_outputs(workdir, report, outcomes, members, probs, nonmember_probs)
  log(format_table(report))
  return report


def _dataset_validation(cfg):
  """The dataset's own validation split (CelebA), subset like the test."""
  size = (cfg.image_size, cfg.image_size) if cfg.image_size else None
  val = tfds_loader.load_split(cfg.base_dataset, "validation", cfg.data_dir,
                               cfg.download, image_size=size)
  if cfg.test_subset:
    val = subsets.select_ids(val, subsets.random_ids(val, cfg.test_subset,
                                                     seed=cfg.data_seed))
  return val


def _privacy_by_group(members, probs, nonmember_probs, train, held_out, cfg,
                      seed):
  """The threshold attack by class, correctness and (CIFAR-S) domain."""
  domains = (None, None)
  if train.domains is not None and held_out.domains is not None:
    domains = (_rows_of(train, members.ids_train).domains,
               _rows_of(held_out, members.ids_test).domains)
  return privacy_by_group.evaluate(
      members, np.asarray(probs), np.asarray(nonmember_probs), *domains,
      domain_names=privacy_by_group.names_for(cfg.skewed), seed=seed)


def _rows_of(image_set, ids):
  """The rows of ``image_set`` with these ids, in this order."""
  index = {int(i): k for k, i in enumerate(image_set.ids)}
  return image_set.take(np.array([index[int(i)] for i in ids], dtype=int))


def _mean_attribute_scores(outcomes):
  """Per member, each attack's membership score averaged over attributes."""
  per_attack = {}
  for out in outcomes.values():
    for a, o in out.items():
      per_attack.setdefault(a, []).append(o.member_scores)
  return {a: np.mean(v, axis=0) for a, v in per_attack.items()}


def _write_multilabel_outputs(workdir, report, rows, outcomes, members):
  _write_text_atomic(os.path.join(workdir, "attributes.csv"),
                     _csv(rows, list(rows[0])))
  attack_rows = [{"attribute": name, **o.row()}
                 for name, out in outcomes.items() for o in out.values()]
  _write_text_atomic(os.path.join(workdir, "attacks.csv"),
                     _csv(attack_rows, list(attack_rows[0])))
  member_scores = _mean_attribute_scores(outcomes)
  risk_rows = [{"id": int(i), **{f"{a}_mean_attribute_score": float(s[k])
                                 for a, s in member_scores.items()}}
               for k, i in enumerate(members.ids_train)]
  _write_text_atomic(os.path.join(workdir, "risk_scores.csv"),
                     _csv(risk_rows, list(risk_rows[0])))
  multilabel.plots(rows, workdir)
  scalars = {"mia/avg_auc_skew_0.5_1": report["mia"]["avg_auc_skew_0.5_1"],
             "mia/avg_auc_skew_ge_0.8": report["mia"]["avg_auc_skew_ge_0.8"],
             "fairness/bias": report["fairness"]["bias"],
             "utility/weighted_map": report["fairness"]["weighted_map"]}
  _write_scalars(workdir, scalars)
  results_lib.write_json_atomic(os.path.join(workdir, EVAL_FILE), report)


def _write_scalars(workdir, scalars):
  writer = tf.summary.create_file_writer(
      os.path.join(workdir, "tensorboard", "eval"))
  step = int(results_lib.read_json(os.path.join(
      workdir, trainer_lib.RESULTS_FILE))["steps"])
  with writer.as_default(step=step):
    for name, value in scalars.items():
      if value is not None and np.isfinite(value):
        tf.summary.scalar(name, value)
  writer.flush()


def format_multilabel_table(report) -> str:
  """A compact text table of a multi-label (CelebA) evaluation."""
  f, m, u = report["fairness"], report["mia"], report["utility"]
  worst = sorted(report["attributes"], key=lambda r: -r["max_auc"])[:5]
  lines = [f"{'attribute':>20} {'skew':>5} {'AP':>6} {'bias':>7} {'AUC':>6}"]
  for r in worst:
    lines.append(f"{r['attribute']:>20} {r['skewness']:5.2f} "
                 f"{r['weighted_ap']:6.3f} {r['bias_amplification']:7.3f} "
                 f"{r['max_auc']:6.3f}")
  lines.append(
      f"weighted mAP {f['weighted_map']:.4f}  bias {f['bias']:.4f}  "
      f"avg MIA AUC (skew 0.5-1) {m['avg_auc_skew_0.5_1']:.4f}  "
      f"(skew>=0.8) {m['avg_auc_skew_ge_0.8']:.4f}  label acc "
      f"{u['test_accuracy']:.4f}  eps " + epsilon_text(report))
  return "\n".join(lines)


def _write_outputs(workdir, report, outcomes, members, probs,
                   nonmember_probs):
  rows = [o.row() for o in outcomes.values()]
  _write_text_atomic(os.path.join(workdir, "attacks.csv"),
                     _csv(rows, list(rows[0])))
  risk_rows = []
  for i, example_id in enumerate(members.ids_train):
    row = {"id": int(example_id), "membership_probability": probs[i]}
    for n, o in outcomes.items():
      row[f"{n}_score"] = o.member_scores[i]
    risk_rows.append(row)
  _write_text_atomic(os.path.join(workdir, "risk_scores.csv"),
                     _csv(risk_rows, list(risk_rows[0])))
  groups = pd.DataFrame(report["privacy_by_group"]["groups"])
  _write_text_atomic(os.path.join(workdir, privacy_by_group.FILE),
                     groups.to_csv(index=False))
  privacy_by_group.plot(groups, workdir, "Threshold attack by group "
                        "(dotted: all examples)")
  _plots(outcomes, probs, nonmember_probs, workdir)
  scalars = {f"mia/{n}_auc": o.auc for n, o in outcomes.items()}
  scalars["fairness/skew_bias"] = report["fairness"]["skew_bias"]
  scalars["harmonic_score"] = report["harmonic_score"]
  _write_scalars(workdir, scalars)
  results_lib.write_json_atomic(os.path.join(workdir, EVAL_FILE), report)


def format_table(report) -> str:
  """Two lines: attack AUCs; utility, fairness and the combined scores.

  Every attack's advantage, PPV, ε lower bound and time are in
  ``attacks.csv`` and ``eval.json``.
  """
  u, m = report["utility"], report["mia"]
  lines = [f"MIA AUC ({m['members']} members, {m['non_members']} "
           "non-members) " + ", ".join(
      f"{row['attack']} {row['auc']:.3f}" + (
          f" (TPR@1%FPR {row['tpr_at_1%_fpr']:.3f})"
          if "tpr_at_1%_fpr" in row else "") + (
          f" ({row['wall_time_s']:.0f} s)" if row["wall_time_s"] >= 1 else "")
      for row in report["attacks"].values()) + " (all metrics: attacks.csv)"]
  lines.append(
      f"train acc {u['train_accuracy']:.4f}  test acc {u['test_accuracy']:.4f}"
      f"  gap {u['generalization_gap']:.4f}  color|gray "
      f"{u['color_accuracy']:.4f}|{u['gray_accuracy']:.4f}  "
      f"bias {report['fairness']['skew_bias']:.4f}  MIA AUC (HS) "
      f"{m['auc_used_for_hs']:.4f}  HS {report['harmonic_score']:.4f}  "
      f"P1 {report['p1_score']:.4f}  eps " + epsilon_text(report))
  return "\n".join(lines)


def epsilon_text(report) -> str:
  """A report's ε for one console line, with what it is when simulated."""
  budget = report["privacy_budget"] or {}
  eps = budget.get("epsilon")
  if eps is None:
    return "n/a (non-private)"
  tan = budget.get("tan_simulation")
  return f"{eps:.3f}" + (f" (this run's own; the run is {tan['label']})"
                         if tan else "")
