"""Seed 003's measurable objects: patch data, a two-layer CNN, the FNR.

Data ("signal patch + noise patches"): every example of class k has P
patches of dimension d. One patch, at a random position, holds its
class's feature vector (the majority feature μ_k, or the minority feature
ν_k for the under-represented group); the others are Gaussian noise
N(0, σ_p² I). All 2K feature vectors are orthogonal with norm
``feature_norm``.

Model: a two-layer CNN. The first layer has m filters per class, shared
over patches (a 1x1 convolution over patches), then ReLU and a sum over
patches; the second layer maps the K·m activations to K logits and starts
as the per-class average of its class's m filters (the fixed head of the
theory). It is trainable unless frozen.

Feature-to-noise ratio (FNR) of class i and feature j:
  u_{i,j} = (⟨w_{i,r}, v_j⟩ / ‖v_j‖)_{r=1..m}  (the class-i filters'
  projections on the true feature),
  σ_n = η · z · C · √T · √m / B  (the norm that T steps of DP noise of std
  z·C on the summed gradient, divided by B and scaled by the learning rate
  η, give such an m-vector in expectation),
  FNR_{i,j} = ‖u_{i,j}‖₂ / σ_n. Pure noise has FNR ≈ 1; non-private or
  frozen layers have no noise (FNR = ∞, reported as None).
"""

import dataclasses
import math
from typing import Dict, Optional

import numpy as np
import tensorflow as tf


@dataclasses.dataclass
class PatchData:
  """x [n, P, d] float32, y [n], group [n] (0 majority, 1 minority)."""
  x: np.ndarray
  y: np.ndarray
  group: np.ndarray


@dataclasses.dataclass
class SyntheticTask:
  """The feature vectors and sizes of the synthetic task."""
  classes: int = 2
  patches: int = 4
  dim: int = 64
  feature_norm: float = 5.0
  noise_std: float = 1.0
  minority_fraction: float = 0.1
  seed: int = 0

  def features(self) -> np.ndarray:
    """[K, 2, d]: majority and minority feature of every class."""
    if 2 * self.classes > self.dim:
      raise ValueError("Need dim >= 2 * classes orthogonal features.")
    rng = np.random.default_rng(self.seed)
    q, _ = np.linalg.qr(rng.normal(size=(self.dim, 2 * self.classes)))
    return (self.feature_norm * q.T).reshape(self.classes, 2, self.dim
                                             ).astype(np.float32)

  def sample(self, n: int, seed: int,
             minority_fraction: Optional[float] = None) -> PatchData:
    """N examples, classes balanced, a minority share per class."""
    frac = (self.minority_fraction if minority_fraction is None
            else minority_fraction)
    rng = np.random.default_rng(seed)
    y = np.arange(n) % self.classes
    rng.shuffle(y)
    group = (rng.random(n) < frac).astype(np.int32)
    x = rng.normal(0, self.noise_std,
                   (n, self.patches, self.dim)).astype(np.float32)
    where = rng.integers(0, self.patches, n)
    x[np.arange(n), where] = self.features()[y, group]
    return PatchData(x, y.astype(np.int32), group)

  def resample_noise(self, data: PatchData, seed: int) -> PatchData:
    """The same examples with fresh noise patches (augmentation)."""
    rng = np.random.default_rng(seed)
    feats = self.features()[data.y, data.group]
    x = rng.normal(0, self.noise_std, data.x.shape).astype(np.float32)
    where = rng.integers(0, self.patches, len(data.y))
    x[np.arange(len(data.y)), where] = feats
    return PatchData(x, data.y, data.group)


def two_layer_cnn(classes: int, filters: int, patches: int, dim: int,
                  seed: int = 0, init_std: float = 0.01) -> tf.keras.Model:
  """First layer ``filters`` per class over patches, ReLU, sum, head."""
  tf.keras.utils.set_random_seed(seed)
  inputs = tf.keras.Input((patches, dim))
  first = tf.keras.layers.Dense(
      classes * filters, use_bias=False, name="filters",
      kernel_initializer=tf.keras.initializers.RandomNormal(0, init_std))
  h = tf.keras.layers.ReLU()(first(inputs))
  h = tf.keras.layers.Lambda(lambda t: tf.reduce_sum(t, axis=1))(h)
  head = tf.keras.layers.Dense(classes, use_bias=False, name="head")
  logits = head(h)
  model = tf.keras.Model(inputs, logits)
  block = np.zeros((classes * filters, classes), np.float32)
  for k in range(classes):
    block[k * filters:(k + 1) * filters, k] = 1.0 / filters
  head.kernel.assign(block)
  return model


def noise_level(learning_rate: float, noise_multiplier: float,
                l2_norm_clip: float, steps: int, batch_size: int,
                filters: int) -> float:
  """σ_n: expected norm of the DP noise in an m-vector of projections."""
  return (learning_rate * noise_multiplier * l2_norm_clip
          * math.sqrt(steps * filters) / batch_size)


def feature_norms(model: tf.keras.Model, features: np.ndarray,
                  filters: int) -> np.ndarray:
  """[K, 2] ‖u_{i,j}‖₂: class-i filters projected on feature (i, j)."""
  w = model.get_layer("filters").kernel.numpy()  # [d, K*m]
  classes = features.shape[0]
  out = np.zeros((classes, features.shape[1]))
  for i in range(classes):
    wi = w[:, i * filters:(i + 1) * filters]
    for j in range(features.shape[1]):
      v = features[i, j] / np.linalg.norm(features[i, j])
      out[i, j] = np.linalg.norm(v @ wi)
  return out


def fnr(model, features, filters, sigma_n: float) -> Dict[str, list]:
  """FNR per class and group; None where no noise was added."""
  norms = feature_norms(model, features, filters)
  ratio = None if sigma_n <= 0 else (norms / sigma_n).tolist()
  return {"feature_norm": norms.tolist(), "fnr": ratio}
