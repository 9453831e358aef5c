"""The training loop: private (DP-SGD / DP-SAT) and non-private (SGD / SAM).

One logical step:
  1. DP-SAT: perturb w by rho * g~_{t-1} / ||g~_{t-1}|| (from step 1 on).
     SAM (non-private): a first pass gives g at w; perturb by rho g / ||g||.
  2. For each physical batch: K augmented views per example, accumulate the
     (clipped, for DP) per-example gradient sums.
  3. Noise once, divide by B (DP) / by the example count (non-private).
  4. Restore w exactly; apply the optimizer; store g~_t (DP-SAT); update the
     parameter averages; account epsilon.

Everything random is a function of (seed, step), so a run killed at any
point and restarted with the same command continues exactly.
"""

import contextlib
import dataclasses
import math
import os
import time
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from prifa_tf.errors import TrainingDivergedError
from prifa_tf import models
from prifa_tf.privacy import audit as audit_lib
from prifa_tf.data import augment
from prifa_tf.data import preprocess
from prifa_tf.optim import averaging
from prifa_tf.optim import gradient_engine
from prifa_tf.optim import optimizers
from prifa_tf.optim import sharpness
from prifa_tf.privacy import accounting
from prifa_tf.privacy import guarantee
from prifa_tf.privacy import noise as noise_lib
from prifa_tf.reporting import progress
from prifa_tf.reporting import provenance
from prifa_tf.reporting import results as results_lib
from prifa_tf.training import batching
from prifa_tf.training import checkpointing
from prifa_tf.training import config as config_lib
from prifa_tf.training import datasets
from prifa_tf.training import distribution as distribution_lib
from prifa_tf.training import evaluation
from prifa_tf.training import losses
from prifa_tf.training import run_results
from prifa_tf.training import secrets
from prifa_tf.training.run_results import NOT_PRIVATE
from prifa_tf.training.run_results import TRAIN_ACCURACY_NOTE
from prifa_tf.training.config import ConfigError
from prifa_tf.training.config import TrainConfig

RESULTS_FILE = "results.json"
PROGRESS_FILE = "progress.json"
AUDIT_FILE = "audit.json"


class EarlyStopping(tf.Module):
  """Best validation accuracy, patience counter and best weights."""

  def __init__(self, variables):
    super().__init__(name="early_stopping")
    self.best = tf.Variable(-1.0, trainable=False)
    self.best_step = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.bad_evals = tf.Variable(0, dtype=tf.int64, trainable=False)
    self.weights = [tf.Variable(v, trainable=False, name="best")
                    for v in variables]

  def observe(self, metric, step, current_weights) -> None:
    if metric > float(self.best.numpy()):
      self.best.assign(metric)
      self.best_step.assign(step)
      self.bad_evals.assign(0)
      for b, w in zip(self.weights, current_weights):
        b.assign(w)
    else:
      self.bad_evals.assign_add(1)


def build_model(cfg: TrainConfig, num_classes: int, input_shape):
  wrn = models.named_config(
      cfg.model, num_classes=num_classes, normalization=cfg.normalization,
      groups=cfg.groups, weight_standardization=cfg.weight_standardization,
      input_shape=tuple(input_shape))
  model = models.build_wide_resnet(wrn, private=cfg.private)
  if cfg.pretrained:
    models.load_pretrained(model, cfg.pretrained, seed=cfg.seed)
  return model


# Physical batches of one logical batch that get distinct augmentations.
MAX_PHYSICAL_BATCHES = 4096


def augmentation_seed(seed: int, step: int, batch: int, pass_id: int):
  """The stateless seed of one physical batch's augmentations.

  Distinct for every (step, physical batch, pass) of a run: ``pass_id`` is
  1 for SAM's ascent pass over the batch and 0 for the descent, and
  ``batch`` indexes the physical batches of the logical step (fewer than
  ``MAX_PHYSICAL_BATCHES``). Augmentation is public randomness: it is
  seeded by the config's ``seed`` (unlike the noise, see ``secrets``).
  """
  if not 0 <= batch < MAX_PHYSICAL_BATCHES:
    raise ValueError(f"physical batch {batch} of one logical batch: at most "
                     f"{MAX_PHYSICAL_BATCHES} are seeded apart.")
  index = (step * MAX_PHYSICAL_BATCHES + batch) * 2 + pass_id
  return tf.constant([seed, index], tf.int64)


@dataclasses.dataclass
class Plan:
  """How many steps a run takes, and why it stops there.

  Attributes:
    total_steps: steps the run takes.
    max_private_steps: the most steps the target ε allows (None: no
      budget binds: non-private, explicit steps, or a TAN simulation).
    stop_reason: "privacy_budget" or "steps".
  """
  total_steps: int
  max_private_steps: Optional[int]
  stop_reason: str


def plan_steps(cfg: TrainConfig, n: int) -> Plan:
  """The run's step plan on ``n`` training examples (the one source).

  Sweeps price runs with it before they run; the trainer follows it.
  """
  if not cfg.private:
    return Plan(cfg.steps, None, "steps")
  config_lib.check_batch_fits(cfg.batch_size, n)
  if cfg.target_epsilon is None or cfg.tan_factor > 1:
    # A TAN simulation runs its reference's steps; its target ε is the
    # reference's, not a budget of this run.
    return Plan(cfg.steps, None, "steps")
  limit = accounting.max_steps(n, cfg.batch_size, cfg.noise_multiplier,
                               cfg.target_epsilon, cfg.delta, cfg.accountant)
  if limit == 0:
    raise ConfigError(
        f"Even one step exceeds target_epsilon={cfg.target_epsilon} with "
        f"sigma={cfg.noise_multiplier}, B={cfg.batch_size}, n={n}.")
  if cfg.steps is None or cfg.steps > limit:
    return Plan(limit, limit, "privacy_budget")
  return Plan(cfg.steps, limit, "steps")


class Trainer:
  """Runs one configuration in one workdir, resumably.

  ``run`` restores the last checkpoint, then ``_loop`` takes the planned
  logical steps (``plan_steps``): each is ``_logical_step`` (sample,
  accumulate clipped sums, release once through the engine, apply), then
  its hooks: ``_log_scalars`` (TensorBoard), ``_show_progress`` (bar or
  step line) and ``_after_step`` (checkpoint, evaluation, early stopping,
  ``progress.json``, the step callback). ``_finish`` audits the released
  weights and writes ``results.json``.

  Out of scope: membership-inference attacks and bias (``evaluation``),
  sweeps over configs (``sweeps``), and the DP guarantee's arithmetic
  (``privacy``): the trainer only follows the plan and records ε.

  Args:
    cfg: the configuration (validated here).
    workdir: directory for config.json, checkpoints, TensorBoard logs and
      results.json.
    remove_ids: training ids to exclude (Onion-effect experiments).
    log: progress printer.
    data: optional prebuilt ``datasets.RunData`` (tests, custom data); by
      default the data is built from ``cfg``.
    step_callback: optional ``fn(trainer, step)`` called after every logical
      step (after any checkpoint of that step). If it has a ``setup(trainer)``
      method, that is called once the data and model exist, before training,
      so that it can check its arguments early.
    distribution: optional tf.distribute.Strategy (e.g. MirroredStrategy).
      Results do not depend on the replica count, so it is not part of the
      config and a run may resume on another number of devices.
  """

  def __init__(self, cfg: TrainConfig, workdir: str, remove_ids=None,
               log: Callable[[str], None] = print, data=None,
               step_callback=None, distribution=None):
    cfg.validate().validate_files()
    self.distribution = distribution or tf.distribute.get_strategy()
    self.chief = distribution_lib.is_chief(self.distribution)
    self.workdir = workdir
    if self.chief:
      checkpointing.check_workdir(workdir)
      checkpointing.check_restorable(os.path.join(workdir, "checkpoints"))
      self.cfg = checkpointing.check_config(cfg, workdir)
    else:
      self.cfg = cfg
    cfg = self.cfg
    if (cfg.private and not cfg.reproducible
        and distribution_lib.is_multi_worker(self.distribution)):
      if cfg.secure_noise:
        raise ConfigError("secure_noise cannot be shared by several workers "
                          "(each would draw its own); drop it.")
      # The chief's secret seeds reach every worker through one collective.
      mine = secrets.load_or_draw(cfg, workdir) if self.chief else None
      noise, sampling = distribution_lib.broadcast_ints(
          self.distribution,
          None if mine is None else [mine.noise, mine.sampling], 2)
      self.seeds = secrets.Seeds(noise=noise, sampling=sampling, secret=True)
    else:
      self.seeds = secrets.load_or_draw(cfg, workdir)
    self.log = log if self.chief else (lambda _: None)
    self._say = self.log  # The loop's printer (clear of the bar).
    self.remove_ids = remove_ids
    self._given_data = data
    self._step_callback = step_callback

  # ---------------------------------------------------------------- setup --
  def _setup(self):
    with self.distribution.scope():
      self._setup_in_scope()

  def _setup_in_scope(self):
    cfg = self.cfg
    tf.keras.utils.set_random_seed(cfg.seed)
    self.data = datasets.with_canaries(
        self._given_data or datasets.build(cfg, remove_ids=self.remove_ids),
        cfg)
    train = self.data.train
    self.n = len(train)
    self.plan = plan_steps(cfg, self.n)
    self.views = augment.num_views(cfg.augmult)
    self.model = build_model(cfg, train.num_classes, train.images.shape[1:])
    variables = self.model.trainable_variables
    self.engine = gradient_engine.GradientEngine(
        self.model, losses.for_labels(train.multilabel), views=self.views,
        private=cfg.private, l2_norm_clip=cfg.l2_norm_clip,
        noise_multiplier=cfg.noise_multiplier, strategy=cfg.per_example,
        distribution=self.distribution, secure_noise=cfg.secure_noise)
    self.optimizer = optimizers.make_optimizer(
        cfg.optimizer, cfg.learning_rate, cfg.momentum, cfg.weight_decay)
    self.optimizer.build(variables)
    self.perturbation = sharpness.WeightPerturbation(variables)
    self.dp_sat = sharpness.DPSATState(variables)
    self.averages = (averaging.ParameterAverages(variables, cfg.ema_decay)
                     if cfg.ema_decay else None)
    self.early = EarlyStopping(variables)
    self.step = tf.Variable(0, dtype=tf.int64, trainable=False)
    parts = dict(step=self.step, model=self.model, optimizer=self.optimizer,
                 dp_sat=self.dp_sat, early=self.early)
    if self.averages is not None:
      parts["averages"] = self.averages
    if cfg.private:  # The privacy counter survives a restart.
      parts["noise_draws"] = self.engine.noise_draws
    self.checkpoint = tf.train.Checkpoint(**parts)
    # Every worker saves (TF requires it); non-chief workers into scratch
    # directories. All restore from the chief's directory (shared storage).
    ckpt_dir = os.path.join(self.workdir, "checkpoints")
    self.restore_manager = tf.train.CheckpointManager(
        self.checkpoint, ckpt_dir, max_to_keep=2)
    self.manager = self.restore_manager if self.chief else \
        tf.train.CheckpointManager(self.checkpoint, os.path.join(
            self.workdir, ".scratch",
            distribution_lib.task_name(self.distribution)), max_to_keep=1)
    self.sampler = batching.BatchSampler(self.n, cfg.batch_size, cfg.sampling,
                                         self.seeds.sampling)
    self.writer = tf.summary.create_file_writer(
        os.path.join(self.workdir, "tensorboard")) if self.chief else \
        tf.summary.create_noop_writer()
    dataset, k = self.data.dataset, cfg.augmult

    @tf.function
    def prepare(images, seed):
      return augment.augment_views(preprocess.standardize(images, dataset), k,
                                   seed)
    self._prepare = prepare

  def build(self) -> "Trainer":
    """Builds data, model and engine without training (for audits)."""
    self._setup()
    return self

  def logical_step(self, step: int) -> dict:
    """One logical step as training takes it, for benchmarks.

    No logging, checkpointing or accounting.
    """
    return self._logical_step(step)

  def prepare_views(self, images, seed=(0, 0)) -> tf.Tensor:
    """Standardised, augmented views (K contiguous per image), as trained."""
    return self._prepare(tf.constant(images), tf.constant(seed, tf.int64))

  # -------------------------------------------------------------- helpers --
  def epsilon_spent(self, steps: int) -> Optional[float]:
    cfg = self.cfg
    if not cfg.private:
      return None
    return accounting.epsilon(self.n, cfg.batch_size, cfg.noise_multiplier,
                              steps, cfg.delta, cfg.accountant)

  def _epsilon_without_amplification(self, steps: int) -> Optional[float]:
    """The bound that holds for shuffled batches (None under Poisson)."""
    cfg = self.cfg
    if not cfg.private or cfg.sampling == "poisson":
      return None
    per_epoch = max(self.n // cfg.batch_size, 1)
    return accounting.epsilon_without_amplification(
        cfg.noise_multiplier, -(-steps // per_epoch), cfg.delta,
        cfg.accountant)

  def _accumulate_logical_batch(self, step: int, indices, pass_id: int = 0):
    train = self.data.train
    for j, (rows, weights) in enumerate(batching.physical_batches(
        indices, self.cfg.physical_batch_size)):
      seed = augmentation_seed(self.cfg.seed, step, j, pass_id)
      x = self._prepare(tf.constant(train.images[rows]), seed)
      y = augment.repeat_labels(tf.constant(train.labels[rows]),
                                self.cfg.augmult)
      self.engine.accumulate(x, y, tf.constant(weights))

  def _logical_step(self, step: int):
    cfg = self.cfg
    indices = self.sampler.indices(step)
    rho = cfg.sharpness_rho
    if rho > 0 and cfg.private:
      direction = self.dp_sat.direction()
      if direction is not None:
        self.perturbation.perturb(direction, rho)
    elif rho > 0:  # SAM: the ascent direction is this batch's gradient.
      self._accumulate_logical_batch(step, indices, pass_id=1)
      ascent, _ = self.engine.finalize(cfg.batch_size)
      self.perturbation.perturb(ascent, rho)
    self._accumulate_logical_batch(step, indices)
    grads, stats = self.engine.finalize(
        cfg.batch_size, seed=noise_lib.step_seed(self.seeds.noise, step))
    self.perturbation.restore()
    finite = math.isfinite(stats["loss"]) and all(
        bool(tf.reduce_all(tf.math.is_finite(g))) for g in grads)
    if not finite:
      raise TrainingDivergedError(
          f"Non-finite loss or gradient at step {step} (loss={stats['loss']}). "
          f"The last good checkpoint in {self.workdir} is kept; lower the "
          "learning rate or check the data.")
    variables = self.model.trainable_variables
    self.optimizer.apply_gradients(zip(grads, variables))
    if cfg.private and rho > 0:
      self.dp_sat.store(grads)
    if self.averages is not None:
      self.averages.update(step)
    return stats

  def _eval_weights_context(self, which=None):
    """Context in which the model holds the ``which`` weights."""
    which = which or self.cfg.eval_weights
    if which == "last" or self.averages is None:
      return contextlib.nullcontext()
    return self.averages.swapped(which)

  def evaluate(self, which=None, include_train=False):
    """Accuracy of the chosen weights on validation/evaluation sets."""
    out = {}
    sets = dict(self.data.evaluation)
    if self.data.validation is not None:
      sets["validation"] = self.data.validation
    if include_train:
      train = self.data.train
      sets["train"] = train.take(np.arange(min(len(train), 10000)))
    with self._eval_weights_context(which):
      for name, s in sets.items():
        logits = evaluation.predict_logits(self.model, s.images,
                                           self.data.dataset)
        out[f"{name}_accuracy"] = evaluation.accuracy(logits, s.labels)
    return out

  def _save(self, step):
    if self.chief:  # Config and secrets are pinned with the first checkpoint.
      checkpointing.pin_config(self.cfg, self.workdir)
      secrets.pin(self.seeds, self.workdir)
    self.manager.save(checkpoint_number=step)

  # ------------------------------------------------------------------ run --
  def run(self) -> dict:
    """Trains to the planned step count and writes results.json."""
    results_path = os.path.join(self.workdir, RESULTS_FILE)
    if os.path.exists(results_path):
      done = results_lib.read_json(results_path)
      if done.get("status") == "completed":
        self.log(f"{results_path} already complete; nothing to do.")
        check_audit(done)
        return done
    self._setup()
    cfg = self.cfg
    start = checkpointing.restore_latest(self.restore_manager,
                                         self.checkpoint)
    if start:
      self.log(f"Resuming from step {start} in {self.workdir}.")
    self.step.assign(start)
    if hasattr(self._step_callback, "setup"):
      self._step_callback.setup(self)
    total = self.plan.total_steps
    self.log(f"Training {cfg.model} on {cfg.dataset}: n={self.n}, "
             f"B={cfg.batch_size}, b={cfg.physical_batch_size}, K={self.views},"
             f" private={cfg.private}, rho={cfg.sharpness_rho}, steps={total},"
             f" replicas={self.engine.replicas}"
             + (f", per-example={self.engine.strategy_name}"
                + (f", target eps={cfg.target_epsilon}" if cfg.tan_factor == 1
                   else f", ε: {cfg.tan_label} (this run's own ε, logged "
                   "below, is far larger)")
                + f", sampling={cfg.sampling}"
                f", seeds=" + ("secret (OS entropy, secrets.json)"
                               if self.seeds.secret else
                               "REPRODUCIBLE from the config: eps holds only"
                               " against someone without them")
                if cfg.private else ""))
    t0 = time.time()
    clock = progress.StepClock(total)
    # A bar only on a terminal and with the default printer (logs, sweeps'
    # prefixed printers and tests get the step lines below).
    bar = progress.bar(total, initial=start, desc=f"{cfg.model} training",
                       enabled=None if self.log is print else False)

    def say(line):
      with progress.printing_over(bar):
        self.log(line)
    self._say = say
    try:
      stop_reason, last_stats = self._loop(start, total, clock, bar)
    finally:
      bar.close()
      self._say = self.log
    wall = time.time() - t0
    self.writer.flush()
    return self._finish(int(self.step.numpy()), stop_reason, last_stats, wall)

  def _loop(self, start, total, clock, bar):
    """The training steps; returns (stop reason, last batch's stats).

    One logical step, then its hooks in a fixed order: TensorBoard scalars,
    the progress line, then checkpoint, evaluation, early stopping,
    ``progress.json`` and the step callback (``_after_step``).
    """
    last_stats = {}
    for step in range(start, total):
      if self._over_budget(step):
        return "privacy_budget", last_stats  # Defensive: never overrun.
      began = time.time()
      last_stats = self._logical_step(step)
      clock.step_done(time.time() - began)
      done = step + 1
      self.step.assign(done)
      eps = self.epsilon_spent(done)
      shown = last_stats if self.cfg.log_training_stats else {}
      self._log_scalars(done, shown, eps, first=done == start + 1)
      self._show_progress(done, total, shown, eps, clock, bar)
      if self._after_step(done, total, shown, eps):
        return "early_stopping", last_stats
    return self.plan.stop_reason, last_stats

  def _over_budget(self, step: int) -> bool:
    """Whether step ``step + 1`` would pass the privacy budget."""
    limit = self.plan.max_private_steps
    return limit is not None and step + 1 > limit

  def _log_scalars(self, done, shown, eps, first):
    """TensorBoard: the batch's (not private) statistics, lr and ε."""
    cfg = self.cfg
    with self.writer.as_default(step=done):
      for tag, key in (("train/loss", "loss"),
                       ("train/batch_accuracy", "train_accuracy"),
                       ("privacy/clipped_fraction", "clipped_fraction"),
                       ("privacy/grad_norm_mean", "grad_norm_mean"),
                       ("privacy/grad_norm_max", "grad_norm_max")):
        if key in shown:
          tf.summary.scalar(tag, shown[key], description=NOT_PRIVATE)
      tf.summary.scalar("train/learning_rate", cfg.learning_rate)
      if eps is None:
        return
      tf.summary.scalar(guarantee.summary_tag(cfg.sampling), eps,
                        description=guarantee.console_tag(cfg.sampling)
                        + f" at delta={cfg.delta:g}: the accountant's "
                        "epsilon after this many steps"
                        + (f" (this run's own; the run is "
                           f"{cfg.tan_label})" if cfg.tan_label else ""))
      if cfg.tan_label and first:
        tf.summary.text("privacy/tan_simulation", cfg.tan_label)

  def _show_progress(self, done, total, shown, eps, clock, bar):
    """The bar's postfix on a terminal, else a line every ``log_every``."""
    cfg = self.cfg
    rate = clock.steps_per_second()
    views = (f"{rate * cfg.batch_size * self.views:.0f} views/s "
             "steady-state" if rate else "rate from step 2")
    bar.set_postfix_str(
        (f"loss={shown['loss']:.3f} " if shown else "")
        + (f"eps={eps:.2f} " if eps is not None else "")
        + views.replace(" steady-state", ""),
        refresh=False)
    bar.update(1)
    if bar.disable and (done % cfg.log_every == 0 or done == total):
      self._say(f"step {done}/{total}"
                + (f" loss={shown['loss']:.4f} "
                   f"batch_acc={shown['train_accuracy']:.3f}"
                   if shown else "")
                + (f" {guarantee.console_tag(cfg.sampling)}={eps:.3f}"
                   if eps is not None else "")
                + (f" clipped={shown['clipped_fraction']:.2f}"
                   if cfg.private and shown else "")
                + f" ({views}; elapsed "
                f"{progress.format_seconds(clock.elapsed())}, ETA "
                f"{progress.format_seconds(clock.eta(done))})")

  def _after_step(self, done, total, shown, eps) -> bool:
    """Checkpoint, evaluate, progress.json, callback; whether to stop early.

    Secure noise cannot be replayed: a resumed run redoes the steps since
    the last checkpoint with fresh noise. So nothing shaped by this step's
    noise (evaluation, step callbacks) is released before the step is
    checkpointed, and nothing between checkpoints.
    """
    cfg = self.cfg
    checkpoint_now = done % cfg.checkpoint_every == 0 or done == total
    secure = cfg.private and cfg.secure_noise
    if secure and checkpoint_now:
      self._save(done)
    stop_early = False
    if done % cfg.eval_every == 0 or done == total:
      stop_early = self._evaluate_during_training(done, total)
    if (checkpoint_now and not secure) or stop_early:
      self._save(done)
    if self.chief and (checkpoint_now or stop_early):
      results_lib.write_json_atomic(
          os.path.join(self.workdir, PROGRESS_FILE),
          {"step": done, "total_steps": total, "epsilon": eps,
           "last_batch": shown, "last_batch_note": NOT_PRIVATE})
    if self._step_callback is not None and (checkpoint_now or not secure):
      self._step_callback(self, done)
    return stop_early

  def _evaluate_during_training(self, done, total) -> bool:
    """Evaluates, logs, watches early stopping; whether to stop now."""
    cfg = self.cfg
    metrics = self.evaluate()
    with self.writer.as_default(step=done):
      for k, v in metrics.items():
        tf.summary.scalar(f"eval/{k}", v)
    if done < total:  # The last one is in the "final:" line.
      self._say(f"eval step {done}: " + ", ".join(
          f"{k}={v:.4f}" for k, v in metrics.items()))
    if not (cfg.early_stopping_patience
            and "validation_accuracy" in metrics):
      return False
    with self._eval_weights_context():
      self.early.observe(metrics["validation_accuracy"], done,
                         self.model.trainable_variables)
    return int(self.early.bad_evals.numpy()) >= cfg.early_stopping_patience

  def _finish(self, steps, stop_reason, last_stats, wall):
    cfg = self.cfg
    if stop_reason == "early_stopping" or (
        cfg.early_stopping_patience and int(self.early.best_step.numpy())):
      # Evaluate the best weights found on validation.
      for v, b in zip(self.model.trainable_variables, self.early.weights):
        v.assign(b)
      final = self.evaluate("last", include_train=True)
      weights_used = f"best_validation@{int(self.early.best_step.numpy())}"
    else:
      final = self.evaluate(include_train=True)
      weights_used = cfg.eval_weights
    if cfg.private:
      final = self._label_train_accuracy(final)
    last = self.evaluate("last") if weights_used != "last" else None
    eps = self.epsilon_spent(steps)
    released = "last" if weights_used.startswith("best") else None
    audit = self._audit(released, eps)
    results = self._results(steps, stop_reason, last_stats, wall, final,
                            last, weights_used, eps, audit)
    if not self.chief:
      return results
    if audit is not None:
      results_lib.write_json_atomic(os.path.join(self.workdir, AUDIT_FILE),
                                    audit)
    weights_path = os.path.join(self.workdir, results["weights_file"])
    with self._eval_weights_context(released):
      tmp = weights_path[:-3] + ".tmp.h5"
      self.model.save_weights(tmp)
      os.replace(tmp, weights_path)
    results_lib.write_json_atomic(os.path.join(self.workdir, RESULTS_FILE),
                                  results)
    self.log("final: " + ", ".join(
        f"{k}{'[not private]' if cfg.private and k == 'train_accuracy' else ''}"
        f"={v:.4f}" for k, v in final.items())
             + (f", {guarantee.console_tag(cfg.sampling)}={eps:.3f} at "
                f"delta={cfg.delta:g}"
                + (f" (delta >= 1/n = {1 / self.n:.2g}: weak)"
                   if cfg.delta >= 1 / self.n else "")
                if eps is not None else "")
             + (f" [this run's own ε; the run is {cfg.tan_label}]"
                if cfg.tan_label else "")
             + f" (stopped by {stop_reason.replace('_', ' ')} after {steps} "
             f"steps); results in {os.path.join(self.workdir, RESULTS_FILE)}")
    if audit is not None:
      self.log("audit: claimed ε = "
               + (f"{eps:.3f}" if eps is not None else "none (non-private)")
               + f", empirical lower bound ε ≥ "
               f"{audit['epsilon_lower_bound']:.3f} ({audit['canaries']} "
               f"canaries, {1 - audit['alpha']:.0%} confidence, the larger "
               f"of {audit['method']} and the one-run estimator): "
               + ("passed" if audit["passed"] else "FAILED")
               + ("" if audit.get("can_fail") in (None, True) else
                  f"; note: {audit['canaries']} canaries can show at most "
                  f"ε ≥ {audit['max_attainable_bound']:.2f}, so this audit "
                  "cannot fail at the claimed ε (a sanity check only)"))
    check_audit(results)
    return results

  def _label_train_accuracy(self, final):
    """The final weights' training accuracy is exact: labelled, or left out.

    It is computed on training examples without noise, so the DP guarantee
    (which covers the released weights) does not cover it.
    """
    if self.cfg.log_training_stats:
      return final
    return {k: v for k, v in final.items() if k != "train_accuracy"}

  def _audit(self, which, eps):
    """The canary audit of the released weights (None without canaries)."""
    if self.data.canaries is None:
      return None
    cfg, chosen = self.cfg, self.data.canary_set
    with self._eval_weights_context(which):
      logits = evaluation.predict_logits(self.model, chosen.images,
                                         self.data.dataset)
    scores = audit_lib.canary_scores(logits, chosen.labels)
    result = audit_lib.audit(scores, self.data.canaries, eps,
                             cfg.audit_alpha, cfg.audit_method,
                             delta=cfg.delta if cfg.private else 0.0)
    return {**result.to_dict(), "delta": cfg.delta if cfg.private else None,
            "canary_ids": self.data.canaries.ids.tolist(),
            "canary_included": self.data.canaries.included.tolist(),
            "canary_scores": np.asarray(scores).tolist()}

  def _label_tan_simulation(self, privacy: dict) -> None:
    """Labels a TAN-simulated run's privacy record in place.

    Its ε basis becomes the simulation's label, so that no table reads the
    simulated ε as this run's guarantee; ``epsilon`` stays the run's own.
    """
    cfg = self.cfg
    privacy["epsilon_basis"] = (
        f"{cfg.tan_label}; privacy.epsilon is this run's own ε at its own B "
        f"and σ (sampling={cfg.sampling}), far above the simulated one")
    privacy["tan_simulation"] = {
        "label": cfg.tan_label, "tan_factor": cfg.tan_factor,
        "simulated_epsilon": cfg.target_epsilon,
        "reference_batch_size": cfg.batch_size * cfg.tan_factor,
        "reference_noise_multiplier": cfg.noise_multiplier * cfg.tan_factor}

  def _results(self, steps, stop_reason, last_stats, wall, final, last,
               weights_used, eps, audit):
    cfg = self.cfg
    summary = None if audit is None else {
        k: v for k, v in audit.items() if not k.startswith("canary_")}
    privacy = None
    if cfg.private:
      privacy = run_results.PrivacyRecord(
          epsilon=eps, target_epsilon=cfg.target_epsilon, delta=cfg.delta,
          noise_multiplier=cfg.noise_multiplier,
          l2_norm_clip=cfg.l2_norm_clip, accountant=cfg.accountant,
          sampling_used=cfg.sampling, sampling_rate=cfg.batch_size / self.n,
          noise_draws=int(self.engine.noise_draws.numpy()),
          noise_generator=(
              "secure: os.urandom CSPRNG, each coordinate the sum of 4 "
              "Gaussians / 2 (Opacus secure mode)" if cfg.secure_noise else
              "TF stateless Philox keyed by the noise seed and step"),
          guarantee=guarantee.statement(
              cfg.sampling,
              "secret" if self.seeds.secret else "reproducible",
              cfg.delta, self.n, self._epsilon_without_amplification(steps)),
          epsilon_lower_bound=(summary or {}).get("epsilon_lower_bound"),
          audit=(f"see {AUDIT_FILE} and the top-level \"audit\"" if summary
                 else "not audited (audit_canaries=0)"))
    out = run_results.RunResults(
        provenance=provenance.collect(), config=cfg.to_dict(), steps=steps,
        stop_reason=stop_reason, num_train_examples=self.n,
        removed_ids=(sorted(int(i) for i in self.remove_ids)
                     if self.remove_ids is not None else []),
        metrics=final,
        metrics_notes=({"train_accuracy": TRAIN_ACCURACY_NOTE}
                       if cfg.private and "train_accuracy" in final else {}),
        metrics_last_weights=last,
        initialisation=(f"pretrained: {cfg.pretrained}" if cfg.pretrained
                        else "random (trained from scratch)"),
        eval_weights=weights_used, privacy=privacy,
        last_batch=last_stats if cfg.log_training_stats else {},
        seed=cfg.seed, wall_time_s_this_session=wall,
        replicas=self.engine.replicas, audit=summary).to_dict()
    if cfg.tan_label:
      self._label_tan_simulation(out["privacy"])
    return out


def check_audit(results: dict) -> None:
  """Raises AuditFailure when the run's audit failed (loudly, every time)."""
  audit = results.get("audit")
  if audit and not audit["passed"]:
    audit_lib.check(audit_lib.AuditResult(**{
        f.name: audit.get(f.name)
        for f in dataclasses.fields(audit_lib.AuditResult)}))


def train(cfg: TrainConfig, workdir: str, **kwargs) -> dict:
  """Convenience wrapper: ``Trainer(cfg, workdir, **kwargs).run()``."""
  return Trainer(cfg, workdir, **kwargs).run()
