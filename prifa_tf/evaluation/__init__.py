"""Evaluation of finished runs: utility, privacy (MIA) and fairness."""

from prifa_tf.evaluation.run_evaluation import evaluate_workdir
from prifa_tf.evaluation.run_evaluation import EvaluationError
from prifa_tf.evaluation.run_evaluation import format_table
