"""Loading CIFAR-10/100 and CelebA from TFDS into memory, offline-friendly."""

import contextlib
import hashlib
import os
from typing import Optional, Tuple
import zipfile

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from prifa_tf.errors import DatasetUnavailableError
from prifa_tf.data import celeba
from prifa_tf.data.image_set import ImageSet

NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
SUPPORTED = ("cifar10", "cifar100", "celeb_a")
# Examples per split of the TFDS releases used (for checks made before any
# data is read).
SPLIT_SIZES = {"cifar10": {"train": 50_000, "test": 10_000},
               "cifar100": {"train": 50_000, "test": 10_000},
               "celeb_a": {"train": 162_770, "validation": 19_867,
                           "test": 19_962}}


def default_data_dir() -> Optional[str]:
  """$PRIFA_TFDS_DIR, else ../shared/tfds beside the checkout if present."""
  env = os.environ.get("PRIFA_TFDS_DIR")
  if env:
    return env
  here = os.path.dirname(os.path.abspath(__file__))
  shared = os.path.normpath(os.path.join(here, "..", "..", "..", "shared",
                                         "tfds"))
  return shared if os.path.isdir(shared) else None


def _missing_message(name, data_dir, download, err):
  where = data_dir or "~/tensorflow_datasets"
  how = ("Re-run with --download (needs network), or build it elsewhere and "
         f"copy the '{name}' folder into {where}.")
  if name == "celeb_a":
    how += (" CelebA's images come from Google Drive and TFDS cannot always "
            "fetch them automatically; see the TFDS celeb_a catalogue page.")
  return (f"Dataset '{name}' is not available in {where} (download="
          f"{download}). {how} Underlying error: {type(err).__name__}: {err}")


_CACHE = None  # Dict of loaded splits while ``cached_loads`` is active.


@contextlib.contextmanager
def cached_loads():
  """Within this block, each split is decoded once and then shared.

  Sweeps run many configurations on the same splits; decoding CIFAR once
  instead of per run saves seconds per run. The cached arrays are made
  read-only, so a caller that would modify them fails loudly instead of
  corrupting later runs.
  """
  global _CACHE
  outer = _CACHE
  _CACHE = {} if outer is None else outer
  try:
    yield
  finally:
    _CACHE = outer


def load_split(name: str, split: str, data_dir: Optional[str] = None,
               download: bool = False, image_size: Optional[Tuple[int, int]]
               = None, batch_size: int = 1024) -> ImageSet:
  """Loads one TFDS split into memory (once per ``cached_loads`` block).

  Args:
    name: "cifar10", "cifar100" or "celeb_a".
    split: TFDS split string, e.g. "train", "test", "train[:5000]".
    data_dir: TFDS data directory; default ``default_data_dir()``.
    download: allow TFDS to download and prepare the data.
    image_size: optional (H, W) resize (used for CelebA).
    batch_size: decoding batch size.

  With $PRIFA_DATA_CACHE set to a directory, the decoded split is also
  kept there (an .npz keyed by the split, the resize and the TFDS folder's
  files), so that other processes skip the decoding; the test suite sets it.

  Returns:
    An ImageSet whose ids are positions in the full split (for slices like
    "train[100:200]" the ids start at 100).

  Raises:
    DatasetUnavailableError: the data is missing; the message says how to
      get it.
    ValueError: unsupported dataset name.
  """
  if name not in SUPPORTED:
    raise ValueError(f"Unsupported dataset {name!r}; choose from {SUPPORTED}.")
  data_dir = data_dir if data_dir is not None else default_data_dir()
  key = (name, split, data_dir, download,
         tuple(image_size) if image_size else None)
  if _CACHE is not None and key in _CACHE:
    return _CACHE[key]
  disk = _disk_cache_path(name, split, data_dir, download, image_size)
  out = _read_disk_cache(disk) if disk else None
  if out is None:
    out = _load(name, split, data_dir, download, image_size, batch_size)
    if disk:
      _write_disk_cache(disk, out)
  if _CACHE is not None:
    for array in (out.images, out.labels, out.ids, out.domains):
      if array is not None:
        array.flags.writeable = False
    _CACHE[key] = out
  return out


CACHE_ENV = "PRIFA_DATA_CACHE"
_AS_DATASET = tfds.core.DatasetBuilder.as_dataset


def _tfds_mocked() -> bool:
  """Under ``tfds.testing.mock_data`` (whose data no cache may stand for)."""
  return tfds.core.DatasetBuilder.as_dataset != _AS_DATASET


def _disk_cache_path(name, split, data_dir, download, image_size):
  """Where $PRIFA_DATA_CACHE keeps this split decoded, or None.

  The key is the split, the resize and a fingerprint of every file of the
  dataset's TFDS folder (path, size, modification time): a rebuilt or
  replaced folder is decoded afresh. Nothing is cached without the
  variable, without an explicit data directory, or when TFDS may download.
  """
  cache = os.environ.get(CACHE_ENV)
  if not cache or not data_dir or download or _tfds_mocked():
    return None
  folder = os.path.join(os.path.realpath(data_dir), name)
  if not os.path.isdir(folder):
    return None
  digest = hashlib.sha256(repr((name, split, image_size)).encode())
  for root, dirs, files in os.walk(folder):
    dirs.sort()
    for f in sorted(files):
      stat = os.stat(os.path.join(root, f))
      digest.update(repr((os.path.relpath(os.path.join(root, f), folder),
                          stat.st_size, stat.st_mtime_ns)).encode())
  return os.path.join(cache, f"{name}-{digest.hexdigest()[:24]}.npz")


def _read_disk_cache(path) -> Optional[ImageSet]:
  try:
    with np.load(path) as z:
      return ImageSet(z["images"], z["labels"], z["ids"],
                      num_classes=int(z["num_classes"]),
                      domains=z["domains"] if "domains" in z else None)
  except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile):
    return None  # Absent, or half-written by a process that died: decode.


def _write_disk_cache(path, out: ImageSet):
  """Writes beside, then renames: readers never see a partial file."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  arrays = dict(images=out.images, labels=out.labels, ids=out.ids,
                num_classes=np.int64(out.num_classes))
  if out.domains is not None:
    arrays["domains"] = out.domains
  tmp = f"{path}.{os.getpid()}.tmp"
  with open(tmp, "wb") as f:
    np.savez(f, **arrays)
  os.replace(tmp, path)


def _load(name, split, data_dir, download, image_size, batch_size):
  try:
    ds = tfds.load(name, split=split, data_dir=data_dir, download=download,
                   shuffle_files=False)
  except Exception as e:  # pylint: disable=broad-except
    # TFDS raises DatasetNotFoundError, AssertionError or FileNotFoundError
    # depending on what is missing.
    raise DatasetUnavailableError(
        _missing_message(name, data_dir, download, e)) from e

  def convert(ex):
    image = ex["image"]
    if image_size is not None:
      image = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(
          image, image_size, antialias=True)), 0, 255), tf.uint8)
    if name == "celeb_a":
      label = celeba.attribute_matrix(ex["attributes"])
      domain = tf.cast(ex["attributes"][celeba.PROTECTED], tf.int32)
    else:
      label = tf.cast(ex["label"], tf.int32)
      domain = tf.constant(-1, tf.int32)
    return image, label, domain

  images, labels, domains = [], [], []
  try:
    for im, lb, dm in tfds.as_numpy(ds.map(convert).batch(batch_size)):
      images.append(im)
      labels.append(lb)
      domains.append(dm)
  except (tf.errors.DataLossError, tf.errors.InvalidArgumentError,
          tf.errors.NotFoundError) as e:
    raise DatasetUnavailableError(
        f"The {name!r} split {split!r} in {data_dir} is corrupt or truncated "
        f"({type(e).__name__}: {str(e).splitlines()[0][:200]}). Rebuild "
        "that TFDS directory (or point --data_dir at a good copy).") from e
  if not images:
    raise DatasetUnavailableError(f"Split {split!r} of {name!r} is empty.")
  offset = _split_offset(split)
  n = sum(len(x) for x in images)
  ids = np.arange(offset, offset + n, dtype=np.int64)
  if name == "celeb_a":
    return ImageSet(np.concatenate(images), np.concatenate(labels), ids,
                    num_classes=len(celeba.TARGET_ATTRIBUTES),
                    domains=np.concatenate(domains))
  return ImageSet(np.concatenate(images), np.concatenate(labels), ids,
                  num_classes=NUM_CLASSES[name])


def _split_offset(split: str) -> int:
  """Start index of a TFDS slice like 'train[100:200]' (absolute only)."""
  if "[" not in split:
    return 0
  inner = split[split.index("[") + 1:split.rindex("]")]
  start = inner.split(":")[0].strip()
  if not start:
    return 0
  if start.endswith("%") or start.startswith("-"):
    raise ValueError(
        f"Split {split!r}: only absolute, non-negative slice starts are "
        "supported, so that example ids stay stable. Use e.g. 'train[:5000]' "
        "and select subsets with prifa_tf.data.subsets instead.")
  return int(start)
