"""Checks a TAN simulation against the run it simulates, paired by seed.

Sander, Stock & Sablayrolles (ICML 2023, "TAN without a burn") find that
at a fixed number of steps and a fixed noise per example of the batch
(σ/B), accuracy barely moves as B shrinks; ``--tan_factor=k`` runs a
private cell at B/k and σ/k for the same steps on that premise. Here the
premise is tested where both arms can be run: the same experiment swept
twice with the same seeds, once at ``--tan_factor=1`` and once at ``k``.

Each private run of the simulated sweep is paired with the run of the
reference sweep that has its dataset and seed. A pair must differ only in
what TAN changes (B, σ, the physical batch, the factor, and the canaries,
which a simulation never plants); anything else is bad input. The paired
test is ``reporting/comparisons.py``'s: a difference is stated only when
its 95% bootstrap interval excludes 0 and the Wilcoxon p < 0.05.

What is released: the simulated runs' own ε is far larger than the
reference's (their results label it "simulated"); nothing here is a
privacy guarantee for them.
"""

import dataclasses
import os
from typing import Dict, List, Tuple

import numpy as np
import pandas as pd

from prifa_tf import errors
from prifa_tf.paper import experiment as exp
from prifa_tf.reporting import comparisons
from prifa_tf.reporting import figures
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables

STEM = "tan_validation"
METRICS = [("mean_accuracy", "accuracy (C+G)/2"),
           ("color_accuracy", "COLOR accuracy"),
           ("gray_accuracy", "GRAY accuracy")]
# Config fields a TAN simulation changes; a pair may differ in these only
# (the step count is not one: TAN keeps it).
TAN_FIELDS = ("batch_size", "noise_multiplier", "physical_batch_size",
              "tan_factor", "audit_canaries")


def private_runs(sweep_dir: str) -> pd.DataFrame:
  """One row per evaluated private run of ``sweep_dir``: config and metrics.

  Raises:
    errors.BadInputError: ``sweep_dir`` has no evaluated private run.
  """
  rows = []
  runs_dir = os.path.join(sweep_dir, "runs")
  for root, _, files in sorted(os.walk(runs_dir)):
    if not {"config.json", "eval.json", "results.json"} <= set(files):
      continue
    config = results_lib.read_json(os.path.join(root, "config.json"))
    if not config.get("private"):
      continue
    run = results_lib.read_json(os.path.join(root, "results.json"))
    report = results_lib.read_json(os.path.join(root, "eval.json"))
    rows.append({"run": os.path.relpath(root, runs_dir),
                 "dataset": config["dataset"], "seed": config["seed"],
                 "batch_size": config["batch_size"],
                 "noise_multiplier": config["noise_multiplier"],
                 "tan_factor": config.get("tan_factor", 1),
                 "steps_run": run.get("steps"),
                 "config": config, **tables.flatten(report, run)})
  if not rows:
    raise errors.BadInputError(
        f"{sweep_dir} holds no evaluated private run (runs/*/config.json, "
        "results.json and eval.json).")
  return pd.DataFrame(rows)


def _arm(row) -> str:
  tan = f" (TAN ×{row['tan_factor']})" if row["tan_factor"] > 1 else ""
  return f"B = {row['batch_size']}, σ = {row['noise_multiplier']:.3f}{tan}"


def pair(reference: pd.DataFrame, simulated: pd.DataFrame
         ) -> Tuple[pd.DataFrame, str, str, int]:
  """The paired runs of both sweeps, with an ``arm`` column.

  Returns (runs, reference arm, simulated arm, k).

  Raises:
    errors.BadInputError: the reference is itself simulated, the
      simulation is not one, its factor or arm is not unique, no seed is
      in both, or a pair differs in more than TAN changes.
  """
  if (reference["tan_factor"] != 1).any():
    raise errors.BadInputError("The reference sweep holds TAN-simulated "
                               "runs; give the sweep run at --tan_factor=1.")
  factors = sorted(set(simulated["tan_factor"]))
  if factors == [1] or len(factors) != 1:
    raise errors.BadInputError(
        f"The simulated sweep must hold one --tan_factor above 1; it holds "
        f"{factors}.")
  k = int(factors[0])
  keys = ["dataset", "seed"]
  both = reference.merge(simulated[keys], on=keys)
  if both.empty:
    raise errors.BadInputError("No (dataset, seed) is in both sweeps.")
  sim = simulated.merge(both[keys], on=keys)
  for (_, r), (_, s) in zip(both.sort_values(keys).iterrows(),
                            sim.sort_values(keys).iterrows()):
    differ = sorted(f for f in set(r["config"]) | set(s["config"])
                    if f not in TAN_FIELDS and
                    r["config"].get(f) != s["config"].get(f))
    if differ:
      raise errors.BadInputError(
          f"{r['run']} and {s['run']} differ in {differ}, not only in what "
          f"TAN changes ({', '.join(TAN_FIELDS)}).")
    if (r["batch_size"] != k * s["batch_size"] or not np.isclose(
        r["noise_multiplier"], k * s["noise_multiplier"])):
      raise errors.BadInputError(
          f"{s['run']} is not {r['run']} at B/{k} and σ/{k}.")
  out = pd.concat([both, sim], ignore_index=True)
  out["arm"] = [_arm(r) for _, r in out.iterrows()]
  arms = out.groupby("tan_factor")["arm"].unique()
  if any(len(a) != 1 for a in arms):
    raise errors.BadInputError(
        f"Each sweep must hold one B and σ; found {dict(arms)}.")
  return out.drop(columns="config"), arms[1][0], arms[k][0], k


def reading(paired: pd.DataFrame, k: int) -> str:
  """What the paired test says of the simulation, in one paragraph."""
  row = paired[paired["metric"] == "mean_accuracy"].iloc[0]
  lo, hi = 100 * row["ci_low"], 100 * row["ci_high"]
  figures_ = (f"{100 * row['mean_difference']:+.1f} points, 95% interval "
              f"[{lo:+.1f}, {hi:+.1f}], Wilcoxon p = "
              f"{row['wilcoxon_p']:.3f}, {int(row['seeds'])} seeds")
  if row["seeds"] < 2:
    return ("One seed per arm: no paired test, so nothing is claimed of the "
            "simulation.")
  if lo > 0 or hi < 0:
    side = "above" if lo > 0 else "below"
    verdict = (f"the simulation's accuracy lies {side} the reference's "
               f"({figures_}): at this scale TAN ×{k} does not reproduce "
               "the run it simulates")
    if row["wilcoxon_p"] >= 0.05:
      verdict += (", although the Wilcoxon test alone does not reach "
                  "p < 0.05")
  else:
    verdict = (f"no difference in accuracy is established ({figures_}): "
               f"TAN ×{k} agrees with the run it simulates to within this "
               "interval, and a difference of up to "
               f"{max(abs(lo), abs(hi)):.1f} points is not excluded")
  caveat = ""
  seeds, needed = int(row["seeds"]), comparisons.MIN_SEEDS
  if seeds < needed:
    caveat = (f" With {seeds} seeds the Wilcoxon test cannot reach "
              f"p < 0.05 (it needs {needed}) and the bootstrap interval "
              f"resamples only {seeds} differences, so it is rough and "
              "likely too narrow.")
  return (f"**What to read.** TAN predicts equal accuracy at B and B/{k} "
          f"with σ/{k} and the same steps. Here {verdict}.{caveat}")


def report(runs: pd.DataFrame, reference_arm: str, simulated_arm: str,
           k: int, out_dir: str, title: str) -> List[str]:
  """Writes the table, the paired tests and a figure; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  metrics = [m for m, _ in METRICS] + ["steps_run", "max_auc", "epsilon"]
  agg = tables.aggregate(runs, ["dataset", "arm"], metrics)
  md = tables.markdown(
      agg, ["dataset", "arm", "seeds", "steps_run", "color_accuracy",
            "gray_accuracy", "mean_accuracy", "max_auc", "epsilon"],
      ["dataset", "run", "seeds", "steps", "acc COLOR", "acc GRAY",
       "acc (C+G)/2", "max AUC", "own ε"], digits=3)
  section, files = exp.comparisons(runs, "arm", reference_arm, simulated_arm,
                                   METRICS, ["dataset"], out_dir, STEM)
  table = pd.read_csv(files[0]) if files else pd.DataFrame()
  text = reading(table, k) if not table.empty else ""
  md += ("\n\nMedians over seeds. The simulated runs' own ε (last column) "
         "is far above the reference's; the ε they simulate is not a "
         "privacy guarantee.")
  md += section + ("\n" + text if text else "")
  files += exp.write_table(runs, out_dir, STEM, title, md)
  fig, axes = figures.subplots(1, len(METRICS), figsize=(10, 3.2))
  for ax, (metric, label) in zip(axes, METRICS):
    wide = runs.pivot_table(index=["dataset", "seed"], columns="arm",
                            values=metric)[[reference_arm, simulated_arm]]
    for i, values in enumerate(wide.to_numpy()):
      ax.plot([0, 1], values, marker="o", color="tab:blue", alpha=0.6,
              label=None if i else "one seed")
    ax.set_xticks([0, 1])
    ax.set_xticklabels([reference_arm, simulated_arm], fontsize=7)
    ax.set_xlim(-0.3, 1.3)
    ax.set_xlabel("run", fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    ax.set_title(label, fontsize=9)
  axes[0].legend(fontsize=7)
  return files + exp.save_figure(fig, out_dir, STEM,
                                 title=f"TAN ×{k} against its reference, "
                                 "paired by seed")


@dataclasses.dataclass(frozen=True)
class Validation:
  """The two sweeps of a TAN validation and where its report goes."""
  reference: str
  simulated: str
  out: str

  def run(self) -> Dict[str, object]:
    """Pairs, tests and reports; returns the paired runs and the files."""
    runs, ref_arm, sim_arm, k = pair(private_runs(self.reference),
                                     private_runs(self.simulated))
    title = (f"TAN validation: {sim_arm} against {ref_arm}, the same "
             "experiment and seeds")
    files = report(runs, ref_arm, sim_arm, k, self.out, title)
    return {"runs": runs, "files": files, "k": k}
