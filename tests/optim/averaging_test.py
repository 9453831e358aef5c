"""EMA warm-up min(d, (1+t)/(10+t)), Polyak mean, weight swapping."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from prifa_tf.optim import averaging


class AveragingTest(absltest.TestCase):

  def test_ema_warmup_formula(self):
    self.assertAlmostEqual(averaging.ema_decay(0.999, 0), 0.1)
    self.assertAlmostEqual(averaging.ema_decay(0.999, 10), 11 / 20)
    self.assertAlmostEqual(averaging.ema_decay(0.9, 10_000), 0.9)

  def test_ema_and_polyak_track_iterates(self):
    v = tf.Variable([0.0, 0.0])
    avg = averaging.ParameterAverages([v], decay=0.95)
    rng = np.random.default_rng(0)
    ema = np.zeros(2)
    iterates = []
    for t in range(40):
      w = rng.normal(size=2)
      v.assign(w)
      iterates.append(w)
      avg.update(t)
      d = min(0.95, (1 + t) / (10 + t))
      ema = d * ema + (1 - d) * w
      np.testing.assert_allclose(avg.ema[0].numpy(), ema, rtol=1e-5, atol=1e-6)
      np.testing.assert_allclose(avg.polyak[0].numpy(),
                                 np.mean(iterates, axis=0), rtol=1e-5,
                                 atol=1e-6)

  def test_swapped_restores(self):
    v = tf.Variable([1.0, 2.0])
    avg = averaging.ParameterAverages([v], decay=0.5)
    v.assign([3.0, 5.0])
    avg.update(0)
    with avg.swapped("ema"):
      np.testing.assert_allclose(v.numpy(), avg.ema[0].numpy())
    np.testing.assert_array_equal(v.numpy(), [3.0, 5.0])
    with self.assertRaisesRegex(ValueError, "weights"):
      with avg.swapped("median"):
        pass


if __name__ == "__main__":
  absltest.main()
