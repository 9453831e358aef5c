"""Training: configs, presets, batching, the resumable trainer."""

from prifa_tf.training import presets
from prifa_tf.training.checkpointing import WorkdirError
from prifa_tf.training.config import ConfigError
from prifa_tf.training.config import TrainConfig
from prifa_tf.training.trainer import train
from prifa_tf.training.trainer import Trainer
from prifa_tf.training.trainer import TrainingDivergedError
