"""The docs hold together: a short README, and links that lead somewhere.

Every relative link in README.md, CHANGELOG.md and docs/**/*.md names a
file of the checkout, and every ``#anchor`` names a heading (GitHub's
slug) or an ``<a id>`` of that file. No TensorFlow import: this is cheap.
"""

import os
import re

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_MAX_LINES = 200


def pages():
  out = [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "CHANGELOG.md")]
  for top, _, files in os.walk(os.path.join(ROOT, "docs")):
    out += [os.path.join(top, f) for f in sorted(files) if f.endswith(".md")]
  return out


def slug(heading: str) -> str:
  """GitHub's anchor for a Markdown heading."""
  text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
  return text.replace(" ", "-")


def anchors(text: str):
  """The anchors a page defines: heading slugs and ``<a id>``s."""
  out = set(re.findall(r'<a id="([^"]+)"></a>', text))
  in_code = False
  for line in text.splitlines():
    if line.startswith("```"):
      in_code = not in_code
    elif not in_code and line.startswith("#"):
      out.add(slug(line.lstrip("#")))
  return out


def links(text: str):
  """Relative Markdown links (path, anchor), outside code blocks."""
  text = re.sub(r"```.*?```", "", text, flags=re.S)
  for target in re.findall(r"\]\(([^)\s]+)\)", text):
    if re.match(r"[a-z]+:", target):
      continue  # http:, https:, mailto:
    path, _, anchor = target.partition("#")
    yield path, anchor


class DocsTest(absltest.TestCase):

  def test_readme_is_short(self):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
      lines = f.read().splitlines()
    self.assertLessEqual(len(lines), README_MAX_LINES)

  def test_slug(self):
    self.assertEqual(slug(" A private `model.fit`"), "a-private-modelfit")
    self.assertEqual(slug("Sweeps on Ray"), "sweeps-on-ray")

  def test_links_lead_somewhere(self):
    bad = []
    for page in pages():
      with open(page, encoding="utf-8") as f:
        text = f.read()
      for path, anchor in links(text):
        target = (os.path.normpath(os.path.join(os.path.dirname(page), path))
                  if path else page)
        name = os.path.relpath(page, ROOT)
        if not os.path.exists(target):
          bad.append(f"{name}: {path} does not exist")
          continue
        if anchor and target.endswith(".md"):
          with open(target, encoding="utf-8") as f:
            if anchor not in anchors(f.read()):
              bad.append(f"{name}: {path}#{anchor} names no heading")
    self.assertEqual(bad, [])


if __name__ == "__main__":
  absltest.main()
