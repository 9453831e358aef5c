"""The reviewer's checks on figures catch each defect, and pass a good one."""

import os

from absl.testing import absltest
from prifa_tf.reporting import figures
from tests import fixtures


def good_figure():
  fig, ax = figures.subplots()
  ax.plot([0, 1, 2], [0.2, 0.5, 0.9], marker="o", label="train accuracy")
  ax.errorbar([0, 1, 2], [0.1, 0.4, 0.6], yerr=[0.01, 0.02, 0.03],
              marker="s", label="DP (median ± std)")
  ax.axvline(1, ls=":", label="early stopping, step 1")
  ax.set_xlabel("step")
  ax.set_ylabel("accuracy")
  ax.set_title("Accuracy")
  figures.legend_outside(ax)
  return fig


class ProblemsTest(absltest.TestCase):

  def test_a_good_figure_passes_and_lists_its_series(self):
    fig = good_figure()
    self.assertEqual(figures.problems(fig), [])
    self.assertEqual(figures.series(fig)["Accuracy"],
                     ["train accuracy", "early stopping, step 1",
                      "DP (median ± std)"])

  def test_each_defect_is_caught(self):
    fig, (a, b, c) = figures.subplots(1, 3)
    a.plot([0.5], [0.5], label="one point, no marker")
    a.plot(range(10), [0.5] * 10, marker="o", label="flat")
    a.legend(loc="center")  # Over the flat series' points.
    c.plot([], [], label="nothing")
    found = "\n".join(figures.problems(fig))
    for wanted in ("one-point series 'one point, no marker' has no marker",
                   "panel 0: no x label", "panel 0: no y label",
                   "the legend covers", "panel 1: empty panel",
                   "series 'nothing' has no finite point", "no title"):
      self.assertIn(wanted, found)

  def test_saved_as_png_and_pdf_and_read_back(self):
    out = self.create_tempdir().full_path
    with fixtures.saved_figures() as saved:
      figures.save(good_figure(), out, "good", title="A good figure")
    self.assertEqual(sorted(saved), ["good.pdf", "good.png"])
    fixtures.assert_figure(self, saved, "good.png", ["train accuracy", "DP"],
                           out_dir=out)
    self.assertEqual(sorted(os.listdir(out)), ["good.pdf", "good.png"])
    with self.assertRaises(AssertionError):
      fixtures.assert_figure(self, saved, "good.png", ["test accuracy"])


if __name__ == "__main__":
  absltest.main()
