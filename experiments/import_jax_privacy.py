r"""Converts jax_privacy's Haiku WRN parameters into a Keras HDF5 file.

  python experiments/import_jax_privacy.py \
      --checkpoint=wrn_28_10_imagenet32.npz --model=wrn_28_10 \
      --num_classes=100 --out=pretrained/wrn_28_10_imagenet32.h5

The result is what ``--pretrained`` (and ``--set=pretrained=...``) reads:
the body by layer name, the head re-initialised when the class counts
differ. Every Haiku module must map to one Keras layer and every weight
must match in shape (``prifa_tf/models/haiku_import.py``); otherwise the
binary names the mismatches and exits 2 without writing. ``.npz`` (keys
``module/param``) or a pickle/dill file; see the module docstring for
turning a ``.dill`` that holds jax arrays into ``.npz``.
"""

# Quiet known-harmless TF/absl output before TF is imported.
from prifa_tf.reporting import console  # pylint: disable=g-bad-import-order
console.setup()

import os
import tempfile

from absl import app
from absl import flags

from prifa_tf import errors
from prifa_tf import models
from prifa_tf.models import haiku_import
from prifa_tf.models import wide_resnet

_CHECKPOINT = flags.DEFINE_string("checkpoint", None,
                                  "Haiku parameters: .npz or pickle/dill.")
_PARAMS_KEY = flags.DEFINE_string("params_key", "params",
                                  "Key of the parameter tree in a pickled "
                                  "checkpoint dict.")
_MODEL = flags.DEFINE_enum("model", "wrn_28_10", sorted(wide_resnet.NAMED),
                           "Keras WRN to build.")
_CLASSES = flags.DEFINE_integer("num_classes", 100,
                                "Classes of the target model; a head of "
                                "another size is not imported.")
_IMAGE = flags.DEFINE_integer("image_size", 32, "Input height and width.")
_OUT = flags.DEFINE_string("out", None, "Keras HDF5 weights file (.h5).")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if not _CHECKPOINT.value or not _OUT.value:
    raise app.UsageError("--checkpoint and --out are required.")
  if not _OUT.value.endswith(".h5") or _OUT.value.endswith(".weights.h5"):
    raise errors.BadInputError("--out must end in .h5 (Keras HDF5 by layer "
                               "name), not .weights.h5.")
  if _CLASSES.value < 1 or _IMAGE.value < 8:
    raise errors.BadInputError(
        f"--num_classes must be >= 1 and --image_size >= 8; got "
        f"{_CLASSES.value} and {_IMAGE.value}.")
  tree = haiku_import.read_tree(_CHECKPOINT.value, _PARAMS_KEY.value)
  model = models.build_wide_resnet(models.named_config(
      _MODEL.value, num_classes=_CLASSES.value,
      input_shape=(_IMAGE.value, _IMAGE.value, 3)), private=True)
  skipped = haiku_import.import_into(model, tree)
  out_dir = os.path.dirname(os.path.abspath(_OUT.value))
  os.makedirs(out_dir, exist_ok=True)
  fd, tmp = tempfile.mkstemp(suffix=".h5", dir=out_dir)
  os.close(fd)
  try:
    model.save_weights(tmp)
    os.replace(tmp, _OUT.value)  # Atomic: never a half-written file.
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)
  imported = len(tree) - len(skipped)
  print(f"imported {imported} Haiku modules ({model.count_params():,} "
        f"Keras weights, {_MODEL.value}, {_CLASSES.value} classes); "
        f"skipped: {', '.join(skipped) or 'none'}"
        + (" (head re-initialised: class counts differ)" if skipped else "")
        + f"; wrote {_OUT.value}")
  return 0


def run():
  """Entry point of this binary (also the console script, see pyproject)."""
  console.run_main(main)


if __name__ == "__main__":
  run()
