"""Atomic JSON results."""

import json
import os
from unittest import mock

from absl.testing import absltest
import numpy as np

from prifa_tf.reporting import results


class ResultsTest(absltest.TestCase):

  def test_roundtrip_and_cleaning(self):
    path = os.path.join(self.create_tempdir().full_path, "sub", "r.json")
    results.write_json_atomic(path, {"a": np.float32(0.5), "b": np.arange(3),
                                     "c": float("nan"), 1: (1, 2)})
    self.assertEqual(results.read_json(path),
                     {"a": 0.5, "b": [0, 1, 2], "c": "nan", "1": [1, 2]})

  def test_failed_write_keeps_previous_file(self):
    directory = self.create_tempdir().full_path
    path = os.path.join(directory, "r.json")
    results.write_json_atomic(path, {"v": 1})
    with mock.patch.object(json, "dump", side_effect=RuntimeError("disk")):
      with self.assertRaises(RuntimeError):
        results.write_json_atomic(path, {"v": 2})
    self.assertEqual(results.read_json(path), {"v": 1})
    self.assertEqual(os.listdir(directory), ["r.json"])  # No temp left.


if __name__ == "__main__":
  absltest.main()
