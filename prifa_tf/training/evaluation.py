"""Predictions and accuracy of a model on in-memory image sets."""

import numpy as np
import tensorflow as tf

from prifa_tf.data import preprocess


def _predictor(model, dataset):
  """One traced inference function per (model, dataset), reused.

  A new ``tf.function`` per call would retrace the model every time (about
  a second each for the WRNs); the last batch of a set has its own shape,
  hence ``reduce_retracing``.
  """
  cache = model.__dict__.setdefault("_prifa_predictors", {})
  if dataset not in cache:
    @tf.function(reduce_retracing=True, autograph=False)
    def run(x):
      return model(preprocess.standardize(x, dataset), training=False)
    cache[dataset] = run
  return cache[dataset]


def predict_logits(model, images, dataset, batch_size=500) -> np.ndarray:
  """Logits for uint8 images, in batches, inference mode."""
  run = _predictor(model, dataset)
  out = [run(tf.constant(images[i:i + batch_size])).numpy()
         for i in range(0, len(images), batch_size)]
  return np.concatenate(out) if out else np.zeros((0,))


def accuracy(logits, labels) -> float:
  """Top-1 accuracy, or mean per-label accuracy for multi-label data."""
  if labels.ndim == 2:
    return float(np.mean((logits > 0).astype(int) == labels))
  return float(np.mean(np.argmax(logits, axis=-1) == labels))
