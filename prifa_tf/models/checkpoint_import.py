"""Import of pretrained weights (e.g. ImageNet WRN-28-10) with a fresh head.

Nothing is downloaded: the caller passes the path of a Keras HDF5 weights
file written by ``model.save_weights("NAME.h5")`` (matched by layer name, so
the classifier may have another number of classes) or a TF checkpoint prefix.
"""

import os

import h5py
import tensorflow as tf
from prifa_tf.errors import CheckpointImportError


HEAD_LAYER = "classifier"


def _h5_layer_shapes(path):
  """{layer name: [weight shapes]} of a Keras HDF5 weights file."""
  with h5py.File(path, "r") as f:
    root = f["model_weights"] if "model_weights" in f else f
    names = [n.decode() if isinstance(n, bytes) else n
             for n in root.attrs.get("layer_names", [])]
    out = {}
    for name in names:
      group = root[name]
      weight_names = [w.decode() if isinstance(w, bytes) else w
                      for w in group.attrs.get("weight_names", [])]
      out[name] = [tuple(group[w].shape) for w in weight_names]
    return out


def _check_h5_matches(model, path, head_layer):
  try:
    stored = _h5_layer_shapes(path)
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointImportError(
        f"Could not read pretrained checkpoint {path!r}: {e}") from e
  bad = []
  for layer in model.layers:
    if layer.name == head_layer or not layer.weights:
      continue
    want = [tuple(w.shape) for w in layer.weights]
    have = stored.get(layer.name)
    if have is None or sorted(have) != sorted(want):
      bad.append(f"{layer.name} (model {want}, file {have})")
  if bad:
    raise CheckpointImportError(
        f"{len(bad)} layers of {model.name!r} are missing from {path!r} or "
        f"have other shapes, e.g. {bad[:3]}; no layer matched as a whole "
        "architecture. Is it a checkpoint of the same architecture?")


def _exists(path):
  return (os.path.exists(path) or tf.io.gfile.exists(path + ".index"))


def load_pretrained(model: tf.keras.Model, path: str, seed: int = 0,
                    head_layer: str = HEAD_LAYER) -> tf.keras.Model:
  """Loads a pretrained body into ``model`` and re-initialises its head.

  The checkpoint may come from a model with a different number of classes:
  every layer except ``head_layer`` must match by name and shape.

  Args:
    model: the target Keras model (e.g. WRN-28-10 with 100 classes).
    path: weights file or checkpoint prefix.
    seed: seed of the re-initialised head.
    head_layer: name of the classifier layer to reset.

  Returns:
    ``model``, with body weights loaded and the head freshly initialised.

  Raises:
    CheckpointImportError: missing file, or no body layer matched.
  """
  if not _exists(path):
    raise CheckpointImportError(
        f"Pretrained checkpoint {path!r} does not exist. prifa_tf downloads "
        "nothing at run time: pass the path of a Keras weights file.")
  if path.endswith(".weights.h5"):
    raise CheckpointImportError(
        f"{path!r} is in Keras' structural '.weights.h5' format, which cannot "
        "be matched by layer name. Save the pretrained model with "
        "model.save_weights('NAME.h5') (HDF5 by name) or as a TF checkpoint.")
  if path.endswith(".h5"):
    _check_h5_matches(model, path, head_layer)
  try:
    if path.endswith(".h5"):
      model.load_weights(path, by_name=True, skip_mismatch=True)
    else:
      # TF checkpoint: restores by object path; the head may mismatch.
      model.load_weights(path).expect_partial()
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointImportError(
        f"Could not read pretrained checkpoint {path!r}: {e}") from e
  head = model.get_layer(head_layer)
  rng = tf.random.Generator.from_seed(seed)
  kernel_init = tf.keras.initializers.GlorotUniform(seed=int(
      rng.uniform_full_int([], dtype=tf.int32).numpy()) & 0x7fffffff)
  head.kernel.assign(kernel_init(head.kernel.shape))
  head.bias.assign(tf.zeros_like(head.bias))
  return model
