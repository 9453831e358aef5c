"""Clipped gradient sums from one backward pass, layer by layer.

For a layer ``z = f(a; theta)`` the gradient of example i's loss with respect
to ``theta`` depends only on the layer's input ``a_i`` and on
``g_i = dL_i/dz_i``. One forward pass records every trainable layer's input;
one backward pass of the summed loss, taken with respect to the layers'
(watched) outputs, gives every ``g_i`` at once (examples do not interact:
GroupNorm normalises within an example). Then, per layer:

1. **Per-example squared norms** of the layer's parameter gradients, by the
   cheaper of two exact methods (Bu et al. 2022, "mixed ghost clipping"):

   * *instantiate*: form each example's kernel gradient ``a_i^T g_i`` and
     reduce it. Conv kernels take one of two routes (``INSTANTIATE_MODES``),
     both built from ops that every TF build implements on CPU and GPU:
     ``unstacked``, one ungrouped ``Conv2DBackpropFilter`` per example (a
     static batch of at most ``_MAX_UNSTACKED`` examples on CPU), or
     ``patches``, one batched matmul of each example's extracted patches
     with its output gradients (any batch size, known or not; the GPU
     route). Dense layers use an einsum;
   * *ghost norm* (Goodfellow 2015; Li et al. 2022): ``||a_i^T g_i||_F^2 =
     sum_pq (a_p . a_q)(g_p . g_q)`` over the example's output positions p,
     q, never forming the kernel gradient. Cheaper when positions are few
     (the last WRN stage). The patch Gram ``a_p . a_q`` is taken from the
     extracted patches, or, where that costs less (stride 1, typically), as
     a sum over kernel taps of shifted windows of the padded activations'
     own Gram, which avoids the kh*kw-fold patch expansion.

   Weight-standardised kernels are handled exactly: the layer computes
   ``z = conv(a, u * gain) + b`` with ``u = (w - mean) / s``;
   the gradient with respect to the raw kernel is ``P h / s`` per output
   channel, with ``P = I - 11^T/n - u u^T`` an orthogonal projection and
   ``h`` the gradient with respect to ``u`` (no ``u`` term where the
   variance floor is active). Instantiated gradients are projected
   explicitly, or, where a layer has fewer output positions than kernel
   inputs, ``|P h|^2 = |h|^2 - (1.h)^2/n - (u.h)^2`` with ``1.h`` and
   ``u.h = gain * dL/dgain`` summed over the outputs; ghost norms use
   centred patches, which give ``|(I - 11^T/n) h|^2``, minus ``(u.h)^2``.

2. **Clip factors** ``c_i = w_i min(1, C/||g_i||)`` from the summed squares.

3. **The clipped sum** ``sum_i c_i grad_i`` per variable: from the
   instantiated gradients, or with one ordinary weight-gradient op on the
   rescaled output gradients ``c_i g_i`` (ghost layers); for WS kernels the
   standardisation's VJP is then applied once, to the sum.

No per-example backward pass is run and the model is not rebuilt: the
forward pass replays the Keras functional graph with TF-Privacy's
``gradient_clipping_utils.model_forward_pass`` (the traversal its fast
clipping uses). Covered layers: Conv2D, WSConv2D, Dense and
GroupNormalization; a model with any other trainable layer is refused
(``unsupported_layers``), and the ``loop`` strategy handles it.
"""

from typing import NamedTuple, Optional

import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.fast_gradient_clipping import (
    gradient_clipping_utils)

from prifa_tf.errors import UnsupportedLayerError
from prifa_tf.models import group_norm
from prifa_tf.models import ws_conv
from prifa_tf.privacy import clipping

# "auto": per conv layer, the cheaper of instantiation and ghost norm;
# "never"/"always" force one (tests exercise both paths).
GHOST_MODES = ("auto", "never", "always")
# How instantiated conv layers form per-example kernel gradients:
#   "unstacked": one ungrouped Conv2DBackpropFilter per example;
#   "patches": extracted patches times output gradients, one batched matmul;
#   "auto": "unstacked" for a static batch of at most _MAX_UNSTACKED examples
#     on CPU (the graph runs the ops in parallel; fastest there), "patches"
#     otherwise (larger or unknown batches, GPUs).
# A grouped Conv2DBackpropFilter (the examples as groups) is deliberately not
# used: only oneDNN's CPU kernel implements it, so it fails on hosts (and
# builds) where oneDNN is off, e.g. AVX2-only CPUs (docs/sharp_edges.md).
INSTANTIATE_MODES = ("auto", "unstacked", "patches")
_MAX_UNSTACKED = 64
# Cost model of the Gram methods: one float copied by an elementwise op
# costs about this many multiply-adds (estimated from CPU profiles).
_PASS_COST = 8


# ------------------------------------------------------------- registry --
# One rule class per layer type. A rule has ``check(layer)`` (raise
# UnsupportedLayerError for configurations it does not cover), ``forward(
# layer, a, views, mode) -> (z, taps)`` (the layer's pre-activation output
# and what its backward needs), and is built as ``rule(layer, a, taps, g,
# n, views, instantiate)`` from the output gradient g, exposing
# ``sq_norms`` [n] and ``clipped_sums(factors) -> {variable ref: sum}``.
_RULES = {}


def register(*layer_types):
  """Class decorator: the rule for exactly these layer types.

  Subclasses are not covered by their parent's rule: their ``call`` may
  compute something else, so ``auto`` sends them to ``loop``.
  """
  def add(rule):
    for layer_type in layer_types:
      _RULES[layer_type] = rule
    return rule
  return add


def _rule(layer):
  return _RULES.get(type(layer))


# ---------------------------------------------------------- Keras internals --
# The two private Keras APIs this module relies on.
def _leaf_layers(model):
  """Every layer of ``model`` that holds no sub-layers."""
  for layer in model._flatten_layers(include_self=False):  # pylint: disable=protected-access
    if not list(layer._flatten_layers(include_self=False)):  # pylint: disable=protected-access
      yield layer


def _call_count(layer) -> int:
  """How many times the model's graph calls ``layer``."""
  return len(getattr(layer, "_inbound_nodes", ()))


class _ConvTaps(NamedTuple):
  """What a conv layer's forward keeps for its backward.

  Attributes:
    ghost: whether the layer takes the ghost norm (else instantiation).
    unscaled: WS layers whose gain gradient comes from outputs: the conv
      with the standardised kernel u, before the gain (else None).
    standardization: the WS kernel's ``_Standardization`` (None: plain
      Conv2D).
  """
  ghost: bool
  unscaled: Optional[tf.Tensor]
  standardization: Optional["_Standardization"]


class _GroupStats(NamedTuple):
  """Per row and group [rows, groups, 1]: the mean and 1 / deviation."""
  mean: tf.Tensor
  inv: tf.Tensor


def _formed_clipped_sums(grads, factors):
  """Clipped sums of per-example gradients that were formed."""
  return {ref: _weighted_sum(factors, g) for ref, g in grads.items()}


def _per_example(t, n):
  """[n * views, ..., c] -> [n, positions, c]: an example's rows together."""
  return tf.reshape(t, tf.concat([[n, -1], tf.shape(t)[-1:]], 0))


def _weighted_sum(factors, t):
  """sum_i factors[i] * t[i]."""
  return tf.tensordot(factors, t, axes=1)


class _Standardization:
  """u = (w - mean) / s per output channel, s^2 = max(fan_in var, eps).

  The WSConv2D kernel is ``u * gain`` (models.ws_conv). ``u`` has unit norm
  per channel while the floor is inactive (``free`` = 1), and the VJP of
  w -> u is the projection ``(h - mean(h) - free * u (u . h)) / s``.
  """

  def __init__(self, kernel):
    mean, spread = ws_conv.kernel_moments(kernel)
    # The layer's formula, so u is the kernel the forward pass used.
    self.u = ws_conv.standardize_with_moments(kernel, mean, spread, 1.0)
    spread = tf.reshape(spread, [-1])
    self.s2 = tf.maximum(spread, ws_conv.WS_EPS)
    self.free = tf.cast(spread > ws_conv.WS_EPS, kernel.dtype)

  def per_example_sq(self, grads, gain):
    """|P h_i|^2 per example and channel (times s^2), and dL_i/dgain.

    Args:
      grads: [n, kh, kw, cin, cout] gradients w.r.t. the kernel the conv
        used, ``u * gain``; h = gain * grads is the gradient w.r.t. u.
      gain: [cout].

    The projection is formed explicitly (centre, then remove the part along
    the unit vector u), so no large terms cancel.
    """
    cout = grads.shape[-1]
    grads = tf.reshape(grads, [tf.shape(grads)[0], -1, cout])  # One axis
    u = tf.reshape(self.u, [-1, cout])                        # to reduce.
    centred = grads - tf.reduce_mean(grads, axis=1, keepdims=True)
    dgain = tf.reduce_sum(centred * u, axis=1)
    along_u = u * (self.free * dgain)[:, None, :]
    sq = tf.square(gain) * tf.reduce_sum(
        tf.math.squared_difference(centred, along_u), axis=1)
    return sq, dgain

  def per_example_sq_from_stats(self, grads, sums, dgain, gain):
    """As per_example_sq, with the statistics given (read from the outputs).

    Args:
      grads: [n, kh, kw, cin, cout] gradients w.r.t. ``u * gain``.
      sums: [n, cout], each channel's sum of ``grads``.
      dgain: [n, cout], u . grads = dL/dgain.
      gain: [cout].

    ``|P h|^2 = |h|^2 - (1.h)^2 / k - (u.h)^2`` (1/sqrt(k) and u are
    orthonormal): one pass over ``grads``. The subtraction cancels where
    a gradient lies mostly along 1 or u; the result is floored at 0 later.
    """
    k = float(np.prod(grads.shape[1:4]))
    total = tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])
    return tf.square(gain) * (total - tf.square(sums) / k -
                              self.free * tf.square(dgain))

  def vjp(self, h):
    """The gradient w.r.t. the raw kernel, given h = dL/du."""
    centred = h - tf.reduce_mean(h, axis=[0, 1, 2])
    along_u = self.free * tf.reduce_sum(self.u * h, axis=[0, 1, 2])
    return (centred - self.u * along_u) * tf.math.rsqrt(self.s2)


@register(tf.keras.layers.Conv2D, ws_conv.WSConv2D)
class _Conv:
  """Conv2D and WSConv2D (channels_last, ungrouped)."""

  @staticmethod
  def check(layer):
    if layer.data_format != "channels_last" or layer.groups != 1:
      raise UnsupportedLayerError(
          f"{layer.name}: only channels_last, ungrouped Conv2D is covered")

  @staticmethod
  def _use_ghost(layer, a, views, mode):
    """Mixed ghost clipping: the cheaper of ghost norm and instantiation.

    Per example, the patch-Gram ghost norm costs P^2 (k + cout)
    multiply-adds against P k cout to instantiate. The rule keeps the
    patch-Gram count even where ``_raw_gram`` makes the Gram cheaper: a
    ghost layer also pays a batch weight-gradient op for its clipped sum,
    and WRN-16-4's second stage, ghost by the raw-Gram count, ran slower
    that way on CPU (benchmarks/per_example_throughput.py).
    """
    if mode != "auto":
      return mode == "always"
    positions, k, cout = _Conv._sizes(layer, a, views)
    return positions * (k + cout) < k * cout

  @staticmethod
  def _sizes(layer, a, views):
    """Per example: output positions (all views), kernel inputs k, cout."""
    kh, kw, cin, cout = layer.kernel.shape
    out_hw = layer.compute_output_shape(a.shape)[1:3]
    return views * int(np.prod(out_hw)), kh * kw * cin, cout

  @staticmethod
  def _ws_stats_from_outputs(layer, a, views):
    """Whether an instantiated WS layer takes its statistics from outputs.

    The statistics are each channel's gradient sum and component along u,
    from output-sized tensors rather than the per-example kernel gradients.

    Either way costs a few elementwise passes, over the outputs (positions
    x cout per example) or over the kernel gradients (k x cout): the
    smaller wins (WRN-16-4's later stages at K=1).
    """
    positions, k, _ = _Conv._sizes(layer, a, views)
    return positions < k

  @staticmethod
  def forward(layer, a, views, mode):
    ghost = _Conv._use_ghost(layer, a, views, mode)
    def conv(kernel):
      return tf.nn.conv2d(a, kernel, [1, *layer.strides, 1],
                          layer.padding.upper(),
                          dilations=list(layer.dilation_rate))
    unscaled = standardization = None
    if isinstance(layer, ws_conv.WSConv2D):
      standardization = _Standardization(layer.kernel)
      u = standardization.u
      if ghost or _Conv._ws_stats_from_outputs(layer, a, views):
        # unscaled = conv(a, u) gives dL/dgain_c = sum_p unscaled_pc g_pc.
        unscaled = conv(u)
        z = unscaled * layer.gain
      else:
        z = conv(u * layer.gain)
    else:
      z = conv(layer.kernel)
    if layer.use_bias:
      z = tf.nn.bias_add(z, layer.bias)
    return z, _ConvTaps(ghost, unscaled, standardization)

  def __init__(self, layer, a, taps, g, n, views, instantiate):
    self.layer, self.a, self.n, self.views = layer, a, n, views
    self.instantiate = instantiate
    self.ghost, self.std = taps.ghost, taps.standardization
    self.is_ws = self.std is not None
    kh, kw, cin, _ = layer.kernel.shape
    self.k = kh * kw * cin
    gz = _per_example(g, n)                            # [n, P, cout]
    unscaled = taps.unscaled
    if unscaled is not None:  # z = gain * unscaled + b.
      self.dgain = tf.reduce_sum(_per_example(unscaled, n) * gz, axis=1)
    if self.ghost:
      # In h-space for WS kernels: the gradient w.r.t. u.
      self.g = g * layer.gain if self.is_ws else g
      sq = self._ghost_sq()
      if self.is_ws:  # Minus the part along u (u . h = gain * dL/dgain).
        sq -= self.std.free * tf.square(self.dgain * layer.gain)
    else:
      # Gradients w.r.t. the kernel the conv used (standardised x gain).
      self.per_example = self._instantiate(a, g)       # [n, kh, kw, cin, co]
      if unscaled is not None:  # WS, statistics from output-sized tensors.
        sq = self.std.per_example_sq_from_stats(
            self.per_example, self._kernel_grad_sums(gz), self.dgain,
            layer.gain)
      elif self.is_ws:
        sq, self.dgain = self.std.per_example_sq(self.per_example, layer.gain)
      else:
        sq = tf.reduce_sum(tf.square(self.per_example), axis=[1, 2, 3])
    # Per example and output channel: the squared norm of the gradient
    # w.r.t. the raw kernel (times s^2 for WS kernels).
    if self.is_ws:
      sq = tf.maximum(sq, 0.0) / self.std.s2
    self.sq_norms = tf.reduce_sum(sq, axis=1)
    if layer.use_bias:
      self.dbias = tf.reduce_sum(gz, axis=1)
      self.sq_norms += tf.reduce_sum(tf.square(self.dbias), axis=1)
    if self.is_ws:
      self.sq_norms += tf.reduce_sum(tf.square(self.dgain), axis=1)

  def _patches(self):
    kh, kw = self.layer.kernel_size
    if (kh, kw) == (1, 1) and tuple(self.layer.strides) == (1, 1):
      return self.a
    return tf.image.extract_patches(
        self.a, sizes=[1, kh, kw, 1], strides=[1, *self.layer.strides, 1],
        rates=[1, *self.layer.dilation_rate, 1],
        padding=self.layer.padding.upper())

  def _backprop_filter(self, a, g):
    """The (ungrouped) kernel gradient of the rows ``a`` given ``g``."""
    return tf.compat.v1.nn.conv2d_backprop_filter(
        a, self.layer.kernel.shape, g, [1, *self.layer.strides, 1],
        self.layer.padding.upper(), dilations=[1, *self.layer.dilation_rate, 1])

  def _instantiate(self, a, g):
    """Per-example kernel gradients [n, kh, kw, cin, cout].

    See INSTANTIATE_MODES for the routes.
    """
    if instantiation_route(self.n, self.instantiate) == "unstacked":
      rows = self.views
      return tf.stack([
          self._backprop_filter(a[i * rows:(i + 1) * rows],
                                g[i * rows:(i + 1) * rows])
          for i in range(self.n)])
    patches = _per_example(self._patches(), self.n)    # [n, P, k]
    grads = tf.matmul(patches, _per_example(g, self.n), transpose_a=True)
    return tf.reshape(grads, tf.concat([[-1], self.layer.kernel.shape], 0))

  def _ghost_sq(self):
    """Per example and output channel, sum_pq (a_p . a_q)(g_pc g_qc).

    For WS kernels the Gram is of centred patches, which gives the squared
    norm of the centred kernel gradient (I - 11^T/n) h directly.
    """
    gram = self._raw_gram() if self._raw_gram_is_cheaper() else (
        self._patch_gram())                            # [n, P, P]
    g = _per_example(self.g, self.n)                   # [n, P, cout]
    return tf.reduce_sum(g * tf.matmul(gram, g), axis=1)

  def _patch_gram(self):
    """The Gram of the extracted patches (centred for WS kernels)."""
    p = _per_example(self._patches(), self.n)          # [n, P, k]
    if self.is_ws:
      p -= tf.reduce_mean(p, axis=2, keepdims=True)
    return tf.matmul(p, p, transpose_b=True)

  def _geometry(self):
    """Per spatial axis: (pad before, pad after, outputs), as TF pads."""
    out = []
    for size, k, stride, rate in zip(
        self.a.shape[1:3], self.layer.kernel_size, self.layer.strides,
        self.layer.dilation_rate):
      span = (k - 1) * rate + 1
      if self.layer.padding == "valid":
        out.append((0, 0, (size - span) // stride + 1))
        continue
      outputs = -(-size // stride)
      total = max((outputs - 1) * stride + span - size, 0)
      out.append((total // 2, total - total // 2, outputs))
    return out

  def _raw_gram_is_cheaper(self):
    """Whether the raw Gram takes fewer multiply-adds than the patch Gram.

    Per example, copies (windows, extracted patches) counted at
    ``_PASS_COST`` each. Needs the spatial shape at trace time.
    """
    if None in self.a.shape[1:3]:
      return False
    (bh, ah, ho), (bw, aw, wo) = self._geometry()
    h, w, cin = self.a.shape[1:]
    padded = self.views * (h + bh + ah) * (w + bw + aw)
    positions = self.views * ho * wo
    taps = int(np.prod(self.layer.kernel_size))
    raw = padded**2 * cin + _PASS_COST * taps * positions**2
    return raw < positions**2 * self.k + _PASS_COST * positions * self.k

  def _raw_gram(self):
    """The patch Gram from the Gram of the padded activations.

    Patch p holds the padded activations at p * stride + t * dilation for
    each kernel tap t, so ``patch_p . patch_q = sum_t A[p + t, q + t]`` with
    ``A`` the Gram of padded activation rows: no patches are extracted.
    For WS kernels a constant is subtracted from every padded activation
    first (each patch moves along 1, which centring removes, and the Gram
    entries stay small), and the patch sums ``s`` give the centred Gram
    ``patch Gram - s s^T / k``.
    """
    a = tf.pad(self.a, [[0, 0], *self._pads(), [0, 0]])
    if self.is_ws:
      a -= tf.reduce_mean(a, axis=[1, 2, 3], keepdims=True)
    hp, wp = a.shape[1:3]
    rows = _per_example(a, self.n)                     # [n, V hp wp, cin]
    gram = tf.reshape(tf.matmul(rows, rows, transpose_b=True),
                      [-1, self.views, hp, wp, self.views, hp, wp])
    every = slice(None)
    patch_gram = tf.add_n([gram[every, every, y, x, every, y, x]
                           for y, x in self._windows()])
    (_, _, ho), (_, _, wo) = self._geometry()
    positions = self.views * ho * wo
    patch_gram = tf.reshape(patch_gram, [-1, positions, positions])
    if self.is_ws:
      s = self._patch_sums(tf.reduce_sum(a, axis=3))
      patch_gram -= s[:, :, None] * s[:, None, :] / float(self.k)
    return patch_gram

  def _pads(self):
    """[[before, after]] for the two spatial axes, as the layer pads."""
    return [list(axis[:2]) for axis in self._geometry()]

  def _windows(self):
    """Per kernel tap, the padded input's (rows, cols) that it reads."""
    (_, _, ho), (_, _, wo) = self._geometry()
    (sh, sw), (rh, rw) = self.layer.strides, self.layer.dilation_rate
    kh, kw = self.layer.kernel_size
    return [(slice(i * rh, i * rh + (ho - 1) * sh + 1, sh),
             slice(j * rw, j * rw + (wo - 1) * sw + 1, sw))
            for i in range(kh) for j in range(kw)]

  def _patch_sums(self, plane):
    """Each patch's sum of entries, [n, positions].

    Args:
      plane: [rows, hp, wp], the padded inputs summed over channels.
    """
    hp, wp = plane.shape[1:3]
    plane = tf.reshape(plane, [-1, self.views, hp, wp])
    s = tf.add_n([plane[:, :, y, x] for y, x in self._windows()])
    return tf.reshape(s, [self.n, -1])

  def _kernel_grad_sums(self, gz):
    """Sum over (kh, kw, cin) of each example's kernel gradient, [n, cout].

    The kernel gradient is sum_p patch_p g_p^T, so its sum over a channel
    is sum_p (sum of patch_p) g_pc: no kernel-sized tensor is read.
    """
    plane = tf.pad(tf.reduce_sum(self.a, axis=3), [[0, 0], *self._pads()])
    s = self._patch_sums(plane)                        # [n, P]
    return tf.squeeze(tf.matmul(s[:, None, :], gz), axis=1)

  def clipped_sums(self, factors):
    layer = self.layer
    if self.ghost:
      scaled = self.g * tf.repeat(factors, self.views)[:, None, None, None]
      kernel_sum = self._backprop_filter(self.a, scaled)
    else:
      kernel_sum = _weighted_sum(factors, self.per_example)
      if self.is_ws:
        kernel_sum *= layer.gain  # To h-space.
    out = {}
    if self.is_ws:
      out[layer.kernel.ref()] = self.std.vjp(kernel_sum)
      out[layer.gain.ref()] = _weighted_sum(factors, self.dgain)
    else:
      out[layer.kernel.ref()] = kernel_sum
    if layer.use_bias:
      out[layer.bias.ref()] = _weighted_sum(factors, self.dbias)
    return out


@register(tf.keras.layers.Dense)
class _Dense:
  """Dense: per-example gradients are small outer products; formed."""

  @staticmethod
  def check(layer):
    del layer

  @staticmethod
  def forward(layer, a, views, mode):
    del views, mode
    z = tf.tensordot(a, layer.kernel, [[a.shape.rank - 1], [0]])
    if layer.use_bias:
      z = z + layer.bias
    return z, None

  def __init__(self, layer, a, taps, g, n, views, instantiate):
    del taps, views, instantiate
    self.layer = layer
    gz = _per_example(g, n)
    self.grads = {layer.kernel.ref(): tf.einsum(
        "nvi,nvo->nio", _per_example(a, n), gz)}
    if layer.use_bias:
      self.grads[layer.bias.ref()] = tf.reduce_sum(gz, axis=1)
    self.sq_norms = clipping.per_example_squared_norms(
        list(self.grads.values()))

  def clipped_sums(self, factors):
    return _formed_clipped_sums(self.grads, factors)


@register(tf.keras.layers.GroupNormalization, group_norm.GroupNorm)
class _GroupNorm:
  """GroupNormalization: dgamma = sum g * x_hat, dbeta = sum g.

  ``x_hat`` is never stored: per row, sum_p g x_hat = inv * (sum_p g x -
  mean * sum_p g) with the group's mean and inverse deviation.
  """

  @staticmethod
  def check(layer):
    if layer.axis not in (-1, 3):
      raise UnsupportedLayerError(
          f"{layer.name}: GroupNormalization is covered on the last axis only")

  @staticmethod
  def forward(layer, a, views, mode):
    del views, mode
    shape = tf.shape(a)
    groups, channels = layer.groups, a.shape[-1]
    grouped = tf.reshape(a, tf.concat(
        [shape[:-1], [groups, channels // groups]], 0))
    axes = list(range(1, grouped.shape.rank))
    axes.remove(grouped.shape.rank - 2)  # Statistics per row and group.
    count = tf.cast(tf.reduce_prod(tf.gather(tf.shape(grouped), axes)),
                    a.dtype)
    mean = tf.reduce_sum(grouped, axis=axes, keepdims=True) / count
    var = tf.reduce_sum(tf.math.squared_difference(grouped, mean), axis=axes,
                        keepdims=True) / count
    inv = tf.math.rsqrt(var + layer.epsilon)
    scale = inv * tf.reshape(layer.gamma, [groups, -1]) if layer.scale else inv
    offset = -mean * scale
    if layer.center:
      offset += tf.reshape(layer.beta, [groups, -1])
    y = tf.reshape(grouped * scale + offset, shape)
    def stats(t):
      return tf.reshape(t, [-1, groups, 1])  # pylint: disable=g-long-lambda
    return y, _GroupStats(stats(mean), stats(inv))

  def __init__(self, layer, a, taps, g, n, views, instantiate):
    del views, instantiate
    self.layer = layer
    spatial = list(range(1, g.shape.rank - 1))
    g_sum = tf.reduce_sum(g, axis=spatial)                     # [rows, c]
    self.grads = {}
    if layer.scale:
      mean, inv = taps.mean, taps.inv                          # [rows, G, 1]
      g_x = tf.reduce_sum(g * a, axis=spatial)
      def grouped(t):
        return tf.reshape(t, [-1, layer.groups, t.shape[-1] // layer.groups])
      dgamma = tf.reshape(inv * (grouped(g_x) - mean * grouped(g_sum)),
                          tf.shape(g_x))
      self.grads[layer.gamma.ref()] = tf.reduce_sum(
          _per_example(dgamma, n), axis=1)
    if layer.center:
      self.grads[layer.beta.ref()] = tf.reduce_sum(
          _per_example(g_sum, n), axis=1)
    self.sq_norms = clipping.per_example_squared_norms(
        list(self.grads.values()))

  def clipped_sums(self, factors):
    return _formed_clipped_sums(self.grads, factors)


def _gpu_visible():
  return bool(tf.config.list_physical_devices("GPU"))


def instantiation_route(n, mode="auto", gpu=None):
  """The route ("unstacked" or "patches") for ``n`` examples (int or tensor).

  Args:
    n: examples in the physical batch: a Python int when static.
    mode: one of INSTANTIATE_MODES; "unstacked" needs a static ``n``.
    gpu: whether a GPU is visible (default: looked up).
  """
  if mode not in INSTANTIATE_MODES:
    raise ValueError(
        f"instantiate must be one of {INSTANTIATE_MODES}; got {mode!r}")
  static = isinstance(n, int)
  if mode == "unstacked" and not static:
    raise ValueError("instantiate='unstacked' needs a static batch size.")
  if mode != "auto":
    return mode
  if gpu is None:
    gpu = _gpu_visible()
  return ("unstacked" if static and n <= _MAX_UNSTACKED and not gpu
          else "patches")


def unsupported_layers(model):
  """Trainable layers this strategy cannot handle, described (empty if none)."""
  if not gradient_clipping_utils.has_internal_compute_graph(model):
    return [f"{model.name} (not a functional Keras model)"]
  bad = []
  owners = {}  # variable -> the first layer that holds it
  for layer in _leaf_layers(model):
    if not layer.trainable_weights:
      continue
    tied = []
    for v in layer.trainable_weights:
      owner = owners.setdefault(v.ref(), layer.name)
      if owner != layer.name:
        tied.append(f"{v.name} with {owner}")
    if tied:
      # Each layer's squared norm would be added separately, while the
      # tied variable's per-example gradient is the sum of both layers':
      # the norm would be understated (up to sqrt(k) C for k ties).
      bad.append(f"{layer.name} (shares variables: {', '.join(tied)})")
      continue
    rule = _rule(layer)
    if rule is None:
      bad.append(f"{layer.name} ({type(layer).__name__})")
      continue
    calls = _call_count(layer)
    if calls > 1:
      # Its per-call gradients add before the norm is taken: per-call
      # squared norms would understate the example's sensitivity.
      bad.append(f"{layer.name} (called {calls} times: shared weights)")
      continue
    try:
      rule.check(layer)
    except UnsupportedLayerError as e:
      bad.append(str(e))
  return bad


def supports(model) -> bool:
  return not unsupported_layers(model)


def check_supported(model) -> None:
  """Raises UnsupportedLayerError naming the layers that are not covered."""
  bad = unsupported_layers(model)
  if bad:
    raise UnsupportedLayerError(
        "per_example='per_layer' does not cover these trainable layers: " +
        ", ".join(bad) + ". Use per_example='loop' (any model).")


def _forward_with_taps(model, x, tape, views, ghost):
  """Replays the model, watching each covered layer's pre-activation output.

  Returns the logits and, per covered layer call, (rule, layer, input,
  the rule's taps, output).
  """
  taps = []

  def generator(layer, args, kwargs):
    rule = _rule(layer) if layer.trainable_weights else None
    if rule is None:
      return layer(*args, **kwargs), None
    if kwargs or len(args) != 1:
      raise UnsupportedLayerError(
          f"{layer.name}: expected one positional input")
    if any(tap[1] is layer for tap in taps):
      raise UnsupportedLayerError(
          f"{layer.name} is called more than once (shared weights); "
          "per_layer would understate its sensitivity. Use "
          "per_example='loop'.")
    z, kept = rule.forward(layer, args[0], views, ghost)
    tape.watch(z)  # The backward pass will be asked for dL/dz.
    taps.append((rule, layer, args[0], kept, z))
    activation = getattr(layer, "activation", None)
    return (activation(z) if activation is not None else z), None

  logits, _ = gradient_clipping_utils.model_forward_pass(model, x, generator)
  return logits, taps


def clipped_sum_per_layer(model, loss_fn, x, y, weights, views,
                          l2_norm_clip, ghost="auto", instantiate="auto"):
  """The ``per_layer`` strategy (see privacy.per_example for the contract).

  Args:
    model: functional Keras model whose trainable layers are all covered.
    loss_fn: per-row loss ``loss_fn(labels, logits) -> [rows]``.
    x: [n * views, ...] inputs, an example's views contiguous.
    y: [n * views] labels.
    weights: [n] example weights (0 for padding).
    views: rows per example; an example's loss is the mean over its views.
    l2_norm_clip: C.
    ghost: one of GHOST_MODES.
    instantiate: one of INSTANTIATE_MODES.

  Returns:
    (clipped sums aligned with ``model.trainable_variables``, norms [n],
    losses [n], logits [n, classes] of each example's first view).
  """
  if ghost not in GHOST_MODES:
    raise ValueError(f"ghost must be one of {GHOST_MODES}; got {ghost!r}")
  check_supported(model)
  # Static when the batch shape is (the unstacked per-example ops need it).
  n = x.shape[0] // views if x.shape[0] is not None else (
      tf.shape(x)[0] // views)
  instantiation_route(n, instantiate)  # Checks the mode early.
  with tf.GradientTape() as tape:
    logits, taps = _forward_with_taps(model, x, tape, views, ghost)
    losses = tf.reduce_mean(tf.reshape(loss_fn(y, logits), [n, views]),
                            axis=1)
    total = tf.reduce_sum(losses)
  output_grads = tape.gradient(total, [tap[-1] for tap in taps])
  layers = [rule(layer, a, kept, g, n, views, instantiate)
            for (rule, layer, a, kept, _), g in zip(taps, output_grads)]
  norms = tf.sqrt(tf.add_n([layer.sq_norms for layer in layers]))
  factors = clipping.clip_factors(norms, l2_norm_clip) * tf.cast(
      weights, norms.dtype)
  sums = {}
  for layer in layers:
    for ref, s in layer.clipped_sums(factors).items():
      sums[ref] = sums[ref] + s if ref in sums else s
  summed = [sums[v.ref()] if v.ref() in sums else tf.zeros_like(v)
            for v in model.trainable_variables]
  return summed, norms, losses, logits[::views]
