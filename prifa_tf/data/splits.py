"""Disjoint splits of a whole dataset for attack studies (seed 002).

``six_way`` pools a dataset's train and test splits and cuts them into six
disjoint, equally sized parts: the target's train, test and inference
sets, and the shadow's. Ids of the test split are offset by
``TEST_ID_OFFSET`` so that every pooled example keeps a unique id.
"""

from typing import Dict

import numpy as np

from prifa_tf.data.image_set import ImageSet

TEST_ID_OFFSET = 1_000_000
SIX_PARTS = ("target_train", "target_test", "target_inference",
             "shadow_train", "shadow_test", "shadow_inference")


def pool(train: ImageSet, test: ImageSet) -> ImageSet:
  """The train and test splits as one set (test ids offset)."""
  return ImageSet(np.concatenate([train.images, test.images]),
                  np.concatenate([train.labels, test.labels]),
                  np.concatenate([train.ids, test.ids + TEST_ID_OFFSET]),
                  train.num_classes)


def six_way(data: ImageSet, part_size: int, seed: int = 0
            ) -> Dict[str, ImageSet]:
  """Six disjoint random parts of ``part_size`` examples each."""
  if part_size < 1 or 6 * part_size > len(data):
    raise ValueError(f"Six parts of {part_size} need {6 * part_size} "
                     f"examples; the data has {len(data)}.")
  order = np.random.default_rng(seed).permutation(len(data))
  return {name: data.take(np.sort(order[k * part_size:(k + 1) * part_size]))
          for k, name in enumerate(SIX_PARTS)}
