"""Optimisation: logical-batch gradient engine, SAM/DP-SAT, averaging."""

from prifa_tf.optim.averaging import ema_decay
from prifa_tf.optim.averaging import ParameterAverages
from prifa_tf.optim.gradient_engine import GradientEngine
from prifa_tf.optim.optimizers import make_optimizer
from prifa_tf.optim.sharpness import DPSATState
from prifa_tf.optim.sharpness import WeightPerturbation
