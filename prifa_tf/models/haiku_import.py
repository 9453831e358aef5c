"""Import of jax_privacy's Haiku WideResNet parameters into the Keras WRN.

jax_privacy (De et al. 2022) publishes its ImageNet-32 WRN-28-10 as a
pickled dict whose parameters are a Haiku tree ``{module: {param: array}}``
of its CIFAR ``WideResNet``. Module names (after the network's own prefix,
``wide_res_net/``), with WS convolutions ``{w, gain, bias}``, GroupNorms
``{scale, offset}`` and the linear head ``{w, b}``:

  First_conv                        stem 3x3 conv
  Block_{g}_skip_norm               group g's shortcut norm (first block)
  Block_{g}_skip_conv               group g's 1x1 shortcut conv
  Block_{g}_norm_{i}_{j}            block i's j-th norm (after relu)
  Block_{g}Conv_{i}_{j}             block i's j-th 3x3 conv
  Final_norm, Softmax               head norm and classifier

``name_map`` maps every Keras weight to exactly one Haiku entry; the import
fails with the names when a weight is missing, left over, or of another
shape. Both networks compute relu -> norm -> conv, pad 'SAME', take the
GroupNorm epsilon 1e-5 and the WS floor 1e-4 on fan_in * var, so the import
is exact up to float rounding (tested against an independent NumPy forward
pass). Older checkpoints name modules with ``~norm_fn/`` / ``~conv_fn/``
segments; they are dropped, as jax_privacy's own restore does.

Reading: ``.npz`` (keys ``module/param``; read without pickle) or a
pickle/dill file, which runs code when loaded: load only files you trust,
such as jax_privacy's own. jax_privacy's
``.dill`` files may hold jax arrays, which only unpickle where jax is
installed; there, ``np.savez(out, **{f"{m}/{p}": np.asarray(v) for m, ps in
params.items() for p, v in ps.items()})`` writes the ``.npz`` this reads.
"""

import os
import pickle
from typing import Dict, Tuple

import numpy as np
from prifa_tf.errors import HaikuImportError


PREFIX_SEGMENTS = ("~norm_fn/", "~conv_fn/")
HEAD = "classifier"


def name_map(depth: int) -> Dict[str, str]:
  """{Keras layer name: Haiku module name} for a WRN of ``depth``."""
  if depth < 10 or (depth - 4) % 6:
    raise HaikuImportError(f"WRN depth must be 6n+4; got {depth}.")
  blocks = (depth - 4) // 6
  out = {"stem_conv": "First_conv", "head_norm": "Final_norm",
         HEAD: "Softmax"}
  for g in (1, 2, 3):
    out[f"group{g}_block1_proj_norm"] = f"Block_{g}_skip_norm"
    out[f"group{g}_block1_proj"] = f"Block_{g}_skip_conv"
    for b in range(blocks):
      k = f"group{g}_block{b + 1}"
      out[f"{k}_pre1_norm"] = f"Block_{g}_norm_{b}_0"
      out[f"{k}_conv1"] = f"Block_{g}Conv_{b}_0"
      out[f"{k}_pre2_norm"] = f"Block_{g}_norm_{b}_1"
      out[f"{k}_conv2"] = f"Block_{g}Conv_{b}_1"
  return out


# Keras weight (by its name's last part) -> Haiku parameter, per layer kind.
_PARAMS = {"conv": {"kernel": "w", "bias": "bias", "gain": "gain"},
           "norm": {"gamma": "scale", "beta": "offset"},
           "dense": {"kernel": "w", "bias": "b"}}


def _kind(layer_name):
  if layer_name == HEAD:
    return "dense"
  return "norm" if layer_name.endswith("_norm") else "conv"


def module_name(key: str) -> str:
  """A tree key without the network prefix and legacy segments."""
  for seg in PREFIX_SEGMENTS:
    key = key.replace(seg, "")
  return key.rsplit("/", 1)[-1]


def normalise_tree(tree) -> Dict[str, Dict[str, np.ndarray]]:
  """{module: {param: float32 array}} from a nested or flat mapping."""
  out: Dict[str, Dict[str, np.ndarray]] = {}

  def put(module, param, value):
    name = module_name(module)
    if param in out.setdefault(name, {}):
      raise HaikuImportError(f"Two entries for {name}/{param}.")
    out[name][param] = np.asarray(value, dtype=np.float32)

  for key, value in tree.items():
    if isinstance(value, dict):
      for param, array in value.items():
        put(key, param, array)
    elif "/" in key:
      module, param = key.rsplit("/", 1)
      put(module, param, value)
    else:
      raise HaikuImportError(f"Unexpected entry {key!r} in the tree.")
  return out


def read_tree(path: str, params_key: str = "params"):
  """Reads a Haiku tree from ``.npz`` or a pickle/dill file."""
  if not os.path.exists(path):
    raise HaikuImportError(f"{path!r} does not exist (nothing is "
                           "downloaded).")
  try:
    if path.endswith(".npz"):
      with np.load(path) as f:
        return normalise_tree({k: f[k] for k in f.files})
    with open(path, "rb") as f:
      try:
        import dill  # pylint: disable=g-import-not-at-top
        loaded = dill.load(f)
      except ImportError:
        loaded = pickle.load(f)
  except HaikuImportError:
    raise
  except ModuleNotFoundError as e:
    raise HaikuImportError(
        f"{path!r} needs the module {e.name!r} to unpickle (jax_privacy's "
        "files may hold jax arrays). Convert it to .npz where jax is "
        "installed (see prifa_tf/models/haiku_import.py).") from e
  except Exception as e:  # pylint: disable=broad-except
    raise HaikuImportError(f"Could not read {path!r}: {e}") from e
  if isinstance(loaded, dict) and params_key in loaded:
    loaded = loaded[params_key]
  if not isinstance(loaded, dict):
    raise HaikuImportError(f"{path!r} holds no parameter dict (looked for "
                           f"the key {params_key!r}).")
  return normalise_tree(loaded)


def tree_architecture(tree) -> Tuple[int, int]:
  """(depth, width) of the WRN a tree holds.

  Read from its block names and the first group's channel count.
  """
  blocks = sum(1 for name in tree
               if name.startswith("Block_1Conv_") and name.endswith("_0"))
  first = tree.get("Block_1Conv_0_0", {}).get("w")
  if not blocks or first is None:
    raise HaikuImportError(
        "The tree has no Block_1Conv_0_0/w: it is not jax_privacy's CIFAR "
        f"WideResNet (modules: {sorted(tree)[:5]}...).")
  return 6 * blocks + 4, int(np.shape(first)[-1]) // 16


def assignments(model, tree, keep_head=None) -> Tuple[list, list]:
  """Pairs (Keras variable, array) for every weight, checked.

  Args:
    model: the Keras WRN (``build_wide_resnet``; GroupNorm and WS on).
    tree: ``normalise_tree`` output.
    keep_head: import the classifier; None = when its shape matches.

  Returns:
    (pairs, skipped Haiku modules).

  Raises:
    HaikuImportError: naming or shape mismatches, with the names.
  """
  depth = 6 * sum(1 for layer in model.layers
                  if layer.name.startswith("group1_block") and
                  layer.name.endswith("_conv1")) + 4
  width = model.get_layer("group1_block1_conv1").kernel.shape[-1] // 16
  have = tree_architecture(tree)
  if have != (depth, width):
    raise HaikuImportError(
        f"The tree holds a WRN-{have[0]}-{have[1]}, the model is a "
        f"WRN-{depth}-{width}: build the model of the checkpoint (e.g. "
        f"--model=wrn_{have[0]}_{have[1]}).")
  mapping = name_map(depth)
  head = tree.get("Softmax", {})
  head_fits = tuple(np.shape(head.get("w"))) == tuple(
      model.get_layer(HEAD).kernel.shape)
  if keep_head is None:
    keep_head = head_fits
  elif keep_head and not head_fits:
    raise HaikuImportError(
        f"The head has shape {np.shape(head.get('w'))}, the model's "
        f"{tuple(model.get_layer(HEAD).kernel.shape)}: it cannot be kept.")
  pairs, problems, used = [], [], set()
  for layer_name, module in mapping.items():
    if layer_name == HEAD and not keep_head:
      used.add(module)
      continue
    try:
      layer = model.get_layer(layer_name)
    except ValueError:
      problems.append(f"the model has no layer {layer_name}")
      continue
    params = tree.get(module)
    if params is None:
      problems.append(f"{module} (for {layer_name}) is not in the tree")
      continue
    used.add(module)
    table = _PARAMS[_kind(layer_name)]
    for var in layer.weights:
      short = var.name.split("/")[-1].split(":")[0]
      param = table.get(short)
      if param is None or param not in params:
        problems.append(f"{layer_name}/{short}: no {module}/{param}")
        continue
      array = params[param]
      if tuple(array.shape) != tuple(var.shape):
        problems.append(f"{module}/{param} has shape {array.shape}, "
                        f"{layer_name}/{short} {tuple(var.shape)}")
        continue
      pairs.append((var, array))
    extra = set(params) - {table[w.name.split("/")[-1].split(":")[0]]
                           for w in layer.weights
                           if w.name.split("/")[-1].split(":")[0] in table}
    if extra:
      problems.append(f"{module} has parameters the Keras layer lacks: "
                      f"{sorted(extra)}")
  left = sorted(set(tree) - used)
  if left:
    problems.append(f"tree modules not mapped to any layer: {left[:5]}")
  if problems:
    raise HaikuImportError(
        f"{len(problems)} problems importing the Haiku tree into "
        f"{model.name}: " + "; ".join(problems[:6]))
  return pairs, ([] if keep_head else ["Softmax"])


def import_into(model, tree, keep_head=None, seed=0):
  """Assigns the tree to ``model``; a skipped head is freshly initialised.

  Returns the list of skipped Haiku modules.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  pairs, skipped = assignments(model, tree, keep_head)
  for var, array in pairs:
    var.assign(array)
  if skipped:
    head = model.get_layer(HEAD)
    init = tf.keras.initializers.GlorotUniform(seed=seed)
    head.kernel.assign(init(head.kernel.shape))
    head.bias.assign(tf.zeros_like(head.bias))
  return skipped
