"""Result tables of a sweep: collection, seed aggregation, CSV and Markdown.

Rows come from each finished run's ``eval.json`` and ``results.json``. Seeds
are aggregated as the paper does: the median, with the standard deviation
beside it.
"""

import io
import json
import math
import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np
import pandas as pd

from prifa_tf.reporting import results as results_lib

PAPER_NUMBERS = os.path.join(os.path.dirname(__file__), "data",
                             "paper_numbers.json")


def _num(x):
  """JSON value -> float (NaN for None or the strings 'nan'/'inf')."""
  if x is None:
    return float("nan")
  try:
    return float(x)
  except (TypeError, ValueError):
    return float("nan")


def flatten(report: dict, run: Optional[dict] = None) -> Dict[str, float]:
  """The metrics of one evaluated run as a flat dict of numbers."""
  u = report.get("utility", {})
  out = {k: _num(v) for k, v in u.items()}
  for name, row in (report.get("attacks") or {}).items():
    out[f"{name}_auc"] = _num(row["auc"])
    out[f"{name}_advantage"] = _num(row["attacker_advantage"])
    for k in ("tpr_at_1%_fpr", "tpr_at_0.1%_fpr"):
      out[f"{name}_{k}"] = _num(row.get(k))
  mia = report.get("mia", {})
  for key in ("max_auc", "max_tpr_at_1%_fpr", "max_tpr_at_0.1%_fpr",
              "mlp_auc", "auc_used_for_hs",
              "max_attacker_advantage", "avg_auc_skew_0.5_1",
              "avg_auc_skew_ge_0.8"):
    if key in mia:
      out[key] = _num(mia[key])
  # Privacy by group (evaluation/privacy_by_group.py): max - min AUC.
  groups = (report.get("privacy_by_group") or {}).get("disparity") or {}
  for slicing, d in groups.items():
    out[f"mia_auc_disparity_{slicing}"] = _num(d.get("auc_disparity"))
  fair = report.get("fairness", {})
  for key in ("skew_bias", "weighted_map", "bias", "bias_eq2_signed_mean"):
    if key in fair:
      out[key] = _num(fair[key])
  out["harmonic_score"] = _num(report.get("harmonic_score"))
  out["p1_score"] = _num(report.get("p1_score"))
  budget = report.get("privacy_budget") or {}
  out["epsilon"] = _num(budget.get("epsilon"))
  if budget.get("tan_simulation"):  # Its label, never a guarantee.
    out["epsilon_basis"] = budget["tan_simulation"]["label"]
  elif budget.get("epsilon_basis"):
    out["epsilon_basis"] = EPSILON_BASES[
        "proven" if budget["epsilon_basis"].startswith("proven")
        else "assumed"]
  audit = report.get("audit") or {}
  out["epsilon_lower_bound"] = _num(audit.get("epsilon_lower_bound"))
  if run:
    out["steps"] = _num(run.get("steps"))
    out["train_examples"] = _num(run.get("num_train_examples"))
  return out


def collect(out_dir: str, specs, run_dir_fn) -> pd.DataFrame:
  """One row per finished run: its labels and metrics."""
  rows = []
  for spec in specs:
    workdir = run_dir_fn(out_dir, spec.name)
    path = os.path.join(workdir, "eval.json")
    if not os.path.exists(path):
      continue
    report = results_lib.read_json(path)
    run_path = os.path.join(workdir, "results.json")
    run = results_lib.read_json(run_path) if os.path.exists(run_path) else None
    rows.append({"run": spec.name, **spec.labels, **flatten(report, run)})
  return pd.DataFrame(rows)


EPSILON_BASES = {"proven": "proven (Poisson sampling)",
                 "assumed": "assumed (shuffled batches; unproven)"}


def epsilon_note(df: pd.DataFrame) -> str:
  """The basis of a table's ε column, from its runs (empty if none)."""
  if "epsilon_basis" not in df.columns:
    return ""
  bases = sorted(set(df["epsilon_basis"].dropna()))
  if not bases:
    return ""
  note = ("ε: the accountant's ε at the run's δ, "
          + " and ".join(bases) + "; each run's results.json gives its "
          "basis and assumptions (privacy.epsilon_basis, randomness, "
          "adjacency).")
  if any(b.startswith("simulated") for b in bases):
    note += (" A simulated (TAN) run's ε column is its own ε at its own B "
             "and σ, far above the ε it simulates, which it does not "
             "guarantee.")
  return note


def aggregate(df: pd.DataFrame, by: Sequence[str],
              metrics: Sequence[str]) -> pd.DataFrame:
  """Median and std over seeds of each metric, per group of ``by``.

  Columns: ``by``, then ``<metric>`` (median), ``<metric>_std`` and
  ``seeds`` (runs in the group). Group order follows first appearance.
  """
  if df.empty:
    return pd.DataFrame(columns=list(by) + list(metrics) + ["seeds"])
  present = [m for m in metrics if m in df.columns]
  grouped = df.groupby(list(by), sort=False, dropna=False)
  med = grouped[present].median()
  std = grouped[present].std(ddof=0).add_suffix("_std")
  out = pd.concat([med, std], axis=1)
  out["seeds"] = grouped.size()
  if "epsilon_basis" in df.columns:  # Carried, never averaged.
    out["epsilon_basis"] = grouped["epsilon_basis"].agg(
        lambda v: "; ".join(sorted(set(v.dropna()))) or None)
  return out.reset_index()


def _fmt(value, digits):
  if isinstance(value, str):
    return value
  if value is None or (isinstance(value, float) and math.isnan(value)):
    return "–"
  if isinstance(value, (bool, np.bool_)):
    return "yes" if value else "no"
  if isinstance(value, (int, np.integer)):
    return str(int(value))
  if float(value).is_integer() and abs(value) >= 2:
    return str(int(value))  # Counts (examples, steps) stored as floats.
  return f"{value:.{digits}f}"


def markdown(df: pd.DataFrame, columns: List[str],
             headers: Optional[List[str]] = None, digits: int = 3,
             with_std: Iterable[str] = ()) -> str:
  """A GitHub Markdown table; ``with_std`` columns show "median (std)"."""
  headers = headers or columns
  with_std = set(with_std)
  lines = ["| " + " | ".join(headers) + " |",
           "|" + "|".join("---" for _ in headers) + "|"]
  for _, row in df.iterrows():
    cells = []
    for c in columns:
      v = row.get(c)
      cell = _fmt(v, digits)
      std_col = f"{c}_std"
      if c in with_std and std_col in row and not pd.isna(row[std_col]) \
          and row.get("seeds", 1) > 1:
        cell += f" ({row[std_col]:.{digits}f})"
      cells.append(cell)
    lines.append("| " + " | ".join(cells) + " |")
  return "\n".join(lines)


def write_text_atomic(path: str, text: str) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    f.write(text)
  os.replace(tmp, path)


def write_csv(df: pd.DataFrame, path: str) -> None:
  buf = io.StringIO()
  df.to_csv(buf, index=False)
  write_text_atomic(path, buf.getvalue())


def paper_numbers(table: str) -> pd.DataFrame:
  """Published values of one table (``table4``, ``table7``, ...)."""
  with open(PAPER_NUMBERS) as f:
    data = json.load(f)
  if table not in data:
    raise KeyError(f"No published numbers for {table!r}.")
  return pd.DataFrame(data[table]["rows"])


def paper_source() -> str:
  with open(PAPER_NUMBERS) as f:
    return json.load(f)["source"]
