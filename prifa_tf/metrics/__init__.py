"""Combined privacy-utility-fairness metrics."""

from prifa_tf.metrics.combined import generalization_gap
from prifa_tf.metrics.combined import harmonic_score
from prifa_tf.metrics.combined import harmonic_score_from_terms
from prifa_tf.metrics.combined import p1_score
from prifa_tf.metrics.combined import scale_auc
from prifa_tf.metrics.combined import scale_bias
