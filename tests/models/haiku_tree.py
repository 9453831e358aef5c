"""A synthetic jax_privacy WRN parameter tree (names and shapes only).

The naming and layout are those of jax_privacy's CIFAR ``WideResNet``
(``image_classification/models/cifar.py``); the values are random. Run as a
script it writes the tree as ``.npz`` (keys ``module/param``), which the
README's converter command reads in the suite:

  python tests/models/haiku_tree.py --out=tree.npz --depth=10 --width=1
"""

import argparse

import numpy as np

PREFIX = "wide_res_net/"


def haiku_tree(depth, width, classes, seed=0, prefix=PREFIX):
  """A random parameter tree with jax_privacy's names and shapes."""
  rng = np.random.default_rng(seed)
  tree = {}

  def conv(name, k, cin, cout):
    tree[prefix + name] = {
        "w": rng.normal(size=(k, k, cin, cout)).astype(np.float32),
        "gain": rng.uniform(0.5, 1.5, cout).astype(np.float32),
        "bias": rng.normal(0, 0.1, cout).astype(np.float32)}

  def norm(name, c):
    tree[prefix + name] = {
        "scale": rng.uniform(0.5, 1.5, c).astype(np.float32),
        "offset": rng.normal(0, 0.1, c).astype(np.float32)}

  blocks = (depth - 4) // 6
  conv("First_conv", 3, 3, 16)
  cin = 16
  for g, mult in zip((1, 2, 3), (16, 32, 64)):
    cout = mult * width
    norm(f"Block_{g}_skip_norm", cin)
    conv(f"Block_{g}_skip_conv", 1, cin, cout)
    for i in range(blocks):
      for j in range(2):
        norm(f"Block_{g}_norm_{i}_{j}", cin if j == 0 else cout)
        conv(f"Block_{g}Conv_{i}_{j}", 3, cin if j == 0 else cout, cout)
      cin = cout
  norm("Final_norm", cin)
  tree[prefix + "Softmax"] = {
      "w": rng.normal(0, 0.1, (cin, classes)).astype(np.float32),
      "b": rng.normal(0, 0.1, classes).astype(np.float32)}
  return tree


def save_npz(path, tree):
  np.savez(path, **{f"{m}/{p}": a for m, ps in tree.items()
                    for p, a in ps.items()})


if __name__ == "__main__":
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--out", required=True)
  parser.add_argument("--depth", type=int, default=10)
  parser.add_argument("--width", type=int, default=1)
  parser.add_argument("--classes", type=int, default=1000)
  args = parser.parse_args()
  save_npz(args.out, haiku_tree(args.depth, args.width, args.classes))
  print(f"wrote {args.out}")
