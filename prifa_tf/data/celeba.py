"""CelebA attribute selection (Wang et al. 2020; Hassanpour et al. 2025).

The target is the 39 attributes other than ``Male`` (multi-label); ``Male``
is the protected attribute. Metrics are reported over 34 of them: the five
attributes below lack enough validation/test positives of one gender.
"""

import tensorflow as tf

ALL_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes",
    "Bald", "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair",
    "Blurry", "Brown_Hair", "Bushy_Eyebrows", "Chubby", "Double_Chin",
    "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup", "High_Cheekbones",
    "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair",
    "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace",
    "Wearing_Necktie", "Young")

PROTECTED = "Male"
EXCLUDED_FROM_EVALUATION = ("5_o_Clock_Shadow", "Goatee", "Mustache",
                            "Sideburns", "Wearing_Necktie")
TARGET_ATTRIBUTES = tuple(a for a in ALL_ATTRIBUTES if a != PROTECTED)
EVALUATED_ATTRIBUTES = tuple(
    a for a in TARGET_ATTRIBUTES if a not in EXCLUDED_FROM_EVALUATION)
# Column of each evaluated attribute in the 39-wide target matrix.
EVALUATED_COLUMNS = tuple(TARGET_ATTRIBUTES.index(a)
                          for a in EVALUATED_ATTRIBUTES)


def attribute_matrix(attributes) -> tf.Tensor:
  """Stacks a TFDS ``attributes`` dict into [..., 39] int32 targets."""
  missing = [a for a in TARGET_ATTRIBUTES if a not in attributes]
  if missing:
    raise ValueError(f"CelebA example lacks attributes {missing}.")
  return tf.stack([tf.cast(attributes[a], tf.int32)
                   for a in TARGET_ATTRIBUTES], axis=-1)
