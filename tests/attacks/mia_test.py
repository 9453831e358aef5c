"""TF-Privacy attacks on a really overfit model; risk scores keyed by id."""

import tempfile

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf import attacks
from prifa_tf.data import subsets
from prifa_tf.data import tfds_loader
from prifa_tf.data.image_set import ImageSet
from prifa_tf.training import datasets
from prifa_tf.training import evaluation
from tests import fixtures

PLANTED_ID, COPIES = 900_000, 20


def planted_training_set(train):
  """Adds COPIES of a noise image with an arbitrary (wrong) label.

  Nothing in the data supports the label, so only memorisation fits it: the
  copies (ids PLANTED_ID + i) must rank among the riskiest members. (A
  mislabelled copy of a real training image does not work as a plant: it
  conflicts with the original and is fitted worse than typical members.)
  """
  image = np.random.default_rng(7).integers(0, 256, (1, 32, 32, 3),
                                            dtype=np.uint8)
  wrong = 3
  return ImageSet(
      np.concatenate([train.images, np.repeat(image, COPIES, 0)]),
      np.concatenate([train.labels, np.full(COPIES, wrong, np.int32)]),
      np.concatenate([train.ids, PLANTED_ID + np.arange(COPIES)]),
      10)


class MIATest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    fixtures.quiet_tf()
    data_dir = fixtures.require_tfds()
    full = tfds_loader.load_split("cifar10", "train[:2000]", data_dir)
    test = tfds_loader.load_split("cifar10", "test[:400]", data_dir)
    train = subsets.select_ids(full, subsets.stratified_ids(full, 30))
    train = planted_training_set(train)
    data = datasets.RunData(train, None, {"test": test}, "cifar10")
    workdir = tempfile.mkdtemp(prefix="mia_overfit_")
    trainer = fixtures.make_trainer(
        workdir, data=data, private=False, steps=250, batch_size=40,
        physical_batch_size=40, learning_rate=0.05, momentum=0.9)
    trainer.run()
    cls.train, cls.test = train, test
    cls.logits_train = evaluation.predict_logits(trainer.model, train.images,
                                                 "cifar10")
    cls.logits_test = evaluation.predict_logits(trainer.model, test.images,
                                                "cifar10")

  def data(self, order=None):
    order = np.arange(len(self.train)) if order is None else order
    return attacks.MembershipData(
        self.logits_train[order], self.train.labels[order],
        self.train.ids[order], self.logits_test, self.test.labels,
        self.test.ids)

  def test_overfit_model_is_attackable(self):
    self.assertGreater(evaluation.accuracy(self.logits_train,
                                           self.train.labels), 0.9)
    out = attacks.run(self.data(), ["threshold", "lr"])
    self.assertGreater(out["threshold"].auc, 0.7)
    self.assertGreater(out["lr"].auc, 0.6)
    for o in out.values():
      self.assertGreaterEqual(o.wall_time_s, 0.0)
      self.assertGreater(o.epsilon_lower_bound, 0.0)

  def test_each_attack_beats_chance_and_its_shuffled_control(self):
    # Each of TF-Privacy's six attacks on the overfit model, and on a
    # control whose "members" and "non-members" are a random split of the
    # same pooled outputs (membership carries no signal there).
    out = attacks.run(self.data(), attacks.ALL_ATTACKS)
    logits = np.concatenate([self.logits_train, self.logits_test])
    labels = np.concatenate([self.train.labels, self.test.labels])
    ids = np.concatenate([self.train.ids, self.test.ids])
    order = np.random.default_rng(11).permutation(len(ids))
    a, b = order[:len(self.train)], order[len(self.train):]
    control = attacks.run(attacks.MembershipData(
        logits[a], labels[a], ids[a], logits[b], labels[b], ids[b]),
                          attacks.ALL_ATTACKS)
    for name in attacks.ALL_ATTACKS:
      with self.subTest(name):
        self.assertGreater(out[name].auc, 0.6)
        # Trained attacks score a held-out part (about 140 examples), so
        # their AUC on no signal spreads by about +-0.05.
        self.assertLess(abs(control[name].auc - 0.5), 0.12)
        self.assertGreater(out[name].auc, control[name].auc + 0.08)

  def test_scores_are_keyed_by_id(self):
    data = self.data()
    out = attacks.run(data, ["threshold"])
    # TF-Privacy's threshold score is minus the loss: recompute it per id.
    loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
        data.labels_train, data.logits_train).numpy()
    np.testing.assert_allclose(out["threshold"].member_scores, -loss,
                               rtol=1e-4, atol=1e-5)
    # Reordering the rows moves each id's score with it.
    order = np.random.default_rng(0).permutation(len(self.train))
    shuffled = self.data(order)
    by_id = dict(zip(data.ids_train, out["threshold"].member_scores))
    again = attacks.run(shuffled, ["threshold"])["threshold"].member_scores
    for i, s in zip(shuffled.ids_train, again):
      self.assertAlmostEqual(by_id[i], s, places=5)
    probs, _ = attacks.membership_probabilities(data)
    probs2, _ = attacks.membership_probabilities(shuffled)
    np.testing.assert_allclose(dict_values(data.ids_train, probs,
                                           shuffled.ids_train), probs2)

  def test_planted_mislabelled_duplicate_ranks_high(self):
    data = self.data()
    scores = attacks.run(data, ["threshold"])["threshold"].member_scores
    top = attacks.top_risk_ids(data.ids_train, scores, len(scores) // 10)
    planted_in_top = np.isin(PLANTED_ID + np.arange(COPIES), top).mean()
    self.assertGreater(planted_in_top, 0.5)


def dict_values(ids, values, order):
  lookup = dict(zip(ids.tolist(), values.tolist()))
  return np.array([lookup[i] for i in order.tolist()])


if __name__ == "__main__":
  absltest.main()
