"""CIFAR-10S / CIFAR-100S bias (Eq. 1; Wang et al. 2020).

Bias = mean over classes c of max(Gr_c, Col_c) / (Gr_c + Col_c) - 0.5, where
Gr_c and Col_c count GRAY and COLOR test images *predicted* as class c. The
COLOR and GRAY test sets are the same images, so an unbiased model predicts
each class equally often in both domains (bias 0); a model that never
predicts a class in one domain has bias 0.5 for it.

Any CIFAR model can be scored this way, including one trained on unbiased
CIFAR-10/100, so the bias (and the Harmonic Score) is defined for every row
of the paper's figures.
"""

import numpy as np


def skew_bias(pred_color: np.ndarray, pred_gray: np.ndarray,
              num_classes: int) -> float:
  """Eq. 1 from predicted class ids on the COLOR and GRAY test sets.

  Classes never predicted in either domain have no defined ratio and are
  left out of the mean.
  """
  col = np.bincount(np.asarray(pred_color), minlength=num_classes)
  gr = np.bincount(np.asarray(pred_gray), minlength=num_classes)
  total = col + gr
  seen = total > 0
  if not seen.any():
    raise ValueError("no predictions to score.")
  ratio = np.maximum(gr[seen], col[seen]) / total[seen]
  return float(np.mean(ratio - 0.5))


def domain_accuracies(pred_color, pred_gray, labels) -> dict:
  """Accuracy on COLOR, on GRAY, and their mean."""
  color = float(np.mean(np.asarray(pred_color) == labels))
  gray = float(np.mean(np.asarray(pred_gray) == labels))
  return {"color_accuracy": color, "gray_accuracy": gray,
          "mean_accuracy": (color + gray) / 2}
