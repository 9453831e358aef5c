"""Small synthetic data and models shared by the tests."""

import contextlib
import os
import unittest
from unittest import mock

import numpy as np
import tensorflow as tf

from prifa_tf.data.image_set import ImageSet
from prifa_tf.training import datasets


def quiet_tf():
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  tf.get_logger().setLevel("ERROR")


def synthetic_set(n=64, size=16, classes=10, seed=0, id_offset=0):
  """Learnable toy images: class c has a bright channel-dependent blob."""
  rng = np.random.default_rng(seed)
  labels = np.arange(n) % classes
  rng.shuffle(labels)
  images = rng.integers(0, 60, size=(n, size, size, 3)).astype(np.uint8)
  for i, c in enumerate(labels):
    images[i, (c % 4) * size // 4:(c % 4 + 1) * size // 4, :, c % 3] = 250
  return ImageSet(images, labels.astype(np.int32),
                  np.arange(id_offset, id_offset + n, dtype=np.int64), classes)


def synthetic_run_data(n=64, size=16, classes=10, seed=0):
  return datasets.RunData(
      train=synthetic_set(n, size, classes, seed),
      validation=None,
      evaluation={"test": synthetic_set(32, size, classes, seed + 1, 10_000)},
      dataset="cifar10")


def tiny_model(num_classes=10, size=16, seed=0):
  """WRN-10-1 on small images (fast enough for per-example tests)."""
  from prifa_tf import models  # pylint: disable=g-import-not-at-top
  tf.keras.utils.set_random_seed(seed)
  cfg = models.named_config("wrn_10_1", num_classes=num_classes,
                            input_shape=(size, size, 3))
  return models.build_wide_resnet(cfg, private=True)


def tfds_dir():
  """The real TFDS directory (with cifar10) or None."""
  d = os.environ.get("PRIFA_TFDS_DIR")
  return d if d and os.path.isdir(os.path.join(d, "cifar10")) else None


def require_tfds():
  """The real TFDS directory; else skips the test saying why, or fails it.

  scripts/test.sh sets PRIFA_REQUIRE_DATA=1 when it found ../shared/tfds, so
  that a data test can never skip silently where the data is present.
  """
  d = tfds_dir()
  if d is not None:
    return d
  reason = ("needs real CIFAR-10: set PRIFA_TFDS_DIR to a TFDS directory "
            f"holding cifar10 (now {os.environ.get('PRIFA_TFDS_DIR')!r})")
  if os.environ.get("PRIFA_REQUIRE_DATA") == "1":
    raise AssertionError("PRIFA_REQUIRE_DATA=1 but the data is missing: " +
                         reason)
  raise unittest.SkipTest(reason)


def private_config(**overrides):
  """A tiny private TrainConfig for trainer-level tests (synthetic data)."""
  from prifa_tf.training.config import TrainConfig  # pylint: disable=g-import-not-at-top
  base = dict(
      dataset="cifar10", model="wrn_10_1", private=True, target_epsilon=None,
      steps=3, batch_size=8, physical_batch_size=4, noise_multiplier=1.0,
      l2_norm_clip=1.0, learning_rate=0.5, momentum=0.0, augmult=0,
      ema_decay=None, eval_weights="last", sharpness_rho=0.0,
      per_example="loop", reproducible=True, noise_seed=123, seed=0,
      eval_every=1000,
      checkpoint_every=1000, log_every=1000)
  base.update(overrides)
  return TrainConfig(**base)


def make_trainer(workdir, data=None, distribution=None, **overrides):
  from prifa_tf.training import trainer  # pylint: disable=g-import-not-at-top
  return trainer.Trainer(private_config(**overrides), workdir,
                         data=data or synthetic_run_data(n=32),
                         log=lambda _: None, distribution=distribution)


def use_logical_cpus(n):
  """Splits the CPU into n logical devices; call before any TF op."""
  cpu = tf.config.list_physical_devices("CPU")[0]
  tf.config.set_logical_device_configuration(
      cpu, [tf.config.LogicalDeviceConfiguration()] * n)


def mirrored(replicas):
  return tf.distribute.MirroredStrategy(
      [f"/cpu:{i}" for i in range(replicas)])


def final_weights(trainer_obj):
  return [v.numpy().copy() for v in trainer_obj.model.trainable_variables]


def read_scalars(logdir):
  """{tag: {step: value}} of every TF2 scalar summary below ``logdir``."""
  out = {}
  for root, _, files in os.walk(logdir):
    for name in files:
      if "tfevents" not in name:
        continue
      for event in tf.compat.v1.train.summary_iterator(
          os.path.join(root, name)):
        for value in event.summary.value:
          number = (float(tf.make_ndarray(value.tensor))
                    if value.HasField("tensor") else value.simple_value)
          out.setdefault(value.tag, {})[event.step] = number
  return out


def read_descriptions(logdir):
  """{tag: description} of the summaries below ``logdir`` (first seen)."""
  out = {}
  for root, _, files in os.walk(logdir):
    for name in files:
      if "tfevents" in name:
        for event in tf.compat.v1.train.summary_iterator(
            os.path.join(root, name)):
          for value in event.summary.value:
            if value.metadata.summary_description:
              out.setdefault(value.tag, value.metadata.summary_description)
  return out


def free_ports(n):
  """``n`` free TCP ports on 127.0.0.1 (for local multi-worker clusters)."""
  import socket  # pylint: disable=g-import-not-at-top
  socks = [socket.socket() for _ in range(n)]
  for s in socks:
    s.bind(("127.0.0.1", 0))
  ports = [s.getsockname()[1] for s in socks]
  for s in socks:
    s.close()
  return ports


@contextlib.contextmanager
def saved_figures():
  """{"stem.png" / "stem.pdf": Figure} of every figure saved inside.

  The Figure objects stay inspectable after they are saved, so a test can
  read back what was drawn (``reporting.figures.problems``, ``series``).
  """
  import matplotlib.figure  # pylint: disable=g-import-not-at-top
  saved = {}
  original = matplotlib.figure.Figure.savefig

  def record(fig, fname, *args, **kwargs):
    name = os.path.basename(str(fname))
    if name.startswith(".") and ".tmp." in name:  # figures.save's temp name
      name = name[1:].replace(".tmp.", ".")
    saved[name] = fig
    return original(fig, fname, *args, **kwargs)
  with mock.patch.object(matplotlib.figure.Figure, "savefig", record):
    yield saved


def assert_figure(test, saved, name, series=(), out_dir=None):
  """``name`` (e.g. "table4.png") was saved, passes a reviewer's checks
  (``figures.problems``), and draws every series whose label contains one
  of ``series``, each with at least one point."""
  from prifa_tf.reporting import figures  # pylint: disable=g-import-not-at-top
  test.assertIn(name, saved, f"{name} was not saved; saved: {sorted(saved)}")
  fig = saved[name]
  test.assertEqual(figures.problems(fig), [], name)
  drawn = [label for labels in figures.series(fig).values()
           for label in labels]
  for wanted in series:
    test.assertTrue(any(wanted in label for label in drawn),
                    f"{name}: no series {wanted!r} among {drawn}")
  if out_dir is not None:
    stem = os.path.splitext(name)[0]
    for ext in ("png", "pdf"):
      path = os.path.join(out_dir, f"{stem}.{ext}")
      test.assertTrue(os.path.getsize(path) > 1000, path)
