r"""The paper-scale attack suite: unmodified TF-Privacy vs the pooled engine.

  .venv/bin/python benchmarks/attack_suite.py --members=50000 \
      --nonmembers=10000

Runs, side by side in one process on the same members and non-members:

1. TF-Privacy unmodified: ``membership_inference_attack.run_attacks`` for
   each of its six attacks, with balanced attacker training, the joblib
   backend ``--baseline_backend`` (loky: every core) and NumPy's global RNG
   seeded before each (``prifa_tf.attacks.run`` with that backend: every
   attack sees the same attacker split, so the deterministic LR and KNN
   must agree exactly);
2. ours: ``prifa_tf.attacks.run(..., backend="pooled")`` with the same six;

then the rest of an evaluation that both share (Song & Mittal risk scores,
the threshold attack by group), and prints each attack's AUC from both,
their difference, the wall times and the ratio. The MLP and the forest are
random: ``--noise_floor`` (default on) runs TF-Privacy's MLP and forest
once more with the next seed, so their own run-to-run difference stands
beside ours. ``--order`` chooses which
runs first (the second may gain from a warm cache; run both orders to see).

The logits are simulated (10 classes, members with a larger correct-class
margin, as ``mia_runtime.py``), or real with ``--logits_npz`` (arrays
``logits_train, labels_train, logits_test, labels_test``).
"""

import time

from absl import app
from absl import flags
import numpy as np

from prifa_tf import attacks as attacks_lib
from prifa_tf.evaluation import privacy_by_group

_MEMBERS = flags.DEFINE_integer("members", 50000, "Members (CIFAR-10: 50k).")
_NONMEMBERS = flags.DEFINE_integer("nonmembers", 10000,
                                   "Non-members (CIFAR-10 test: 10k).")
_CLASSES = flags.DEFINE_integer("num_classes", 10, "Classes of the logits.")
_NPZ = flags.DEFINE_string("logits_npz", None, "Real logits instead.")
_BASELINE = flags.DEFINE_enum("baseline_backend", "loky",
                              ["loky", "none"],
                              "TF-Privacy's joblib backend (none: 1 thread).")
_ORDER = flags.DEFINE_enum("order", "tf_privacy_first",
                           ["tf_privacy_first", "pooled_first"],
                           "Which runs first.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of data and attacks.")
_FLOOR = flags.DEFINE_bool("noise_floor", True,
                           "Rerun TF-Privacy's MLP and forest (next seed).")
_TOLERANCE = 0.01


def _data(rng):
  if _NPZ.value:
    z = np.load(_NPZ.value)
    def pick(key, m):
      return np.sort(rng.choice(len(z[key]), min(m, len(z[key])),
                                replace=False))
    a, b = pick("logits_train", _MEMBERS.value), pick("logits_test",
                                                      _NONMEMBERS.value)
    return attacks_lib.MembershipData(
        z["logits_train"][a], z["labels_train"][a], a, z["logits_test"][b],
        z["labels_test"][b], b)
  def draw(n, margin):
    labels = rng.integers(0, _CLASSES.value, n)
    logits = rng.normal(size=(n, _CLASSES.value))
    logits[np.arange(n), labels] += rng.normal(margin, 1.0, n)
    return logits, labels
  (lt, yt), (le, ye) = draw(_MEMBERS.value, 3.0), draw(_NONMEMBERS.value, 2.0)
  return attacks_lib.MembershipData(lt, yt, np.arange(len(yt)), le, ye,
                                    np.arange(len(ye)))


def _tf_privacy(data):
  t0 = time.perf_counter()
  out = attacks_lib.run(
      data, attacks_lib.ALL_ATTACKS, seed=_SEED.value,
      backend=None if _BASELINE.value == "none" else _BASELINE.value)
  return {k: v.auc for k, v in out.items()}, time.perf_counter() - t0


def _pooled(data):
  t0 = time.perf_counter()
  out = attacks_lib.run(data, attacks_lib.ALL_ATTACKS, backend="pooled",
                        seed=_SEED.value)
  seconds = time.perf_counter() - t0
  return {k: v.auc for k, v in out.items()}, seconds, out


def main(argv):
  del argv
  data = _data(np.random.default_rng(_SEED.value))
  print(f"{len(data.ids_train)} members + {len(data.ids_test)} non-members, "
        f"{data.logits_train.shape[1]} classes "
        f"({'real' if _NPZ.value else 'simulated'} logits); "
        f"TF-Privacy backend: {_BASELINE.value}", flush=True)
  if _ORDER.value == "tf_privacy_first":
    theirs, t_theirs = _tf_privacy(data)
    ours, t_ours, outcomes = _pooled(data)
  else:
    ours, t_ours, outcomes = _pooled(data)
    theirs, t_theirs = _tf_privacy(data)
  t0 = time.perf_counter()
  member_risk, nonmember_risk = attacks_lib.membership_probabilities(data)
  groups = privacy_by_group.evaluate(data, member_risk, nonmember_risk,
                                     seed=_SEED.value)
  t_common = time.perf_counter() - t0
  print(f"\n{'attack':>18}  {'TF-Privacy AUC':>14}  {'pooled AUC':>10}  "
        f"{'diff':>7}")
  worst = 0.0
  for name in attacks_lib.ALL_ATTACKS:
    diff = ours[name] - theirs[name]
    worst = max(worst, abs(diff))
    print(f"{name:>18}  {theirs[name]:14.4f}  {ours[name]:10.4f}  "
          f"{diff:+7.4f}")
  trained = next(o.wall_time_s for k, o in outcomes.items()
                 if k in ("lr", "mlp", "rf", "knn"))
  print(f"\nlargest |AUC difference| {worst:.4f} "
        f"({'within' if worst <= _TOLERANCE else 'OUTSIDE'} "
        f"{_TOLERANCE})")
  print(f"six attacks, TF-Privacy unmodified: {t_theirs:8.1f} s")
  print(f"six attacks, pooled:                {t_ours:8.1f} s "
        f"(trained attacks {trained:.1f} s)")
  print(f"ratio TF-Privacy / pooled:          {t_theirs / t_ours:8.2f}x")
  print(f"shared rest of the evaluation (risk scores, {len(groups)} "
        f"groups): {t_common:.1f} s")
  print(f"full evaluation, pooled: {t_ours + t_common:.1f} s; "
        f"TF-Privacy: {t_theirs + t_common:.1f} s")
  if _FLOOR.value:
    again = attacks_lib.run(
        data, ["mlp", "rf"], seed=_SEED.value + 1,
        backend=None if _BASELINE.value == "none" else _BASELINE.value)
    print("\nrun-to-run noise of the random attacks (TF-Privacy, seed "
          f"{_SEED.value} vs {_SEED.value + 1}):")
    for name in ("mlp", "rf"):
      print(f"{name:>18}  {theirs[name]:.4f} vs {again[name].auc:.4f}: "
            f"{again[name].auc - theirs[name]:+.4f} (pooled vs TF-Privacy: "
            f"{ours[name] - theirs[name]:+.4f})")


if __name__ == "__main__":
  app.run(main)
