"""With sigma = 0, one DP-SGD step equals TF-Privacy's vectorized optimizer."""

from absl.testing import absltest
from absl.testing import parameterized
import numpy as np
import tensorflow as tf
from tensorflow_privacy.privacy.optimizers import dp_optimizer_keras_vectorized

from prifa_tf.optim import gradient_engine
from prifa_tf.optim import optimizers
from prifa_tf.training import losses
from tests import fixtures

LOSS = losses.softmax_cross_entropy


class TFPrivacyEquivalenceTest(parameterized.TestCase):

  @parameterized.named_parameters(
      ("one_view", 1, 8, 8),
      ("augmult_contiguous_views", 3, 4, 4),
      ("physical_batches", 1, 8, 3))
  def test_one_step_matches(self, views, examples, physical):
    fixtures.quiet_tf()
    clip, lr = 0.5, 0.7
    rng = np.random.default_rng(0)
    x = rng.normal(size=(examples * views, 8, 8, 3)).astype(np.float32)
    y = np.repeat(rng.integers(0, 10, examples), views).astype(np.int32)

    # TF-Privacy: one microbatch per example = its `views` contiguous rows.
    theirs = fixtures.tiny_model(size=8, seed=1)
    opt = dp_optimizer_keras_vectorized.VectorizedDPKerasSGDOptimizer(
        l2_norm_clip=clip, noise_multiplier=0.0, num_microbatches=examples,
        learning_rate=lr)
    with tf.GradientTape(persistent=True) as tape:
      loss = LOSS(tf.constant(y), theirs(tf.constant(x), training=True))
    opt.minimize(loss, theirs.trainable_variables, tape=tape)

    # prifa_tf: clipped sums over physical batches, one finalize, plain SGD.
    ours = fixtures.tiny_model(size=8, seed=1)
    engine = gradient_engine.GradientEngine(
        ours, LOSS, views=views, private=True, l2_norm_clip=clip,
        noise_multiplier=0.0)
    for start in range(0, examples, physical):
      idx = np.arange(start, min(start + physical, examples))
      w = np.ones(physical, np.float32)
      if len(idx) < physical:
        w[len(idx):] = 0
        idx = np.concatenate([idx, np.zeros(physical - len(idx), int)])
      rows = (idx[:, None] * views + np.arange(views)).ravel()
      engine.accumulate(tf.constant(x[rows]), tf.constant(y[rows]),
                        tf.constant(w))
    grads, _ = engine.finalize(examples)
    sgd = optimizers.make_optimizer("sgd", lr)
    sgd.apply_gradients(zip(grads, ours.trainable_variables))

    moved = 0.0
    for a, b, init in zip(ours.trainable_variables,
                          theirs.trainable_variables,
                          fixtures.tiny_model(size=8, seed=1).weights):
      np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
      moved += float(np.abs(a.numpy() - init.numpy()).sum())
    self.assertGreater(moved, 1e-3)  # The step did something.


if __name__ == "__main__":
  absltest.main()
