r"""Training throughput with TensorFlow's oneDNN kernels off and on.

  .venv/bin/python benchmarks/onednn.py --model=wrn_10_1 --batch=125 --rounds=3

TensorFlow 2.15 turns its oneDNN kernels on by default only on CPUs with
AVX-512 VNNI, BF16 or AMX; on an AVX2-only CPU (e.g. AMD EPYC hosts of this
machine kind) it uses its Eigen kernels unless ``TF_ENABLE_ONEDNN_OPTS=1``.
The variable is read when TF is imported, so each setting runs in its own
process: ``benchmarks/per_example_throughput.py`` (non-private, DP-SGD and
DP-SAT with the per_layer strategy, K = 1), alternating off and on for
``--rounds`` rounds so that both meet the same load. Printed: each
variant's median views/s per setting and the on/off ratio per round.
A benchmark, not a test: nothing here asserts a speed, and prifa_tf does
not change TF's default.
"""

import os
import re
import subprocess
import sys

from absl import app
from absl import flags
import numpy as np

_MODEL = flags.DEFINE_string("model", "wrn_10_1", "Named WRN.")
_BATCH = flags.DEFINE_integer("batch", 125, "Examples per physical batch.")
_ROUNDS = flags.DEFINE_integer("rounds", 3, "Off/on pairs of processes.")
_REPEATS = flags.DEFINE_integer("repeats", 2,
                                "Timed rounds inside each process.")

HERE = os.path.dirname(os.path.abspath(__file__))
LINE = re.compile(r"^\s*(non-private|DP-SGD per_layer|DP-SAT per_layer):.*"
                  r"\(\s*([\d.]+) views/s\)", re.M)


def measure(setting: str) -> dict:
  """{variant: views/s} of one process with TF_ENABLE_ONEDNN_OPTS=setting."""
  env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS=setting,
             TF_CPP_MIN_LOG_LEVEL="2")
  proc = subprocess.run(
      [sys.executable, os.path.join(HERE, "per_example_throughput.py"),
       f"--model={_MODEL.value}", f"--batch={_BATCH.value}", "--augmult=1",
       f"--repeats={_REPEATS.value}", "--strategies=per_layer"],
      env=env, capture_output=True, text=True, check=False)
  if proc.returncode:
    raise RuntimeError(f"per_example_throughput.py failed:\n"
                       f"{proc.stderr[-3000:]}")
  found = {name: float(rate) for name, rate in LINE.findall(proc.stdout)}
  if len(found) != 3:
    raise RuntimeError(f"unexpected output:\n{proc.stdout[-2000:]}")
  return found


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _ROUNDS.value < 1 or _BATCH.value < 1 or _REPEATS.value < 1:
    raise app.UsageError("--rounds, --batch and --repeats must be >= 1.")
  rates = {"0": [], "1": []}
  for r in range(_ROUNDS.value):
    for setting in ("0", "1"):
      rates[setting].append(measure(setting))
      print(f"round {r + 1}/{_ROUNDS.value}, oneDNN "
            f"{'on' if setting == '1' else 'off'}: " + ", ".join(
                f"{k} {v:.1f}" for k, v in rates[setting][-1].items())
            + " views/s", flush=True)
  print(f"\n{_MODEL.value}, physical batch {_BATCH.value}, K = 1: views/s "
        "(median over rounds) and the on/off ratio per round, median "
        "[min, max]")
  for variant in rates["0"][0]:
    off = [x[variant] for x in rates["0"]]
    on = [x[variant] for x in rates["1"]]
    ratio = np.array(on) / np.array(off)
    print(f"  {variant:>16}: off {np.median(off):7.1f} | on "
          f"{np.median(on):7.1f} | on/off {np.median(ratio):.2f} "
          f"[{ratio.min():.2f}, {ratio.max():.2f}]")
  return 0


if __name__ == "__main__":
  app.run(main)
