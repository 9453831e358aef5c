"""RMIA: scores against a pairwise brute force, and on a membership game."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
from sklearn import metrics as skm

from prifa_tf.attacks import rmia


def brute_force(target_x, ref_x, ref_in, target_z, ref_z, online, a, gamma):
  """The definition, written out pairwise."""
  k, n = ref_x.shape
  out = []
  for i in range(n):
    if online:
      pr_x = ref_x[:, i].mean()
    else:
      outs = [ref_x[j, i] for j in range(k) if not ref_in[j, i]]
      if outs:
        p_out = np.mean(outs)
      else:
        p_in = np.mean([ref_x[j, i] for j in range(k) if ref_in[j, i]])
        p_out = max((p_in - (1 - a)) / a, 0.0)
      pr_x = ((1 + a) * p_out + (1 - a)) / 2
    hits = 0
    for m in range(len(target_z)):
      pr_z = ref_z[:, m].mean() if online else \
          ((1 + a) * ref_z[:, m].mean() + (1 - a)) / 2
      hits += (target_x[i] / pr_x) / (target_z[m] / pr_z) > gamma
    out.append(hits / len(target_z))
  return np.array(out)


def game(n=400, m=300, models=9, effect=0.25, seed=0):
  """Probabilities of n pool examples and m population samples under
  ``models`` models; each trained on a random half of the pool. Examples
  differ a lot in difficulty; training on one raises its probability."""
  rng = np.random.default_rng(seed)
  base_x = rng.beta(2, 2, n)
  base_z = rng.beta(2, 2, m)
  keep = rng.random((models, n)) < 0.5
  def noise(size):
    return rng.normal(0, 0.03, size)
  px = np.clip(base_x + effect * keep * (1 - base_x) +
               noise((models, n)), 1e-4, 1)
  pz = np.clip(base_z + noise((models, m)), 1e-4, 1)
  return px, pz, keep


class RmiaTest(parameterized.TestCase):

  @parameterized.parameters((True, 1.0, 1.0), (False, 0.3, 1.0),
                            (False, 0.7, 2.0), (True, 1.0, 0.5))
  def test_equals_the_definition(self, online, a, gamma):
    rng = np.random.default_rng(1)
    k, n, m = 3, 40, 25
    ref_x = rng.uniform(0.05, 1, (k, n))
    ref_in = rng.random((k, n)) < 0.5
    ref_in[:, 0] = True  # A candidate with no OUT reference.
    tx, tz, rz = (rng.uniform(0.05, 1, n), rng.uniform(0.05, 1, m),
                  rng.uniform(0.05, 1, (k, m)))
    got = rmia.scores(tx, ref_x, ref_in, tz, rz, online=online, a=a,
                      gamma=gamma)
    want = brute_force(tx, ref_x, ref_in, tz, rz, online, a, gamma)
    np.testing.assert_allclose(got, want)
    self.assertTrue(np.all((got >= 0) & (got <= 1)))

  def test_finds_members_where_loss_cannot(self):
    px, pz, keep = game()
    target, refs = 0, np.arange(1, 9)
    member = keep[target]
    s_on = rmia.scores(px[target], px[refs], keep[refs], pz[target], pz[refs],
                       online=True)
    s_off = rmia.scores(px[target], px[refs], keep[refs], pz[target],
                        pz[refs], online=False, a=0.5)
    def auc(s):
      return skm.roc_auc_score(member, s)
    # Example difficulty swamps the raw probability; RMIA divides it out.
    self.assertLess(auc(px[target]), 0.75)
    self.assertGreater(auc(s_on), 0.95)
    self.assertGreater(auc(s_off), 0.9)
    # A model that trained on nothing of the pool: no signal.
    blind = np.clip(rng_base(px, keep) + np.random.default_rng(5).normal(
        0, 0.03, px.shape[1]), 1e-4, 1)
    s_blind = rmia.scores(blind, px[refs], keep[refs], pz[target], pz[refs])
    self.assertAlmostEqual(auc(s_blind), 0.5, delta=0.08)

  def test_calibration_picks_the_best_a_without_the_target(self):
    px, pz, keep = game(seed=3)
    a = rmia.calibrate_offline_a(px[1], keep[1], px[2], keep[2], pz[1],
                                 pz[2])
    aucs = {}
    for g in rmia.A_GRID:
      if g == 0:
        continue
      s = rmia.scores(px[1], px[2][None], keep[2][None], pz[1], pz[2][None],
                      online=False, a=g)
      aucs[g] = skm.roc_auc_score(keep[1], s)
    self.assertEqual(a, max(aucs, key=lambda g: (aucs[g], -g)))

  def test_reference_models(self):
    refs = rmia.reference_models(3, 10, 4, seed=0)
    self.assertLen(refs, 4)
    self.assertNotIn(3, refs)
    np.testing.assert_array_equal(refs, rmia.reference_models(3, 10, 4, 0))
    with self.assertRaisesRegex(ValueError, "only 9"):
      rmia.reference_models(0, 10, 10)
    with self.assertRaisesRegex(ValueError, "disagree"):
      rmia.scores(np.ones(3), np.ones((2, 3)), np.ones((1, 3), bool),
                  np.ones(4), np.ones((2, 4)))

  def test_true_class_probs(self):
    logits = np.array([[0.0, np.log(3.0)], [1000.0, 0.0]])
    np.testing.assert_allclose(rmia.true_class_probs(logits, [1, 0]),
                               [0.75, 1.0])


def rng_base(px, keep):
  """Per-example probability without any training effect (the mean of the
  OUT models), the blind model's expectation."""
  out = ~keep
  return (px * out).sum(0) / np.maximum(out.sum(0), 1)


if __name__ == "__main__":
  absltest.main()
