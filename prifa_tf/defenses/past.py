"""Privacy-aware sparsity tuning (PAST; seed 002, Eqs. 3-4).

- Loss gap: G = | mean loss on members - mean loss on non-members |.
- Privacy sensitivity of parameter θ_i: |∂G/∂θ_i|.
- Adaptive weight, normalised within each parameter tensor M:
  γ_i = |M| · s_i / Σ_{j∈M} s_j, with s = |∂G/∂θ| (held constant: no
  gradient flows through γ).
- Regulariser: R = Σ_i γ_i^α |θ_i|; α = 0 is plain L1.

Only kernels (tensors of rank >= 2: convolutions and dense layers) are
regularised; biases and normalisation scales are left alone.
"""

from typing import List, Sequence

import numpy as np
import tensorflow as tf

_EPS = 1e-12


def regularised_variables(model: tf.keras.Model) -> List[tf.Variable]:
  """The kernels PAST, L1 and L2 act on."""
  return [v for v in model.trainable_variables if len(v.shape) >= 2]


def loss_gap(model, x_members, y_members, x_nonmembers, y_nonmembers,
             training: bool = False) -> tf.Tensor:
  """G: the absolute gap of mean cross-entropy, members vs non-members."""
  def mean_loss(x, y):
    logits = model(x, training=training)
    return tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
        y, logits, from_logits=True))
  return tf.abs(mean_loss(x_members, y_members)
                - mean_loss(x_nonmembers, y_nonmembers))


def privacy_sensitivity(model, variables: Sequence[tf.Variable], x_members,
                        y_members, x_nonmembers, y_nonmembers):
  """(G, [|∂G/∂θ| per variable])."""
  with tf.GradientTape() as tape:
    gap = loss_gap(model, x_members, y_members, x_nonmembers, y_nonmembers)
  grads = tape.gradient(gap, list(variables))
  return gap, [tf.zeros_like(v) if g is None else tf.abs(g)
               for v, g in zip(variables, grads)]


def adaptive_weights(sensitivities: Sequence[tf.Tensor]) -> List[tf.Tensor]:
  """γ per tensor: |M| · s / Σ_M s (1 everywhere when Σ_M s = 0)."""
  out = []
  for s in sensitivities:
    s = tf.stop_gradient(tf.convert_to_tensor(s))
    total = tf.reduce_sum(s)
    size = tf.cast(tf.size(s), s.dtype)
    out.append(tf.where(total > _EPS, size * s / tf.maximum(total, _EPS),
                        tf.ones_like(s)))
  return out


def past_regulariser(variables: Sequence[tf.Variable],
                     gammas: Sequence[tf.Tensor], alpha: float) -> tf.Tensor:
  """R = Σ_i γ_i^α |θ_i| (γ^0 = 1, so α = 0 is L1)."""
  terms = []
  for v, g in zip(variables, gammas):
    weight = tf.ones_like(g) if alpha == 0 else tf.pow(g, alpha)
    terms.append(tf.reduce_sum(tf.stop_gradient(weight) * tf.abs(v)))
  return tf.add_n(terms)


def l1(variables: Sequence[tf.Variable]) -> tf.Tensor:
  return tf.add_n([tf.reduce_sum(tf.abs(v)) for v in variables])


def l2(variables: Sequence[tf.Variable]) -> tf.Tensor:
  return tf.add_n([tf.reduce_sum(tf.square(v)) for v in variables])


def gini_index(variables: Sequence[tf.Variable]) -> float:
  """Hurley & Rickard's Gini index of |θ| (1 = sparsest, 0 = uniform)."""
  c = np.sort(np.concatenate([np.abs(np.asarray(v)).ravel()
                              for v in variables]))
  n = c.size
  if n == 0 or c.sum() == 0:
    return 0.0
  k = np.arange(1, n + 1)
  return float(1 - 2 * np.sum(c / c.sum() * (n - k + 0.5) / n))
