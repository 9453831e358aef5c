"""Gaussian noise of the Gaussian mechanism, added once per logical batch.

Two generators:

* ``add_gaussian_noise`` (default): TF's stateless Philox generator, keyed
  by the run's secret noise seed and the step. Fast, and reproducible from
  the seed (which is why the seed is a secret).
* ``secure_gaussian_noise`` (``secure_noise=True``): every draw from the OS
  CSPRNG (``os.urandom``), with the floating-point mitigation of Opacus'
  secure mode after Holohan & Braghin (2021): each coordinate is the sum of
  four independent N(0, std^2) draws divided by 2, which fills the gaps that
  a single floating-point Gaussian sample leaves for an attacker to test.
  It cannot be reproduced, so a resumed run's noise differs from an
  uninterrupted one's (both are correct draws).
"""

import os

import numpy as np
import tensorflow as tf

SECURE_DRAWS = 4  # Gaussians summed per coordinate (Opacus' secure mode).


SEED_MODULUS = 2**62  # Keeps the stateless seed's int64 key positive.


def step_seed(secret: int, step: int):
  """The stateless seed of one logical step's noise: (secret, step).

  The Trainer keys every noise draw by this pair, and the step audit
  releases through the same derivation, so a bug here is audited.
  """
  return (int(secret) % SEED_MODULUS, int(step))


def noise_stddev(l2_norm_clip: float, noise_multiplier: float) -> float:
  """Per-coordinate std of the noise added to the *sum*: sigma * C."""
  return float(l2_norm_clip) * float(noise_multiplier)


def add_gaussian_noise(summed_grads, l2_norm_clip, noise_multiplier, seed):
  """Returns ``summed_grads + N(0, (sigma C)^2 I)``.

  Args:
    summed_grads: list of tensors (sum of clipped per-example gradients).
    l2_norm_clip: C.
    noise_multiplier: sigma.
    seed: int tensor [2] for stateless sampling; every variable gets an
      independent stream derived from it.

  Returns:
    List of noised tensors.
  """
  std = noise_stddev(l2_norm_clip, noise_multiplier)
  if std == 0.0:
    return list(summed_grads)
  seeds = tf.random.experimental.stateless_split(
      tf.cast(seed, tf.int64), len(summed_grads))
  return [g + tf.random.stateless_normal(tf.shape(g), seeds[i], stddev=std,
                                         dtype=g.dtype)
          for i, g in enumerate(summed_grads)]


def privatize_sum(sums, l2_norm_clip, noise_multiplier, denominator,
                  draws, seed=None, noise=None):
  """The one release of a logical batch: noise the clipped sum once, scale.

  Both training paths release through here: the Trainer's
  ``GradientEngine`` and the DP-Keras optimizers. The sum must already hold
  every clipped per-example gradient of the logical batch (all physical
  batches, all replicas); this adds ``N(0, (σC)²)`` to it once, divides by
  ``denominator`` and counts the draw.

  Args:
    sums: list of tensors, the accumulated clipped sums (not modified).
    l2_norm_clip: C.
    noise_multiplier: σ (0: no noise, e.g. an equivalence test).
    denominator: the expected logical batch B under Poisson sampling (the
      realised count would depend on the data), else the examples the
      batch held; a scalar or a tensor.
    draws: a counter variable, incremented by one: the number of releases
      is what the accountant composes.
    seed: int tensor [2] of this step's stateless noise (``step_seed``).
    noise: instead of ``seed``, noise drawn outside the graph (the secure
      CSPRNG), one array per sum with std σC.

  Returns:
    The released gradients, ``(sums + noise) / denominator``.
  """
  if (seed is None) == (noise is None):
    raise ValueError("give exactly one of seed and noise.")
  if noise is None:
    noised = add_gaussian_noise(sums, l2_norm_clip, noise_multiplier, seed)
  else:
    noised = [s + tf.cast(z, s.dtype) for s, z in zip(sums, noise)]
  draws.assign_add(1)
  return [g / tf.cast(denominator, g.dtype) for g in noised]


def _urandom_uniform(n: int) -> np.ndarray:
  """N floats uniform in (0, 1), 53 random bits each, from os.urandom."""
  bits = np.frombuffer(os.urandom(8 * n), dtype=np.uint64) >> np.uint64(11)
  return (bits.astype(np.float64) + 0.5) / float(1 << 53)


def _urandom_normal(n: int) -> np.ndarray:
  """N standard normals by Box-Muller on CSPRNG uniforms (float64)."""
  half = (n + 1) // 2
  u1, u2 = _urandom_uniform(half), _urandom_uniform(half)
  radius = np.sqrt(-2.0 * np.log(u1))
  out = np.concatenate([radius * np.cos(2 * np.pi * u2),
                        radius * np.sin(2 * np.pi * u2)])
  return out[:n]


def secure_gaussian_noise(shapes, stddev: float, dtype=np.float32):
  """Noise arrays of ``shapes`` with std ``stddev`` from the OS CSPRNG.

  Each coordinate is (z1 + z2 + z3 + z4) / 2 with zi ~ N(0, stddev^2)
  independent (still N(0, stddev^2)), computed in float64 and rounded once.
  """
  out = []
  for shape in shapes:
    n = int(np.prod(shape))
    z = _urandom_normal(SECURE_DRAWS * n).reshape(SECURE_DRAWS, n).sum(0)
    out.append((z * (stddev / np.sqrt(SECURE_DRAWS))).astype(dtype).reshape(
        shape))
  return out
