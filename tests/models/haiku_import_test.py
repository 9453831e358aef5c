"""jax_privacy's Haiku WRN tree into the Keras WRN, checked by NumPy.

The synthetic tree has exactly the naming and layout of jax_privacy's CIFAR
``WideResNet`` (``image_classification/models/cifar.py``): module
``wide_res_net/First_conv``, ``Block_{g}_skip_norm``, ``Block_{g}_skip_conv``,
``Block_{g}_norm_{i}_{j}``, ``Block_{g}Conv_{i}_{j}``, ``Final_norm``,
``Softmax``; WS convs ``{w, gain, bias}`` (HWIO), GroupNorm ``{scale,
offset}``, Linear ``{w, b}``. The NumPy forward pass below follows that
model's code path (relu -> norm -> conv, the skip branch's own norm, SAME
padding, the WS floor 1e-4, GroupNorm eps 1e-5) without TF.
"""

import os
import pickle
import subprocess
import sys
import tempfile

from absl.testing import absltest
import numpy as np

from prifa_tf import models
from prifa_tf.models import haiku_import
from tests import fixtures
from tests.models.haiku_tree import haiku_tree
from tests.models.haiku_tree import save_npz

GROUPS = 16


# ----------------------------------------------- independent NumPy model --
def np_conv(x, p, stride):
  w = p["w"].astype(np.float64)
  k = w.shape[0]
  mean = w.mean(axis=(0, 1, 2), keepdims=True)
  var = w.var(axis=(0, 1, 2), keepdims=True)
  fan_in = np.prod(w.shape[:-1])
  scale = p["gain"] / np.sqrt(np.maximum(var * fan_in, 1e-4))
  w = w * scale - mean * scale
  n, h, wd, c = x.shape
  out_h, out_w = -(-h // stride), -(-wd // stride)
  pad_h = max((out_h - 1) * stride + k - h, 0)
  pad_w = max((out_w - 1) * stride + k - wd, 0)
  xp = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2),
                  (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
  out = np.zeros((n, out_h, out_w, w.shape[-1]))
  for di in range(k):
    for dj in range(k):
      patch = xp[:, di:di + stride * out_h:stride, dj:dj + stride * out_w:
                 stride, :]
      out += np.einsum("nhwc,co->nhwo", patch, w[di, dj])
  return out + p["bias"]


def np_group_norm(x, p):
  n, h, w, c = x.shape
  g = x.reshape(n, h, w, GROUPS, c // GROUPS)
  mean = g.mean(axis=(1, 2, 4), keepdims=True)
  var = g.var(axis=(1, 2, 4), keepdims=True)
  g = (g - mean) / np.sqrt(var + 1e-5)
  return g.reshape(n, h, w, c) * p["scale"] + p["offset"]


def np_forward(tree, x, depth):
  t = {haiku_import.module_name(k): v for k, v in tree.items()}
  def relu(a):
    return np.maximum(a, 0.0)
  net = np_conv(x.astype(np.float64), t["First_conv"], 1)
  blocks = (depth - 4) // 6
  for g, stride in zip((1, 2, 3), (1, 2, 2)):
    for i in range(blocks):
      skip = net
      if i == 0:
        skip = np_conv(np_group_norm(relu(net), t[f"Block_{g}_skip_norm"]),
                       t[f"Block_{g}_skip_conv"], stride)
      for j in range(2):
        s = stride if (i, j) == (0, 0) else 1
        net = np_conv(np_group_norm(relu(net), t[f"Block_{g}_norm_{i}_{j}"]),
                      t[f"Block_{g}Conv_{i}_{j}"], s)
      net = net + skip
  net = np_group_norm(relu(net), t["Final_norm"]).mean(axis=(1, 2))
  return net @ t["Softmax"]["w"] + t["Softmax"]["b"]


def keras_wrn(depth, width, classes, size=8):
  return models.build_wide_resnet(models.WRNConfig(
      depth=depth, width=width, num_classes=classes,
      input_shape=(size, size, 3)), private=True)


class HaikuImportTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()
    self.x = np.random.default_rng(1).normal(size=(3, 8, 8, 3)).astype(
        np.float32)

  def test_forward_pass_equals_numpy(self):
    for depth, width in ((10, 1), (16, 2)):
      tree = haiku_tree(depth, width, 10, seed=depth)
      model = keras_wrn(depth, width, 10)
      skipped = haiku_import.import_into(model, haiku_import.normalise_tree(
          tree))
      self.assertEqual(skipped, [])
      ours = model(self.x, training=False).numpy()
      ref = np_forward(tree, self.x, depth)
      diff = float(np.abs(ours - ref).max())
      print(f"WRN-{depth}-{width}: max |Keras - NumPy| logit {diff:.2e} "
            f"(logit scale {np.abs(ref).max():.2f})")
      self.assertLess(diff, 1e-4)

  def test_every_weight_of_wrn_28_10_is_mapped(self):
    model = keras_wrn(28, 10, 100, size=32)
    mapping = haiku_import.name_map(28)
    with_weights = {layer.name for layer in model.layers if layer.weights}
    self.assertEqual(set(mapping), with_weights)
    self.assertLen(set(mapping.values()), len(mapping))  # One-to-one.
    tree = haiku_import.normalise_tree(haiku_tree(28, 10, 1000))
    self.assertEqual(set(mapping.values()), set(tree))
    # ImageNet's 1000-class head is skipped for 100 classes; the body is
    # assigned in full (36.5M weights).
    pairs, skipped = haiku_import.assignments(model, tree)
    self.assertEqual(skipped, ["Softmax"])
    self.assertEqual(sum(int(np.prod(v.shape)) for v, _ in pairs),
                     model.count_params() - 640 * 100 - 100)

  def test_head_skipped_when_classes_differ(self):
    tree = haiku_import.normalise_tree(haiku_tree(10, 1, 10))
    model = keras_wrn(10, 1, 5)
    self.assertEqual(haiku_import.import_into(model, tree), ["Softmax"])
    conv = model.get_layer("group2_block1_conv1")
    np.testing.assert_array_equal(conv.kernel.numpy(),
                                  tree["Block_2Conv_0_0"]["w"])
    np.testing.assert_array_equal(conv.gain.numpy(),
                                  tree["Block_2Conv_0_0"]["gain"])
    norm = model.get_layer("group1_block1_proj_norm")
    np.testing.assert_array_equal(norm.beta.numpy(),
                                  tree["Block_1_skip_norm"]["offset"])
    with self.assertRaisesRegex(haiku_import.HaikuImportError, "cannot be"):
      haiku_import.import_into(keras_wrn(10, 1, 5), tree, keep_head=True)

  def test_mismatches_are_named(self):
    model = keras_wrn(10, 1, 10)
    tree = haiku_import.normalise_tree(haiku_tree(10, 1, 10))
    missing = dict(tree)
    del missing["Block_3_skip_norm"]
    with self.assertRaisesRegex(haiku_import.HaikuImportError,
                                "Block_3_skip_norm"):
      haiku_import.import_into(model, missing)
    extra = dict(tree, Block_4Conv_0_0=tree["Block_3Conv_0_0"])
    with self.assertRaisesRegex(haiku_import.HaikuImportError,
                                "Block_4Conv_0_0"):
      haiku_import.import_into(model, extra)
    wide = haiku_import.normalise_tree(haiku_tree(10, 2, 10))
    with self.assertRaisesRegex(haiku_import.HaikuImportError,
                                "WRN-10-2, the model is a WRN-10-1"):
      haiku_import.import_into(model, wide)
    reshaped = dict(tree, Block_2_skip_norm={
        "scale": np.ones(7, np.float32), "offset": np.zeros(7, np.float32)})
    with self.assertRaisesRegex(haiku_import.HaikuImportError,
                                "Block_2_skip_norm/scale has shape"):
      haiku_import.import_into(model, reshaped)

  def test_files_and_legacy_names(self):
    tree = haiku_tree(10, 1, 10)
    legacy = {k.replace("Block_1_norm_0_0", "~norm_fn/Block_1_norm_0_0"): v
              for k, v in tree.items()}
    d = tempfile.mkdtemp()
    npz = os.path.join(d, "tree.npz")
    save_npz(npz, legacy)
    pkl = os.path.join(d, "ckpt.dill")
    with open(pkl, "wb") as f:
      pickle.dump({"params": legacy, "network_state": {}}, f)
    for path in (npz, pkl):
      read = haiku_import.read_tree(path)
      self.assertEqual(set(read), set(haiku_import.normalise_tree(tree)))
    with self.assertRaisesRegex(haiku_import.HaikuImportError, "not exist"):
      haiku_import.read_tree(os.path.join(d, "nope.npz"))
    with open(os.path.join(d, "bad.dill"), "wb") as f:
      f.write(b"not a pickle")
    with self.assertRaisesRegex(haiku_import.HaikuImportError,
                                "Could not read"):
      haiku_import.read_tree(os.path.join(d, "bad.dill"))

  def test_converter_binary_writes_keras_h5(self):
    d = tempfile.mkdtemp()
    npz = os.path.join(d, "tree.npz")
    tree = haiku_tree(10, 1, 10)
    save_npz(npz, tree)
    out = os.path.join(d, "out", "wrn.h5")
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    env = dict(os.environ, PYTHONPATH=root)
    cmd = [sys.executable, os.path.join(root, "experiments",
                                        "import_jax_privacy.py"),
           f"--checkpoint={npz}", "--model=wrn_10_1", "--num_classes=10",
           "--image_size=8", f"--out={out}"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                          check=False)
    self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
    self.assertIn("imported 21 Haiku modules", proc.stdout)
    self.assertIn("skipped: none", proc.stdout)
    model = keras_wrn(10, 1, 10)
    model.load_weights(out, by_name=True)
    ref = np_forward(tree, self.x, 10)
    np.testing.assert_allclose(model(self.x).numpy(), ref, atol=1e-4)
    # Bad input: a clear message, exit 2, nothing written.
    bad = subprocess.run(cmd[:2] + [f"--checkpoint={npz}",
                                    "--model=wrn_16_1", f"--out={out}.x.h5"],
                         env=env, capture_output=True, text=True,
                         check=False)
    self.assertEqual(bad.returncode, 2, bad.stdout + bad.stderr)
    self.assertIn("error:", bad.stdout + bad.stderr)
    self.assertFalse(os.path.exists(out + ".x.h5"))


if __name__ == "__main__":
  absltest.main()
