"""Per-row losses: softmax cross-entropy, or sigmoid BCE for multi-label."""

import tensorflow as tf


def softmax_cross_entropy(labels, logits):
  return tf.nn.sparse_softmax_cross_entropy_with_logits(
      labels=tf.cast(labels, tf.int32), logits=logits)


def sigmoid_cross_entropy(labels, logits):
  """Binary cross-entropy with logits, averaged over labels (CelebA)."""
  return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
      labels=tf.cast(labels, logits.dtype), logits=logits), axis=-1)


def for_labels(multilabel: bool):
  return sigmoid_cross_entropy if multilabel else softmax_cross_entropy
