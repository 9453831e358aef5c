"""The package's layers, and no import that runs up them.

``LAYERS`` lists prifa_tf's packages from the bottom up; packages on one
line share a level. A module may import its own package and any package on
a lower level, never one on its own level or above. Two rules hold beyond
the order:

- ``privacy`` knows no model or dataset: of ``models`` it may import only
  the layer types its per-layer rules cover (``LAYER_TYPES``), never an
  architecture, and nothing of ``data``;
- ``sweeps`` knows no experiment: besides ``errors`` and ``reporting`` it
  imports only ``training.config`` (the config a ``RunSpec`` carries).

Every import counts, at the top of a module or inside a function, and
each package's BUILD target declares exactly the packages it imports.
``docs/design.md`` shows the same table; ``test_design_page_matches`` keeps
them one fact.
"""

import ast
import os
import re

from absl.testing import absltest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LAYERS = (
    ("errors",),
    ("reporting",),
    ("models",),
    ("data",),
    ("privacy",),
    ("optim",),
    ("training",),
    ("defenses",),
    ("attacks",),
    ("fairness", "metrics"),
    ("evaluation",),
    ("sweeps",),
    ("paper",),
    ("companion",),
)
LAYER_TYPES = ("prifa_tf.models.ws_conv", "prifa_tf.models.group_norm")
SWEEPS_MAY_IMPORT = ("prifa_tf.errors", "prifa_tf.reporting",
                     "prifa_tf.training.config")


def level(package: str) -> int:
  for i, names in enumerate(LAYERS):
    if package in names:
      return i
  raise KeyError(package)


def imports(path: str):
  """(line, module) of every prifa_tf import in the file."""
  with open(path, encoding="utf-8") as f:
    tree = ast.parse(f.read(), path)
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      for alias in node.names:
        if alias.name.startswith("prifa_tf."):
          yield node.lineno, alias.name
    elif isinstance(node, ast.ImportFrom) and node.module and (
        node.module == "prifa_tf" or node.module.startswith("prifa_tf.")):
      for alias in node.names:  # A module, or a name in one.
        yield node.lineno, f"{node.module}.{alias.name}"


def modules():
  """(package, path) of every module of every package.

  A top-level module (``prifa_tf/errors.py``) is a package of its own.
  """
  top = os.path.join(ROOT, "prifa_tf")
  for package in sorted(os.listdir(top)):
    folder = os.path.join(top, package)
    if package.endswith(".py") and not package.startswith("_"):
      yield package[:-3], folder
      continue
    if not os.path.isdir(folder) or package.startswith(("_", ".")):
      continue
    for dirpath, _, files in os.walk(folder):
      for name in sorted(files):
        if name.endswith(".py"):
          yield package, os.path.join(dirpath, name)


def violations(files=None):
  """Every import that breaks a rule, in ``files`` ((package, path) pairs;
  default: every module)."""
  out = []
  for package, path in files or modules():
    where = os.path.relpath(path, ROOT)
    for line, module in imports(path):
      target = module.split(".")[1]
      if target == package:
        continue
      if level(target) >= level(package):
        out.append(f"{where}:{line}: {package} imports {module}, which is "
                   "not below it")
      elif package == "privacy" and target in ("models", "data") and not (
          module.startswith(LAYER_TYPES)):
        out.append(f"{where}:{line}: privacy imports {module}: it knows "
                   "no model or dataset")
      elif package == "sweeps" and not module.startswith(SWEEPS_MAY_IMPORT):
        out.append(f"{where}:{line}: sweeps imports {module}: it knows no "
                   "experiment")
  return out


class LayeringTest(absltest.TestCase):

  def test_every_package_has_a_layer(self):
    for package, _ in modules():
      level(package)

  def test_no_import_runs_up(self):
    self.assertEqual(violations(), [])

  def test_each_rule_is_enforced(self):
    cases = {
        ("training", "from prifa_tf.attacks import audit\n"): "not below",
        ("metrics", "import prifa_tf.fairness.skew_bias\n"): "not below",
        ("privacy", "def f():\n  from prifa_tf.models import wide_resnet\n"):
            "knows no model",
        ("privacy", "from prifa_tf.data.canaries import Canaries\n"):
            "knows no model",
        ("sweeps", "from prifa_tf.training import trainer\n"):
            "knows no experiment",
    }
    folder = self.create_tempdir().full_path
    for (package, source), message in cases.items():
      path = os.path.join(folder, "module.py")
      with open(path, "w") as f:
        f.write(source)
      found = violations([(package, path)])
      self.assertLen(found, 1, source)
      self.assertIn(message, found[0])
    ok = os.path.join(folder, "ok.py")
    with open(ok, "w") as f:
      f.write("from prifa_tf.models import ws_conv\n"
              "from prifa_tf.privacy import clipping\n")
    self.assertEqual(violations([("privacy", ok), ("optim", ok)]), [])

  def test_build_deps_are_the_imports(self):
    # Each package's py_library declares exactly the packages it imports.
    wrong = []
    for names in LAYERS[1:]:  # prifa_tf/errors.py is a module: no BUILD.
      for package in names:
        imported = sorted({m.split(".")[1] for p, path in modules()
                           if p == package for _, m in imports(path)}
                          - {package})
        with open(os.path.join(ROOT, "prifa_tf", package, "BUILD")) as f:
          declared = sorted(re.findall(r'"//prifa_tf[/:](\w+)"', f.read()))
        if declared != imported:
          wrong.append(f"prifa_tf/{package}/BUILD: deps {declared}, "
                       f"imports {imported}")
    self.assertEqual(wrong, [])

  def test_design_page_matches(self):
    with open(os.path.join(ROOT, "docs", "design.md"), encoding="utf-8") as f:
      text = f.read()
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \|", text, re.M)
    page = tuple(tuple(re.findall(r"`(\w+)`", names))
                 for _, names in sorted(rows, key=lambda r: int(r[0])))
    self.assertEqual(page, LAYERS)


if __name__ == "__main__":
  absltest.main()
