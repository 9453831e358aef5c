"""Sharpness-aware weight perturbations: SAM and DP-SAT.

* SAM (Foret et al. 2021, non-private): gradient g at w, then the gradient
  at w + rho * g / ||g||, applied from w.
* DP-SAT (Park et al. 2023): at step t the weights are perturbed by
  rho * g~_{t-1} / ||g~_{t-1}||, where g~_{t-1} is the previous step's
  *privatised* gradient (clipped, noised, averaged, before momentum). It
  reuses released quantities only, so it costs no extra privacy. There is no
  perturbation at t = 0, and rho = 0 is exactly DP-SGD.

Weights are perturbed once per logical batch and restored by copying a
backup, so the restore is exact and the perturbation never reaches
evaluation, checkpoints or attacks.
"""

import tensorflow as tf

_EPS = 1e-12


class WeightPerturbation(tf.Module):
  """Backs up, perturbs and exactly restores a list of variables."""

  def __init__(self, variables, name="weight_perturbation"):
    super().__init__(name=name)
    targets = list(variables)
    # A closure, so checkpoints do not track the model weights twice.
    self._targets = lambda: targets
    self.backup = [tf.Variable(tf.zeros_like(v), trainable=False,
                               name="backup") for v in targets]
    self.active = tf.Variable(False, trainable=False)

  def perturb(self, direction, rho):
    """W <- w + rho * direction / ||direction|| (global norm)."""
    if bool(self.active.numpy()):
      raise RuntimeError("Weights are already perturbed; restore first.")
    norm = tf.maximum(tf.linalg.global_norm(direction), _EPS)
    for b, v, d in zip(self.backup, self._targets(), direction):
      b.assign(v)
      v.assign_add(rho * d / norm)
    self.active.assign(True)

  def restore(self):
    """Copies the backup back (bit-exact)."""
    if bool(self.active.numpy()):
      for b, v in zip(self.backup, self._targets()):
        v.assign(b)
      self.active.assign(False)


class DPSATState(tf.Module):
  """The previous step's privatised gradient g~_{t-1}, checkpointed."""

  def __init__(self, variables):
    super().__init__(name="dp_sat")
    self.prev_grad = [tf.Variable(tf.zeros_like(v), trainable=False,
                                  name="prev_private_grad") for v in variables]
    self.has_prev = tf.Variable(False, trainable=False)

  def store(self, grads):
    for p, g in zip(self.prev_grad, grads):
      p.assign(g)
    self.has_prev.assign(True)

  def direction(self):
    """The stored gradient, or None before the first step (t = 0)."""
    if not bool(self.has_prev.numpy()):
      return None
    return [tf.identity(p) for p in self.prev_grad]
