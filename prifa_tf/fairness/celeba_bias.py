"""CelebA fairness: Eq. 2 bias, gender-weighted AP, skewness.

Conventions: ``male`` is 1 for men, 0 for women; per attribute, N_m / N_w
count *training* images of men / women with the attribute, P_m / P_w count
*test* images predicted positive.
"""

import numpy as np
from sklearn import metrics as skm


def attribute_counts(labels, male):
  """(N_w, N_m) per attribute column of a 0/1 label matrix."""
  labels = np.asarray(labels).astype(bool)
  male = np.asarray(male).astype(bool)
  return labels[~male].sum(axis=0), labels[male].sum(axis=0)


def skewness(train_labels, train_male) -> np.ndarray:
  """Majority gender's share of each attribute's positives."""
  n_w, n_m = attribute_counts(train_labels, train_male)
  total = np.maximum(n_w + n_m, 1)
  return np.maximum(n_w, n_m) / total


def bias(pred_positive, test_male, train_labels, train_male) -> np.ndarray:
  """Eq. 2 per attribute: P_w / (P_w + P_m) - N_w / (N_w + N_m).

  Positive values: the model predicts the attribute for women more often
  than the training data has it. Attributes with no predicted positive are
  NaN.
  """
  p_w, p_m = attribute_counts(pred_positive, test_male)
  n_w, n_m = attribute_counts(train_labels, train_male)
  with np.errstate(invalid="ignore", divide="ignore"):
    pred = np.where(p_w + p_m > 0, p_w / (p_w + p_m), np.nan)
    data = n_w / np.maximum(n_w + n_m, 1)
  return pred - data


def weighted_average_precision(scores, labels, male) -> float:
  """Gender-balanced AP of one attribute.

  Positives of men weigh (N_m + N_w) / (2 N_m), positives of women
  (N_m + N_w) / (2 N_w), negatives 1, with N counted on these labels.
  """
  labels = np.asarray(labels).astype(bool)
  male = np.asarray(male).astype(bool)
  n_m, n_w = int(np.sum(labels & male)), int(np.sum(labels & ~male))
  if n_m == 0 or n_w == 0:
    raise ValueError("weighted AP needs positives of both genders.")
  weights = np.ones(len(labels))
  weights[labels & male] = (n_m + n_w) / (2 * n_m)
  weights[labels & ~male] = (n_m + n_w) / (2 * n_w)
  return float(skm.average_precision_score(labels, scores,
                                           sample_weight=weights))


def f1_thresholds(scores, labels) -> np.ndarray:
  """Per attribute, the score threshold maximising F1 (on validation)."""
  scores, labels = np.asarray(scores), np.asarray(labels)
  out = np.zeros(scores.shape[1])
  for j in range(scores.shape[1]):
    prec, rec, thr = skm.precision_recall_curve(labels[:, j], scores[:, j])
    f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
    out[j] = thr[int(np.argmax(f1[:-1]))] if len(thr) else 0.5
  return out
