"""Membership inference (TF-Privacy) and per-example privacy risk."""

from prifa_tf.attacks.mia import ALL_ATTACKS
from prifa_tf.attacks.mia import ATTACKS
from prifa_tf.attacks.mia import BACKEND_HELP
from prifa_tf.attacks.mia import BACKENDS
from prifa_tf.attacks.mia import headline
from prifa_tf.attacks.mia import MembershipData
from prifa_tf.attacks.mia import membership_probabilities
from prifa_tf.attacks.mia import run
from prifa_tf.attacks.mia import top_risk_ids
