"""The update rule applied to privatised gradients.

TF-Privacy's DP optimizers are legacy Keras optimizers that cannot take
``kernel_regularizer`` or ``use_ema``. Here privatisation happens before
the optimizer (GradientEngine), so any Keras optimizer applies the update;
weight decay is decoupled (AdamW-style) inside the optimizer.
"""

import tensorflow as tf

OPTIMIZERS = ("sgd", "adam")


def make_optimizer(name="sgd", learning_rate=1.0, momentum=0.0,
                   weight_decay=0.0, nesterov=False):
  """Builds the Keras optimizer that applies the (private) gradient."""
  wd = float(weight_decay) or None
  if name == "sgd":
    return tf.keras.optimizers.SGD(learning_rate=learning_rate,
                                   momentum=momentum, nesterov=nesterov,
                                   weight_decay=wd)
  if name == "adam":
    return tf.keras.optimizers.Adam(learning_rate=learning_rate,
                                    weight_decay=wd)
  raise ValueError(f"optimizer must be one of {OPTIMIZERS}; got {name!r}.")
