"""Paired comparisons of two arms across seeds, and the sentences they allow.

Two arms (e.g. DP-SAT and DP-SGD) run with the same seeds; the difference
of a metric is taken seed by seed, d_s = B_s − A_s. Reported:

* the mean difference and a 95% bootstrap confidence interval (seeds
  resampled with replacement, 10,000 times, seeded);
* the two-sided Wilcoxon signed-rank p-value (exact for small n; with
  fewer than 6 seeds no p-value can fall below 0.05).

A claim ("B is higher than A") is written only when the interval excludes
0 *and* p < 0.05; otherwise the sentence says the difference is not
established, with the same figures. With one seed there is no test and no
sentence.
"""

from typing import List, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

RESAMPLES = 10_000
ALPHA = 0.05
MIN_SEEDS = 6  # The fewest pairs for which Wilcoxon's p can go below 0.05.


def _bootstrap_ci(diffs: np.ndarray, seed: int = 0):
  rng = np.random.default_rng(seed)
  idx = rng.integers(0, len(diffs), (RESAMPLES, len(diffs)))
  means = diffs[idx].mean(axis=1)
  return (float(np.quantile(means, ALPHA / 2)),
          float(np.quantile(means, 1 - ALPHA / 2)))


def _wilcoxon(diffs: np.ndarray) -> float:
  if np.allclose(diffs, 0):
    return 1.0
  return float(stats.wilcoxon(diffs, alternative="two-sided").pvalue)


def paired(df: pd.DataFrame, arm: str, a, b, metric: str,
           by: Sequence[str] = (), pair: str = "seed") -> pd.DataFrame:
  """One row per group of ``by``: B − A of ``metric`` paired on ``pair``.

  Columns: ``by``, ``metric``, ``a``, ``b``, ``seeds``, ``mean_a``,
  ``mean_b``, ``mean_difference``, ``ci_low``, ``ci_high``, ``wilcoxon_p``
  (NaN for fewer than 2 seeds).
  """
  rows = []
  by = list(by)
  # A one-column grouper gives scalar keys (pandas warns about a list of one).
  groups = (df.groupby(by if len(by) > 1 else by[0], sort=False,
                       dropna=False) if by else [((), df)])
  for key, g in groups:
    key = key if isinstance(key, tuple) else (key,)
    left = g[g[arm] == a].set_index(pair)[metric]
    right = g[g[arm] == b].set_index(pair)[metric]
    both = left.index.intersection(right.index)
    diffs = (right.loc[both] - left.loc[both]).dropna().to_numpy(float)
    row = dict(zip(by, key), metric=metric, a=a, b=b, seeds=len(diffs),
               mean_a=float(left.loc[both].mean()) if len(both) else np.nan,
               mean_b=float(right.loc[both].mean()) if len(both) else np.nan,
               mean_difference=float(diffs.mean()) if len(diffs) else np.nan,
               ci_low=np.nan, ci_high=np.nan, wilcoxon_p=np.nan)
    if len(diffs) >= 2:
      row["ci_low"], row["ci_high"] = _bootstrap_ci(diffs)
      row["wilcoxon_p"] = _wilcoxon(diffs)
    rows.append(row)
  return pd.DataFrame(rows)


def established(row) -> bool:
  """Whether the difference is supported: CI excludes 0 and p < 0.05."""
  if row["seeds"] < 2 or pd.isna(row["wilcoxon_p"]):
    return False
  return (row["ci_low"] > 0 or row["ci_high"] < 0) and \
      row["wilcoxon_p"] < ALPHA


def verdict(row, expected_sign: int) -> str:
  """The paper's direction (``expected_sign`` of B − A) against ours.

  "reproduced" when the difference is established (``established``) with
  the expected sign, "not reproduced" when it is established with the
  other, "not established" otherwise (fewer than 2 seeds included). Only
  the direction is judged, never the size.
  """
  if not established(row):
    return "not established"
  return ("reproduced" if np.sign(row["mean_difference"]) == expected_sign
          else "not reproduced")


def sentence(row, label: str, where: str = "") -> Optional[str]:
  """The claim the figures allow, with them; None with fewer than 2 seeds."""
  if row["seeds"] < 2:
    return None
  figures = (f"mean difference {row['mean_difference']:+.3f}, 95% bootstrap "
             f"CI [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}], Wilcoxon "
             f"p = {row['wilcoxon_p']:.3f}, {row['seeds']} seeds")
  where = f" {where}" if where else ""
  if established(row):
    direction = "higher" if row["mean_difference"] > 0 else "lower"
    return (f"{row['b']} gives a {direction} {label} than {row['a']}"
            f"{where} ({figures}).")
  return (f"{row['b']} vs {row['a']}{where}: no established difference in "
          f"{label} ({figures}).")


def sentences(table: pd.DataFrame, label: str, by: Sequence[str]) -> List[str]:
  """Sentences of every row of a ``paired`` table (groups named)."""
  out = []
  for _, row in table.iterrows():
    where = ", ".join(f"{k}={row[k]}" for k in by)
    s = sentence(row, label, f"at {where}" if where else "")
    if s:
      out.append(s)
  return out
