"""The per-example route ``auto`` picks, at every batch size it can be given.

For physical batches of 1, 64 and 65 examples (the edges of the small- and
large-batch routes, which switch above 64), 1 and 4 views, WS on and off,
and one large batch (256 examples, 4 views, WS), on a WRN (3x3 convs at strides
1 and 2, SAME padding, 1x1
projections), the strategy ``per_example=auto`` resolves to, and
``per_layer`` with its large-batch route forced (``instantiate="patches"``,
every conv instantiated), equal the sequential ``loop`` to 1e-5.

Bazel runs this file with oneDNN off (``TF_ENABLE_ONEDNN_OPTS=0``), which
gives the kernels an AVX2-only host runs: there a grouped
``Conv2DBackpropFilter`` is unimplemented (checked below), which is what
broke ``per_layer`` above 64 examples on such hosts.
"""

import os

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow.python.framework import test_util  # pylint: disable=g-direct-tensorflow-import

from prifa_tf.privacy import per_example
from prifa_tf.privacy import per_layer
from tests import fixtures
from tests.privacy import per_layer_test

BATCHES = (1, 64, 65)
CASES = [dict(n=n, views=v, ws=ws) for n in BATCHES for v in (1, 4)
         for ws in (True, False)] + [dict(n=256, views=4, ws=True)]


def _ops(graph_def):
  """Every op type in a GraphDef, its function library included."""
  types = {node.op for node in graph_def.node}
  for fn in graph_def.library.function:
    types |= {node.op for node in fn.node_def}
  return types


class PerExampleMatrixTest(parameterized.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()

  def test_runs_with_the_kernels_of_an_avx2_host(self):
    # Under Bazel this target sets TF_ENABLE_ONEDNN_OPTS=0; the grouped op
    # the old route used must then fail, or the emulation proves nothing.
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
      self.skipTest("run by Bazel with TF_ENABLE_ONEDNN_OPTS=0")
    self.assertFalse(test_util.IsMklEnabled())
    groups = 8
    a = tf.ones([1, 6, 6, 4 * groups])
    with self.assertRaises(tf.errors.InvalidArgumentError):
      tf.compat.v1.nn.conv2d_backprop_filter(
          a, [3, 3, 4, 4 * groups], a, [1, 1, 1, 1], "SAME")

  @parameterized.parameters(*CASES)
  def test_auto_and_patches_match_loop(self, n, views, ws):
    model = per_layer_test.wrn(ws=ws, seed=n)
    x, y = per_layer_test.batch(n, views, seed=n)
    weights = np.ones([n], np.float32)
    weights[n // 2] = 0.0  # A padding row.
    weights = tf.constant(weights)
    chosen = per_example.resolve("auto", model, views)
    if not tf.config.list_physical_devices("GPU"):
      self.assertEqual(chosen, "per_layer")
      self.assertEqual(per_layer.instantiation_route(n),
                       "unstacked" if n <= 64 else "patches")
    want = per_layer_test.clipped(per_example.clipped_sum_loop, model, x, y,
                                  weights, views, 0.5)
    got = per_layer_test.clipped(per_example.get_strategy("auto", model),
                                 model, x, y, weights, views, 0.5)
    self.check(got, want)
    forced = per_layer_test.clipped(
        per_layer.clipped_sum_per_layer, model, x, y, weights, views, 0.5,
        ghost="never", instantiate="patches")
    self.check(forced, want)

  def check(self, got, want):
    per_layer_test.assert_same(got, want)

  def test_unknown_batch_size_takes_patches(self):
    model = per_layer_test.wrn(ws=True)
    x, y = per_layer_test.batch(5, 2)
    weights = tf.ones([5])
    def spec(t):
      return tf.TensorSpec([None, *t.shape[1:]], t.dtype)  # pylint: disable=g-long-lambda
    fn = tf.function(
        lambda x, y, w: per_layer.clipped_sum_per_layer(
            model, per_layer_test.LOSS, x, y, w, 2, 0.5, ghost="never"),
        input_signature=[spec(x), spec(y), tf.TensorSpec([None])])
    want = per_layer_test.clipped(per_example.clipped_sum_loop, model, x, y,
                                  weights, 2, 0.5)
    self.check(fn(x, y, weights), want)
    with self.assertRaisesRegex(ValueError, "static batch"):
      per_layer.instantiation_route(tf.constant(5), "unstacked")

  def test_gpu_route_builds_no_while_loop(self):
    # What auto takes on a GPU: per_layer with batched-matmul kernels. Its
    # graph must hold no loop over examples; vectorized's does (pfor has
    # no Conv2DBackpropFilter converter), which is why it is not the default.
    self.assertEqual(per_layer.instantiation_route(300, gpu=True), "patches")
    self.assertEqual(per_layer.instantiation_route(4, gpu=True), "patches")
    model = per_layer_test.wrn(ws=True)
    x, y = per_layer_test.batch(3, 2)
    args = (model, per_layer_test.LOSS, x, y, tf.ones([3]), 2, 0.5)

    def graph_ops(fn, **kwargs):
      concrete = tf.function(
          lambda: fn(*args, **kwargs)).get_concrete_function()
      return _ops(concrete.graph.as_graph_def())

    for ghost in ("auto", "never", "always"):
      ops = graph_ops(per_layer.clipped_sum_per_layer, ghost=ghost,
                      instantiate="patches")
      self.assertFalse(ops & {"While", "StatelessWhile"}, ghost)
    self.assertTrue(graph_ops(per_example.clipped_sum_vectorized) &
                    {"While", "StatelessWhile"})


if __name__ == "__main__":
  absltest.main()
