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


def amplification(bias_eq2, train_labels, train_male) -> np.ndarray:
  """Eq. 2 oriented towards each attribute's majority gender.

  Eq. 2 is signed towards women: for a women-majority attribute a positive
  value amplifies the imbalance, for a men-majority one a negative value
  does. Flipping the sign of men-majority attributes makes "positive =
  amplified" hold for every attribute (Wang et al.'s bias amplification),
  so the values can be averaged across attributes.
  """
  n_w, n_m = attribute_counts(train_labels, train_male)
  return np.where(n_w >= n_m, 1.0, -1.0) * np.asarray(bias_eq2)


def attribute_report(val_scores, val_labels, test_scores, test_labels,
                     test_male, train_labels, train_male):
  """Per-attribute fairness and utility of a multi-label model.

  Args:
    val_scores, test_scores: [n, L] scores (logits or probabilities).
    val_labels, test_labels, train_labels: [n, L] 0/1 labels.
    test_male, train_male: [n] 1 for men.

  Returns:
    dict of per-attribute arrays, each [L]: ``threshold`` (F1-optimal on
    validation), ``bias`` (Eq. 2), ``amplification`` (Eq. 2 towards the
    majority gender), ``skewness``, ``weighted_ap`` (NaN where the test set
    lacks positives of one gender) and ``majority`` ("women" / "men").
  """
  thresholds = f1_thresholds(val_scores, val_labels)
  pred = np.asarray(test_scores) >= thresholds[None, :]
  eq2 = bias(pred, test_male, train_labels, train_male)
  ap = np.full(len(thresholds), np.nan)
  test_scores, test_labels = np.asarray(test_scores), np.asarray(test_labels)
  for j in range(len(thresholds)):
    try:
      ap[j] = weighted_average_precision(test_scores[:, j], test_labels[:, j],
                                         test_male)
    except ValueError:
      pass
  n_w, n_m = attribute_counts(train_labels, train_male)
  return {"threshold": thresholds, "bias": eq2,
          "amplification": amplification(eq2, train_labels, train_male),
          "skewness": skewness(train_labels, train_male), "weighted_ap": ap,
          "majority": np.where(n_w >= n_m, "women", "men")}
