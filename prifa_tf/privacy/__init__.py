"""Privacy primitives: clipping, per-example gradients, noise, accounting."""

from prifa_tf.privacy import accounting
from prifa_tf.privacy import clipping
from prifa_tf.privacy import noise
from prifa_tf.privacy import per_example
