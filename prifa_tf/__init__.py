"""prifa_tf: privacy, utility and fairness of generalization techniques.

A TensorFlow/Keras toolkit reproducing Hassanpour et al. (PETS 2025) on top
of TF-Privacy. Layers, bottom to top: ``models``, ``data``, ``privacy``,
``optim``, ``training``, ``metrics``, ``reporting``; ``experiments/`` holds the
absl binaries.
"""

__version__ = "0.1.0"
