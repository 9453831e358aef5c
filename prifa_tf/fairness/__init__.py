"""Fairness metrics: CIFAR-S bias (Eq. 1), CelebA (Eq. 2), group gaps."""

from prifa_tf.fairness import celeba_bias
from prifa_tf.fairness import group_fairness
from prifa_tf.fairness.skew_bias import domain_accuracies
from prifa_tf.fairness.skew_bias import skew_bias
