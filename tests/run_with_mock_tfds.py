"""Runs a binary with TFDS's mock data: ``run_with_mock_tfds.py N script
flags...`` executes ``script`` as ``__main__`` with its flags, every TFDS
dataset replaced by ``tfds.testing.mock_data`` with N examples per split
(random images and labels). For README commands whose data (CelebA) cannot
be downloaded on these machines."""

import runpy
import sys

import tensorflow_datasets as tfds

if __name__ == "__main__":
  examples, script = int(sys.argv[1]), sys.argv[2]
  sys.argv = [script, *sys.argv[3:]]
  with tfds.testing.mock_data(num_examples=examples,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    runpy.run_path(script, run_name="__main__")
