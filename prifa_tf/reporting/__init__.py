"""Result files and summaries."""

from prifa_tf.reporting.results import read_json
from prifa_tf.reporting.results import write_json_atomic
