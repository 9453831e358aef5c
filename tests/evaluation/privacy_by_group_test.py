"""Membership inference by group through TF-Privacy's SlicingSpec."""

from absl.testing import absltest
import numpy as np
from sklearn import metrics as skm

from prifa_tf import attacks
from prifa_tf.evaluation import privacy_by_group
from tests import fixtures


def data(n=600, seed=0):
  """Members of class 0 are confidently fit (exposed); class 1 members look
  like non-members. Domains are random."""
  rng = np.random.default_rng(seed)

  def side(member):
    y = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, 2))
    boost = 1.0 + (3.0 * (y == 0) if member else 0.0)
    logits[np.arange(n), y] += boost
    return logits, y
  (lt, yt), (ls, ys) = side(True), side(False)
  members = attacks.MembershipData(lt, yt, np.arange(n), ls, ys,
                                   np.arange(n) + n)
  return members, rng.integers(0, 2, n), rng.integers(0, 2, n)


def loss(logits, labels):
  z = logits - logits.max(1, keepdims=True)
  logp = z - np.log(np.exp(z).sum(1, keepdims=True))
  return -logp[np.arange(len(labels)), labels]


class PrivacyByGroupTest(absltest.TestCase):

  def test_groups_metrics_and_disparity(self):
    members, dom_in, dom_out = data()
    risk_in = np.linspace(0, 1, 600)
    risk_out = np.linspace(0, 0.5, 600)
    df = privacy_by_group.evaluate(members, risk_in, risk_out, dom_in,
                                   dom_out, {0: "COLOR", 1: "GRAY"})
    self.assertEqual(set(df["slicing"]), {"all", "class", "correctness",
                                          "domain"})
    self.assertEqual(set(df[df["slicing"] == "domain"]["group"]),
                     {"COLOR", "GRAY"})
    by = df.set_index(["slicing", "group"])
    # Class 0 is exposed, class 1 is not.
    self.assertGreater(by.loc[("class", "0"), "auc"], 0.8)
    self.assertLess(by.loc[("class", "1"), "auc"], 0.65)
    # Each group's AUC is the loss threshold's AUC on that group alone.
    for g in (0, 1):
      m_in, m_out = members.labels_train == g, members.labels_test == g
      scores = -np.r_[loss(members.logits_train[m_in], members.labels_train[
          m_in]), loss(members.logits_test[m_out], members.labels_test[m_out])]
      truth = np.r_[np.ones(m_in.sum()), np.zeros(m_out.sum())]
      self.assertAlmostEqual(by.loc[("class", str(g)), "auc"],
                             skm.roc_auc_score(truth, scores), places=6)
      self.assertEqual(by.loc[("class", str(g)), "members"], m_in.sum())
      # The risk-score distribution of the group's members.
      self.assertAlmostEqual(by.loc[("class", str(g)), "member_risk_mean"],
                             risk_in[m_in].mean())
    d = privacy_by_group.disparities(df)
    classes = df[df["slicing"] == "class"]["auc"]
    self.assertAlmostEqual(d["class"]["auc_disparity"],
                           classes.max() - classes.min())
    self.assertEqual(d["class"]["most_exposed"], "0")
    self.assertIn("domain", d)
    with fixtures.saved_figures() as saved:
      out = self.create_tempdir().full_path
      privacy_by_group.plot(df, out, "test")
    fixtures.assert_figure(self, saved, "privacy_by_group.png",
                           ["group", "all examples"], out_dir=out)

  def test_without_domains(self):
    members, _, _ = data(n=200)
    df = privacy_by_group.evaluate(members, np.zeros(200), np.zeros(200))
    self.assertNotIn("domain", set(df["slicing"]))
    self.assertEqual(privacy_by_group.summary(df)["disparity"].keys(),
                     {"class", "correctness"})


if __name__ == "__main__":
  absltest.main()
