"""docs/reproduction_cpu.md states only what the committed results hold.

The CPU-scale demo's small result files are committed under
results/cpu/demo (``scripts/export_results.py``). Here:

* ``--report_only`` rebuilds the demo's table from the committed run files,
  equal to the committed demo.csv and demo.md;
* the page quotes the committed demo.md table verbatim;
* each target line, and every figure the page's prose quotes, is
  recomputed from the committed files.
"""

import json
import os
import shutil
import subprocess
import sys

from absl.testing import absltest
import pandas as pd

from prifa_tf.reporting import provenance

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "results", "cpu", "demo")
DOC = os.path.join(ROOT, "docs", "reproduction_cpu.md")
PRIVATE, NONPRIVATE = "DP-SAT + GT", "SAM + GT"


def without_provenance(text: str) -> str:
  return "".join(line for line in text.splitlines(keepends=True)
                 if not line.startswith(provenance.FOOTNOTE_PREFIX))


def verdict(ok: bool) -> str:
  return "met" if ok else "not met"


def target_lines(table: pd.DataFrame):
  """The page's target lines, from demo.csv's rows."""
  row = table.set_index("model")
  private, nonprivate = row.loc[PRIVATE], row.loc[NONPRIVATE]
  acc_p, acc_n = private["test_accuracy"], nonprivate["test_accuracy"]
  auc_p, auc_n = private["max_auc"], nonprivate["max_auc"]
  return [
      f"- private (DP-SAT, ε = 8) test accuracy {acc_p:.1%}: target ≥ 50% "
      f"{verdict(acc_p >= 0.5)}, ≥ 55% {verdict(acc_p >= 0.55)}",
      f"- non-private (SAM) test accuracy {acc_n:.1%}: target ≥ 65% "
      f"{verdict(acc_n >= 0.65)}",
      f"- max MIA AUC non-private {auc_n:.3f}, private {auc_p:.3f}: "
      f"difference {auc_n - auc_p:+.3f} (one seed: the seed-to-seed spread "
      "the target compares it with is not measured)",
  ]


def run_file(arm: str, name: str) -> dict:
  with open(os.path.join(RESULTS, "runs", "cifar10s", arm, "seed0",
                         name)) as f:
    return json.load(f)


def quoted_figures(table: pd.DataFrame):
  """Every figure the page's prose quotes, as the page writes it."""
  row = table.set_index("model")
  private, nonprivate = row.loc[PRIVATE], row.loc[NONPRIVATE]
  p_run, n_run = run_file("eps8", "results.json"), run_file(
      "nonprivate", "results.json")
  return [
      f"{private['color_accuracy']:.1%} private against "
      f"{nonprivate['color_accuracy']:.1%} non-private",
      f"GRAY {private['gray_accuracy']:.1%} against "
      f"{nonprivate['gray_accuracy']:.1%}",
      f"higher by {nonprivate['max_auc'] - private['max_auc']:.3f}",
      f"trained in {p_run['wall_time_s_this_session']:,.0f} s "
      f"({p_run['steps']} steps, stopped by the",
      f"budget at ε = {private['epsilon']:.3f}), the non-private one in "
      f"{n_run['wall_time_s_this_session']:,.0f} s",
  ]


class ReproductionCpuTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.table = pd.read_csv(os.path.join(RESULTS, "demo.csv"))
    with open(DOC, encoding="utf-8") as f:
      self.doc = " ".join(f.read().split())  # Line breaks as spaces.

  def test_report_only_rebuilds_the_committed_table(self):
    out = os.path.join(self.create_tempdir().full_path, "demo")
    shutil.copytree(RESULTS, out)
    for name in ("demo.csv", "demo.md"):
      os.remove(os.path.join(out, name))
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments", "demo.py"),
         f"--out={out}", "--scale=cpu", "--report_only"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    pd.testing.assert_frame_equal(
        pd.read_csv(os.path.join(out, "demo.csv")), self.table)
    # The same table; the provenance footnote names this rebuild instead.
    with open(os.path.join(out, "demo.md")) as f, \
        open(os.path.join(RESULTS, "demo.md")) as g:
      self.assertEqual(without_provenance(f.read()),
                       without_provenance(g.read()))

  def test_page_quotes_the_committed_table(self):
    with open(os.path.join(RESULTS, "demo.md")) as f:
      rows = [line for line in f.read().splitlines() if line.startswith("|")]
    self.assertLen(rows, 4)
    self.assertIn(" ".join(" ".join(rows).split()), self.doc)

  def test_targets_and_figures_are_the_committed_ones(self):
    for line in target_lines(self.table) + quoted_figures(self.table):
      self.assertIn(" ".join(line.split()), self.doc)
    # Both arms, one seed each, and the private one within its ε.
    self.assertCountEqual(self.table["model"], [PRIVATE, NONPRIVATE])
    self.assertEqual(set(self.table["seeds"]), {1})
    eps = self.table.set_index("model").loc[PRIVATE, "epsilon"]
    self.assertLessEqual(eps, 8.0)


if __name__ == "__main__":
  absltest.main()
