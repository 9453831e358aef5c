r"""Wall time of each TF-Privacy attack against the attack-set size.

  .venv/bin/python benchmarks/mia_runtime.py \
      --sizes=2000,10000 --attacks=all --backend=loky

Runs each attack through ``prifa_tf.attacks.run`` on members + non-members
of the given sizes (n members and n non-members), and projects each
attack's time to the paper's 50k members + 10k non-members by the slope of
log(time) against log(size) between the two largest measured sizes.

The logits come from a fixed simulated 10-class model that is more confident
on members than on non-members (member logits have a larger margin), so the
attacks have a real signal to fit; timing depends on set size, class count
and the grid search, not on the exact signal. Pass --logits_npz with
``logits_train, labels_train, logits_test, labels_test`` arrays to time on
a real model's outputs instead.
"""

import json
import time

from absl import app
from absl import flags
import numpy as np

from prifa_tf import attacks as attacks_lib

_SIZES = flags.DEFINE_list("sizes", ["2000", "10000"],
                           "Members (= non-members) per measurement.")
_ATTACKS = flags.DEFINE_list("attacks", ["all"], "Attacks, or 'all'.")
_BACKEND = flags.DEFINE_enum("backend", None,
                             ["loky", "threading", "multiprocessing",
                              "pooled"],
                             "joblib backend (default: one thread).")
_CLASSES = flags.DEFINE_integer("num_classes", 10, "Classes of the logits.")
_NPZ = flags.DEFINE_string("logits_npz", None, "Real logits to time on.")
_TARGET = flags.DEFINE_list("project_to", ["50000", "10000"],
                            "Members, non-members of the projection.")


def simulated(n, num_classes, rng):
  """Logits where members get a larger correct-class margin."""
  def draw(margin):
    labels = rng.integers(0, num_classes, n)
    logits = rng.normal(size=(n, num_classes))
    logits[np.arange(n), labels] += rng.normal(margin, 1.0, n)
    return logits, labels
  (lt, yt), (le, ye) = draw(3.0), draw(2.0)
  return attacks_lib.MembershipData(lt, yt, np.arange(n), le, ye,
                                    np.arange(n))


def from_npz(path, n, rng):
  z = np.load(path)
  def pick(key, m):
    idx = rng.choice(len(z[key]), min(m, len(z[key])), replace=False)
    return idx
  a, b = pick("logits_train", n), pick("logits_test", n)
  return attacks_lib.MembershipData(
      z["logits_train"][a], z["labels_train"][a], a, z["logits_test"][b],
      z["labels_test"][b], b)


def main(argv):
  del argv
  chosen = (attacks_lib.ALL_ATTACKS if _ATTACKS.value == ["all"]
            else tuple(_ATTACKS.value))
  sizes = sorted(int(s) for s in _SIZES.value)
  rng = np.random.default_rng(0)
  times = {a: {} for a in chosen}
  for n in sizes:
    data = (from_npz(_NPZ.value, n, rng) if _NPZ.value
            else simulated(n, _CLASSES.value, rng))
    for a in chosen:
      t0 = time.perf_counter()
      out = attacks_lib.run(data, [a], backend=_BACKEND.value)
      times[a][n] = time.perf_counter() - t0
      print(f"{a:>18} n={n:>6}+{n:<6} {times[a][n]:8.1f} s  "
            f"AUC {out[a].auc:.3f}", flush=True)
  target = sum(int(s) for s in _TARGET.value)
  print(f"\nProjection to {_TARGET.value[0]}+{_TARGET.value[1]} examples "
        "(power law through the two largest sizes):")
  summary = {"backend": _BACKEND.value, "measured_s": times, "projected_s": {}}
  for a in chosen:
    if len(sizes) >= 2:
      n1, n2 = sizes[-2], sizes[-1]
      t1, t2 = max(times[a][n1], 1e-3), max(times[a][n2], 1e-3)
      slope = np.log(t2 / t1) / np.log(n2 / n1)
      proj = t2 * (target / (2 * n2)) ** slope
      summary["projected_s"][a] = proj
      print(f"{a:>18} exponent {slope:4.2f}  projected {proj:8.0f} s")
  total = sum(times[a][sizes[-1]] for a in chosen)
  print(f"\nAll attacks at {sizes[-1]}+{sizes[-1]}: {total:.0f} s; "
        + (f"projected at paper scale: "
           f"{sum(summary['projected_s'].values()):.0f} s"
           if summary["projected_s"] else
           "no projection (it needs two --sizes to fit the power law)"))
  print(json.dumps(summary))


if __name__ == "__main__":
  app.run(main)
