"""Every number in paper_numbers.json, traced to the seed text.

The seed (``../shared/seeds/000_b57acac7b96fa28c.txt``, beside the TFDS
directory) is the specification. Table 4 and Table 7 are parsed from their
tab-separated bodies; the Section 4.2 bias figures (Table 5's body is an
image the text lacks) from the sentence each is quoted with.
"""

import json
import os
import re

from absl.testing import absltest

from prifa_tf.reporting import tables
from tests import fixtures

SEED = "000_b57acac7b96fa28c.txt"


def seed_text():
  path = os.path.join(os.path.dirname(os.path.abspath(
      fixtures.require_tfds())), "seeds", SEED)
  if not os.path.exists(path):
    raise AssertionError(f"the paper's text is not at {path}")
  with open(path, encoding="utf-8") as f:
    return f.read()


def numbers():
  with open(tables.PAPER_NUMBERS, encoding="utf-8") as f:
    return json.load(f)


def block(text, start, end):
  i = text.index(start)
  return text[i:text.index(end, i)]


class PaperNumbersTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.text = seed_text()
    cls.data = numbers()

  def test_source_title(self):
    title = self.text.splitlines()[0].lstrip("# ").strip()
    self.assertIn(f"'{title}'", self.data["source"])

  def test_table4_accuracies(self):
    body = block(self.text, "Table 4: The accuracy", "Table 5:")
    # Four rows (ε = 1, 2, 4, 8) per dataset; the dataset's name sits on
    # one of its four rows (the table's merged cell).
    found = []
    for line in body.splitlines():
      eps = re.search(r"epsilon = (\d)", line)
      values = re.findall(r"(\d+\.?\d*)\s*\$?\(\d", line)
      if eps and len(values) == 2:
        name = re.search(r"CIFAR-(10{1,2})\b", line)
        found.append((int(eps.group(1)), values,
                      name and f"cifar{name.group(1)}"))
    self.assertLen(found, 8)
    seen = {}
    for start in (0, 4):
      chunk = found[start:start + 4]
      (dataset,) = {n for _, _, n in chunk if n}
      self.assertEqual([e for e, _, _ in chunk], [1, 2, 4, 8])
      for eps, values, _ in chunk:
        for opt, v in zip(("DP-SGD", "DP-SAT"), values):
          seen[(dataset, eps, opt)] = float(v)
    rows = self.data["table4"]["rows"]
    self.assertLen(seen, 16)
    self.assertLen(rows, 16)
    for r in rows:
      self.assertEqual(r["accuracy"],
                       seen[(r["dataset"], r["epsilon"], r["optimizer"])], r)

  def test_table7_rows(self):
    body = block(self.text, '<span id="page-11-0">', "Table 7:")
    values = [list(map(float, re.findall(r"\t(\d+\.\d+)", line)))
              for line in body.splitlines()]
    values = [v for v in values if len(v) == 4]
    rows = self.data["table7"]["rows"]
    self.assertLen(values, len(rows))
    for r, v in zip(rows, values):
      self.assertEqual([r["map"], r["bias"], r["auc_skew_0.5_1"],
                        r["auc_skew_ge_0.8"]], v, r["model"])

  def test_section_4_2_bias_figures(self):
    entry = self.data["table5_bias"]
    flat = " ".join(self.text.split())
    self.assertIn(" ".join(entry["quote"].split()), flat)
    pairs = re.findall(r"from (\d\.\d+) to (\d\.\d+)", entry["quote"])
    order = [("cifar10s", False), ("cifar10s", True), ("cifar100s", False),
             ("cifar100s", True)]
    self.assertLen(pairs, 4)
    by = {(r["dataset"], r["private"], r["step"]): r["bias"]
          for r in entry["rows"]}
    self.assertLen(by, 8)  # DP-CIFAR-100S 0.10 -> 0.26 included.
    for (dataset, private), (before, after) in zip(order, pairs):
      self.assertEqual(by[(dataset, private, "BL")], float(before))
      self.assertEqual(by[(dataset, private, "+SAT")], float(after))

  def test_prose_deltas(self):
    """Each difference stated in prose: its sentence is in the paper, its
    number is in the sentence, and the sentence names its dataset."""
    flat = " ".join(self.text.split())
    rows = self.data["prose_deltas"]["rows"]
    self.assertLen(rows, 16)
    tables_seen = set()
    for r in rows:
      quote = " ".join(r["quote"].split())
      self.assertIn(quote, flat, r)
      numbers = [float(x) for x in re.findall(r"\d+(?:\.\d+)?", quote)]
      self.assertIn(abs(r["value"]), numbers, r)
      # The last table the text names before the sentence is the row's,
      # and the dataset is named in or shortly before it.
      at = flat.index(quote)
      context = flat[max(0, at - 1500):at + len(quote)]
      name = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100",
              "cifar10s": "CIFAR-10S", "cifar100s": "CIFAR-100S"}[r["dataset"]]
      self.assertRegex(context, re.escape(name) + r"\b", r)
      last_table = re.findall(r"Table \[(\d)", flat[:at])[-1]
      self.assertEqual(f"Table {last_table}", r["table"], r)
      approx = "approximately" in quote or "almost" in quote
      self.assertEqual(r["approx"], approx and abs(r["value"]) >= 1, r)
      tables_seen.add(r["table"])
    self.assertEqual(tables_seen, {"Table 2", "Table 3", "Table 6"})


if __name__ == "__main__":
  absltest.main()
