"""DP-SAT (Park et al. 2023) and SAM inside the real training loop."""

from absl.testing import absltest
import numpy as np
import tensorflow as tf

from tests import fixtures


class Spy:
  """Records the weights each physical batch sees and each finalize result."""

  def __init__(self, trainer):
    self.trainer = trainer
    self.seen = []      # (step, weights) at every accumulate call
    self.finalized = []  # gradients returned by every finalize
    self.before_apply = []
    self.step = 0

  def install(self):
    t = self.trainer
    engine = t.engine
    acc, fin = engine.accumulate, engine.finalize

    def accumulate(*args):
      self.seen.append((self.step, fixtures.final_weights(t)))
      return acc(*args)

    def finalize(*args, **kwargs):
      grads, stats = fin(*args, **kwargs)
      self.finalized.append([g.numpy().copy() for g in grads])
      return grads, stats
    engine.accumulate, engine.finalize = accumulate, finalize
    opt_apply = t.optimizer.apply_gradients

    def apply(pairs):
      pairs = list(pairs)
      self.before_apply.append([v.numpy().copy() for _, v in pairs])
      out = opt_apply(pairs)
      self.step += 1
      return out
    t.optimizer.apply_gradients = apply


def run_with_spy(workdir, **cfg):
  trainer = fixtures.make_trainer(workdir, **cfg)
  trainer._setup()  # pylint: disable=protected-access
  spy = Spy(trainer)
  spy.install()
  trainer._setup = lambda: None  # pylint: disable=protected-access
  trainer.run()
  return trainer, spy


def perturbed(weights, direction, rho):
  norm = np.sqrt(sum(float(np.sum(d.astype(np.float64) ** 2))
                     for d in direction))
  return [w + rho * d / norm for w, d in zip(weights, direction)]


class DPSATTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    fixtures.quiet_tf()

  def test_perturbation_uses_previous_private_gradient(self):
    rho = 0.05
    # Fixed-size batches, so every step has exactly B/b physical batches.
    trainer, spy = run_with_spy(self.create_tempdir().full_path,
                                sharpness_rho=rho, momentum=0.9, steps=3,
                                sampling="shuffle")
    self.assertLen(spy.finalized, 3)
    by_step = {}
    for step, w in spy.seen:
      by_step.setdefault(step, []).append(w)
    self.assertEqual(sorted(by_step), [0, 1, 2])
    for step, views in by_step.items():
      self.assertLen(views, 2)  # B=8, b=4: two physical batches.
      for w in views[1:]:  # Perturbed once per logical batch, not per b.
        for a, b in zip(w, views[0]):
          np.testing.assert_array_equal(a, b)
    # t = 0: no perturbation.
    for a, b in zip(by_step[0][0], spy.before_apply[0]):
      np.testing.assert_array_equal(a, b)
    # t >= 1: w_t + rho * g~_{t-1} / ||g~_{t-1}|| with g~ the privatised
    # gradient (the one finalize returned), not the momentum update.
    for t in (1, 2):
      expected = perturbed(spy.before_apply[t], spy.finalized[t - 1], rho)
      for a, b in zip(by_step[t][0], expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
      # Restored bit-exactly before the optimizer step.
      moved = sum(float(np.abs(a - b).sum()) for a, b in
                  zip(by_step[t][0], spy.before_apply[t]))
      self.assertGreater(moved, 1e-4)
    # The stored gradient is the last privatised one, checkpointed with it.
    for p, g in zip(trainer.dp_sat.prev_grad, spy.finalized[-1]):
      np.testing.assert_array_equal(p.numpy(), g)
    self.assertFalse(bool(trainer.perturbation.active.numpy()))

  def test_rho_zero_and_vanishing_rho_equal_dpsgd(self):
    weights = {}
    for name, rho in (("dpsgd", 0.0), ("dpsat_tiny", 1e-30)):
      trainer, _ = run_with_spy(self.create_tempdir().full_path,
                                sharpness_rho=rho, steps=3)
      weights[name] = fixtures.final_weights(trainer)
    for a, b in zip(weights["dpsgd"], weights["dpsat_tiny"]):
      np.testing.assert_array_equal(a, b)

  def test_checkpoint_holds_unperturbed_weights(self):
    workdir = self.create_tempdir().full_path
    seen = []

    def callback(trainer, step):
      seen.append(bool(trainer.perturbation.active.numpy()))
    trainer = fixtures.make_trainer(workdir, sharpness_rho=0.5, steps=2,
                                    checkpoint_every=1)
    trainer._step_callback = callback  # pylint: disable=protected-access
    trainer.run()
    self.assertEqual(seen, [False, False])
    reader = tf.train.load_checkpoint(trainer.manager.latest_checkpoint)
    var = trainer.model.get_layer("stem_conv").kernel
    key = [k for k in reader.get_variable_to_shape_map()
           if k.startswith("model/") and "stem_conv" not in k and
           reader.get_tensor(k).shape == tuple(var.shape)]
    self.assertNotEmpty(key)
    np.testing.assert_array_equal(reader.get_tensor(key[0]), var.numpy())


class SAMTest(absltest.TestCase):

  def test_second_pass_at_ascent_point(self):
    fixtures.quiet_tf()
    rho = 0.1
    trainer, spy = run_with_spy(
        self.create_tempdir().full_path, private=False, sharpness_rho=rho,
        steps=2, physical_batch_size=8, sampling="shuffle")
    # Per step: ascent pass at w, descent pass at w + rho g/||g||.
    self.assertLen(spy.seen, 4)
    self.assertLen(spy.finalized, 4)
    for t in range(2):
      w = spy.before_apply[t]
      for a, b in zip(spy.seen[2 * t][1], w):
        np.testing.assert_array_equal(a, b)
      expected = perturbed(w, spy.finalized[2 * t], rho)
      for a, b in zip(spy.seen[2 * t + 1][1], expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    self.assertFalse(bool(trainer.perturbation.active.numpy()))


if __name__ == "__main__":
  absltest.main()
