"""Wide-ResNet models with weight standardisation and group normalisation."""

from prifa_tf.models.checkpoint_import import CheckpointImportError
from prifa_tf.models.checkpoint_import import load_pretrained
from prifa_tf.models.wide_resnet import build_wide_resnet
from prifa_tf.models.wide_resnet import named_config
from prifa_tf.models.wide_resnet import PrivateBatchNormError
from prifa_tf.models.wide_resnet import WRNConfig
from prifa_tf.models.ws_conv import standardize_kernel
from prifa_tf.models.ws_conv import WSConv2D
