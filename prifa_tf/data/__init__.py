"""Datasets: TFDS loaders, CIFAR-S skew, CelebA targets, AM, subsets."""

from prifa_tf.data import augment
from prifa_tf.data import celeba
from prifa_tf.data import preprocess
from prifa_tf.data import skewed
from prifa_tf.data import subsets
from prifa_tf.data.image_set import ImageSet
from prifa_tf.data.tfds_loader import DatasetUnavailableError
from prifa_tf.data.tfds_loader import default_data_dir
from prifa_tf.data.tfds_loader import load_split
