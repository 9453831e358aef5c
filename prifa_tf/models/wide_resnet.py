"""Wide-ResNet WRN-d-k as used by De et al. (2022) and Hassanpour et al.

Block order (pre-activation, activation before normalisation, as in
jax_privacy's CIFAR WideResNet):

  stem:   3x3 conv (16 channels), no normalisation
  block:  r = relu(x); h = conv3x3(norm(r), stride); h = conv3x3(norm(relu(h)))
          out = h + shortcut, where shortcut = x, or in a group's first block
          1x1 conv(norm'(r), stride) with its own normalisation norm'
          (jax_privacy's ``Block_g_skip_norm``)
  head:   relu -> norm -> global average pool -> dense

Normalisation (group/batch/none) and weight standardisation (on/off) are
switches so that the paper's baseline and every ablation step can be built.
"""

import dataclasses
from typing import Optional

import tensorflow as tf

from prifa_tf.errors import PrivateBatchNormError
from prifa_tf.models import group_norm
from prifa_tf.models import ws_conv

NORMALIZATIONS = ("group", "batch", "none")


@dataclasses.dataclass(frozen=True)
class WRNConfig:
  """Architecture of a Wide-ResNet.

  Attributes:
    depth: total depth d; (d - 4) must be divisible by 6.
    width: widening factor k.
    num_classes: size of the output layer.
    normalization: one of "group", "batch", "none".
    groups: number of GroupNorm groups.
    weight_standardization: use WS-convolutions.
    input_shape: (H, W, C) of the inputs.
  """
  depth: int = 16
  width: int = 4
  num_classes: int = 10
  normalization: str = "group"
  groups: int = 16
  weight_standardization: bool = True
  input_shape: tuple = (32, 32, 3)

  def validate(self, private: bool = False) -> None:
    """Checks the configuration, raising ValueError with a clear message."""
    if self.depth < 10 or (self.depth - 4) % 6:
      raise ValueError(
          f"WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, ...); got "
          f"{self.depth}.")
    if self.width < 1:
      raise ValueError(f"WRN width must be >= 1; got {self.width}.")
    if self.normalization not in NORMALIZATIONS:
      raise ValueError(f"normalization must be one of {NORMALIZATIONS}; got "
                       f"{self.normalization!r}.")
    if self.normalization == "group":
      for c in self.channels():
        if c % self.groups:
          raise ValueError(
              f"GroupNorm with {self.groups} groups needs channel counts "
              f"divisible by {self.groups}; WRN-{self.depth}-{self.width} has "
              f"{c} channels.")
    if private and self.normalization == "batch":
      raise PrivateBatchNormError(
          "BatchNorm mixes statistics across examples, so per-example "
          "gradients (and DP-SGD's guarantee) do not exist for it. Use "
          "normalization='group' or 'none' for private training.")

  def channels(self):
    return (16, 16 * self.width, 32 * self.width, 64 * self.width)

  @property
  def blocks_per_group(self) -> int:
    return (self.depth - 4) // 6

  @property
  def name(self) -> str:
    return f"wrn_{self.depth}_{self.width}"


# Named builds. WRN-10-1 and WRN-16-1 are small variants for CPU runs.
NAMED = {
    "wrn_16_4": dict(depth=16, width=4),
    "wrn_28_10": dict(depth=28, width=10),
    "wrn_16_1": dict(depth=16, width=1),
    "wrn_10_1": dict(depth=10, width=1),
}


def named_config(name: str, **overrides) -> WRNConfig:
  """Returns the WRNConfig of a named build, e.g. ``"wrn_16_4"``."""
  if name not in NAMED:
    raise ValueError(f"Unknown model {name!r}; choose one of {sorted(NAMED)}.")
  return WRNConfig(**{**NAMED[name], **overrides})


def _conv(cfg: WRNConfig, filters, kernel, stride, name):
  cls = (ws_conv.WSConv2D if cfg.weight_standardization
         else tf.keras.layers.Conv2D)
  kwargs = {}
  if not cfg.weight_standardization:
    kwargs["kernel_initializer"] = tf.keras.initializers.VarianceScaling(
        1.0, "fan_in", "normal")
  return cls(filters, kernel, strides=stride, padding="same", use_bias=True,
             name=name, **kwargs)


def _norm(cfg: WRNConfig, name):
  if cfg.normalization == "group":
    return group_norm.GroupNorm(groups=cfg.groups, epsilon=1e-5, name=name)
  if cfg.normalization == "batch":
    return tf.keras.layers.BatchNormalization(name=name)
  return tf.keras.layers.Activation("linear", name=name)


def _pre_activation(cfg, x, name):
  x = tf.keras.layers.ReLU(name=f"{name}_relu")(x)
  return _norm(cfg, f"{name}_norm")(x)


def _block_input(cfg, x, prefix, project):
  """Relu then norm, and with ``project`` the shortcut's own norm.

  The shortcut's norm takes the same relu output (as jax_privacy's skip
  branch).
  """
  r = tf.keras.layers.ReLU(name=f"{prefix}_pre1_relu")(x)
  h = _norm(cfg, f"{prefix}_pre1_norm")(r)
  skip = _norm(cfg, f"{prefix}_proj_norm")(r) if project else None
  return h, skip


def build_wide_resnet(cfg: WRNConfig, private: bool = False,
                      name: Optional[str] = None) -> tf.keras.Model:
  """Builds a functional Keras Wide-ResNet.

  Args:
    cfg: architecture.
    private: whether the model will be trained with DP; refuses BatchNorm.
    name: Keras model name; defaults to ``cfg.name``.

  Returns:
    A ``tf.keras.Model`` mapping images to logits.
  """
  cfg.validate(private=private)
  inputs = tf.keras.Input(shape=cfg.input_shape, name="image")
  x = _conv(cfg, 16, 3, 1, "stem_conv")(inputs)
  strides = (1, 2, 2)
  for g, (filters, stride) in enumerate(zip(cfg.channels()[1:], strides)):
    for b in range(cfg.blocks_per_group):
      prefix = f"group{g + 1}_block{b + 1}"
      block_stride = stride if b == 0 else 1
      h, skip = _block_input(cfg, x, prefix, project=b == 0)
      if b == 0:
        shortcut = _conv(cfg, filters, 1, block_stride,
                         f"{prefix}_proj")(skip)
      else:
        shortcut = x
      h = _conv(cfg, filters, 3, block_stride, f"{prefix}_conv1")(h)
      h = _pre_activation(cfg, h, f"{prefix}_pre2")
      h = _conv(cfg, filters, 3, 1, f"{prefix}_conv2")(h)
      x = tf.keras.layers.Add(name=f"{prefix}_add")([shortcut, h])
  x = _pre_activation(cfg, x, "head")
  x = tf.keras.layers.GlobalAveragePooling2D(name="head_pool")(x)
  logits = tf.keras.layers.Dense(cfg.num_classes, name="classifier")(x)
  return tf.keras.Model(inputs, logits, name=name or cfg.name)
