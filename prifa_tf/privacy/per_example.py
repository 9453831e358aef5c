"""Clipped sums of per-example gradients: the replaceable part of DP-SGD.

Each strategy maps a physical batch to ``(sum_i w_i * clip(g_i), norms,
losses, logits)``, where ``g_i`` is the gradient of example i's loss, and
``losses``/``logits`` (per example; logits of its first view) come from the
same forward pass, for logging. With augmentation multiplicity K the batch
holds K contiguous views per example and an example's loss is the *mean*
over its views, so its gradient is the mean of the K view gradients and is
clipped once (De et al. 2022).

Strategies:
  * ``loop``: a tf.while_loop over examples, accumulating clipped gradients.
    Memory O(parameters), no per-example copies; works for any model.
  * ``vectorized``: ``tf.vectorized_map`` over examples, materialising all
    per-example gradients, as TF-Privacy's vectorized optimizers do. Suited
    to accelerators.
  * ``per_layer``: one forward and one backward pass of the batch; each
    layer's per-example parameter gradients are formed from its recorded
    inputs and output gradients (privacy.per_layer). Covers the WRNs
    (Conv2D, WSConv2D, Dense, GroupNorm); fastest on CPU at K=1. It uses
    only ops that every TF build implements, for any batch size.
  * ``auto``: ``per_layer`` when the model's layers are all covered (on a
    GPU for any K, with batched-matmul kernel gradients; on CPU below
    LOOP_FROM_VIEWS views per example); otherwise ``vectorized`` on a GPU
    and ``loop`` on CPU.

Why not ``vectorized`` on a GPU: TF's pfor has no converter for
``Conv2DBackpropFilter``, so ``tf.vectorized_map`` over a conv net's
per-example gradients falls back to a while-loop over examples ("uses a
while_loop. Fix that!"): a sequential route under a vectorized name.
``per_layer``'s GPU route builds no while-loop (tested on CPU by inspecting
the graph); its GPU speed is unmeasured (docs/benchmarks.md).
"""

import tensorflow as tf

from prifa_tf.privacy import clipping
from prifa_tf.privacy import per_layer

STRATEGIES = ("auto", "loop", "vectorized", "per_layer")


def _example_loss(model, loss_fn, x_views, y_views):
  logits = model(x_views, training=True)
  return tf.reduce_mean(loss_fn(y_views, logits)), logits[0]


def _split_views(x, y, k):
  n = tf.shape(x)[0] // k
  xs = tf.reshape(x, tf.concat([[n, k], tf.shape(x)[1:]], 0))
  ys = tf.reshape(y, tf.concat([[n, k], tf.shape(y)[1:]], 0))
  return xs, ys, n


def _clipped_sum_loop(model, loss_fn, x, y, weights, views, l2_norm_clip):
  """Sequential strategy; see module docstring."""
  variables = model.trainable_variables
  xs, ys, n = _split_views(x, y, views)
  acc = [tf.zeros_like(v) for v in variables]
  dtype = variables[0].dtype  # float32, or float64 in precision tests.
  norms = tf.TensorArray(dtype, size=n)
  losses = tf.TensorArray(dtype, size=n)
  logits = tf.TensorArray(dtype, size=n)
  for i in tf.range(n):
    with tf.GradientTape() as tape:
      loss, logit = _example_loss(model, loss_fn, xs[i], ys[i])
    grads = tape.gradient(loss, variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    norm = tf.linalg.global_norm(grads)
    factor = clipping.clip_factors(norm, l2_norm_clip) * tf.cast(
        weights[i], dtype)
    acc = [a + factor * g for a, g in zip(acc, grads)]
    norms = norms.write(i, norm)
    losses = losses.write(i, loss)
    logits = logits.write(i, logit)
  return acc, norms.stack(), losses.stack(), logits.stack()


# Its ``for`` over ``tf.range`` is a graph loop through AutoGraph, which
# converts it even where the caller traces with ``autograph=False`` (the
# gradient engine does, as AutoGraph would also convert every layer).
clipped_sum_loop = tf.autograph.to_graph(_clipped_sum_loop)


def per_example_gradients(model, loss_fn, x, y, views):
  """Per-example gradients [n, *shape] per variable, losses, logits."""
  variables = model.trainable_variables
  xs, ys, _ = _split_views(x, y, views)

  def one(args):
    xv, yv = args
    with tf.GradientTape() as tape:
      loss, logit = _example_loss(model, loss_fn, xv, yv)
    grads = tape.gradient(loss, variables,
                          unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return grads, loss, logit

  return tf.vectorized_map(one, (xs, ys))


def clipped_sum_vectorized(model, loss_fn, x, y, weights, views,
                           l2_norm_clip):
  """Vectorized strategy; see module docstring."""
  grads, losses, logits = per_example_gradients(model, loss_fn, x, y, views)
  summed, norms = clipping.clipped_weighted_sum(grads, l2_norm_clip, weights)
  return summed, norms, losses, logits


# On CPU with this many views per example or more, ``auto`` takes ``loop``:
# each loop iteration is then a batch of views, and the loop measured as fast
# as per_layer or faster at K=16 (docs/benchmarks.md).
LOOP_FROM_VIEWS = 8


def resolve(name: str, model=None, views: int = 1) -> str:
  """Maps ``auto`` to the strategy suited to the devices (and the model).

  Args:
    name: a strategy name from STRATEGIES.
    model: the model to train; with it, ``auto`` picks ``per_layer`` only
      when every trainable layer is covered, and ``per_layer`` is refused
      with the uncovered layers named when it is not.
    views: augmentation views per example; on CPU ``auto`` takes ``loop``
      from LOOP_FROM_VIEWS views.

  Raises:
    ValueError: unknown name, or ``per_layer`` for a model it cannot handle.
  """
  if name not in STRATEGIES:
    raise ValueError(f"Unknown per-example strategy {name!r}; choose one of "
                     f"{STRATEGIES}.")
  if name == "auto":
    gpu = bool(tf.config.list_physical_devices("GPU"))
    covered = model is None or per_layer.supports(model)
    if covered and (gpu or views < LOOP_FROM_VIEWS):
      return "per_layer"
    return "vectorized" if gpu else "loop"
  if name == "per_layer" and model is not None:
    per_layer.check_supported(model)
  return name


_FUNCTIONS = {"loop": clipped_sum_loop, "vectorized": clipped_sum_vectorized,
              "per_layer": per_layer.clipped_sum_per_layer}


def get_strategy(name: str, model=None):
  """Returns the clipped-sum function called ``name`` (see resolve)."""
  return _FUNCTIONS[resolve(name, model)]
