r"""A tiny paper sweep in process, on Ray with 1 worker, and with 2.

  .venv/bin/python benchmarks/ray_sweep.py --data_dir=../shared/tfds

Runs the same sweep (the tiny cumulative ablation on CIFAR-10, non-private:
7 independent runs) into fresh directories, one after another in this
process:

1. in process (the default runner; TensorFlow uses every core);
2. on a local Ray, 1 worker: one run at a time asking for every CPU (so
   its TensorFlow thread pools are as in process);
3. on a local Ray, 2 workers: two runs at a time, each asking for half the
   CPUs (thread pools of that size).

and prints the wall times, the 2-vs-1 speedup, and Ray's overhead per run
(1 worker against in process: starting Ray and its worker process, which
imports TensorFlow and decodes the data once, and shipping each task). Then it
times
``--noop_runs`` runs that do nothing, in process and on Ray, for the fixed
cost Ray adds to each run. Every sweep's results must agree (printed).
"""

import os
import shutil
import tempfile
import time

from absl import app
from absl import flags
import numpy as np

from prifa_tf.paper import ablation
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.paper import runs
from prifa_tf.reporting import results as results_lib
from prifa_tf.sweeps import ray_runner
from prifa_tf.sweeps import runner
from prifa_tf.sweeps.spec import RunSpec

_DATA = flags.DEFINE_string("data_dir", "../shared/tfds", "TFDS directory.")
_NOOP = flags.DEFINE_integer("noop_runs", 20, "Runs that do nothing.")
_RUNS = flags.DEFINE_integer("runs", None, "Only the first N runs.")


class _Noop:
  """A task whose runs do nothing (Ray's fixed cost per run)."""

  def session(self):
    import contextlib  # pylint: disable=g-import-not-at-top
    return contextlib.nullcontext()

  def is_finished(self, out_dir, spec):
    del out_dir, spec
    return False

  cost_unit = "runs"

  def cost(self, spec):
    del spec
    return {"units": 0.0}

  def run(self, out_dir, spec, log):
    del out_dir, spec, log


def _sweep(specs, task, log, **kwargs):
  out = tempfile.mkdtemp(prefix="ray_sweep_")
  t0 = time.perf_counter()
  status = runner.run_sweep(out, specs, task, log=log, **kwargs)
  seconds = time.perf_counter() - t0
  bad = {n: s for n, s in status.items() if s["status"] != "done"}
  if bad:
    raise RuntimeError(f"runs did not finish: {bad}")
  return out, seconds


def _accuracies(out, specs):
  return [results_lib.read_json(os.path.join(
      runner.run_dir(out, s.name), "eval.json"))["utility"]["test_accuracy"]
          for s in specs]


def main(argv):
  del argv
  ray_runner.local_auth_env()
  import ray  # pylint: disable=g-import-not-at-top
  args = exp.Args(scale=configs.TINY, seeds=[0], privacy="nonprivate",
                  datasets=["cifar10"], data_dir=_DATA.value,
                  attacks=["threshold", "threshold_entropy"])
  specs = ablation.CUMULATIVE.build(args)[:_RUNS.value]
  task = runs.PaperTask(data_dir=_DATA.value)
  def quiet(_):
    return None
  print(f"{len(specs)} tiny runs ({', '.join(s.labels['step'] for s in specs)}"
        f"), {os.cpu_count()} CPUs on this machine", flush=True)
  dirs, times = {}, {}
  dirs["in process"], times["in process"] = _sweep(specs, task, quiet)
  cpus = os.cpu_count() or 2
  for workers in (1, 2):
    ray.init(address="local", num_cpus=cpus, include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    try:
      name = f"Ray, {workers} worker{'s' if workers > 1 else ''}"
      dirs[name], times[name] = _sweep(
          specs, task, quiet, executor="ray",
          ray_options={"num_cpus": max(1, cpus // workers)})
    finally:
      ray.shutdown()
  for name, seconds in times.items():
    print(f"{name:>14}: {seconds:7.1f} s ({seconds / len(specs):.1f} s per "
          "run)")
  one, two = times["Ray, 1 worker"], times["Ray, 2 workers"]
  print(f"speedup, 2 workers vs 1: {one / two:.2f}x")
  print(f"Ray overhead per run (1 worker vs in process): "
        f"{(one - times['in process']) / len(specs):+.2f} s")
  acc = {k: _accuracies(d, specs) for k, d in dirs.items()}
  base = acc["in process"]
  for k, v in acc.items():
    print(f"{k:>14}: test accuracies {np.round(v, 4).tolist()} (max |diff| "
          f"vs in process {np.max(np.abs(np.subtract(v, base))):.2g})")
  for d in dirs.values():
    shutil.rmtree(d, ignore_errors=True)
  noop_specs = [RunSpec(name=f"noop{i}", config=specs[0].config,
                        labels={}) for i in range(_NOOP.value)]
  out, t_local = _sweep(noop_specs, _Noop(), quiet)
  shutil.rmtree(out)
  ray.init(address="local", num_cpus=1, include_dashboard=False,
           log_to_driver=False,
           configure_logging=False)
  try:
    _sweep(noop_specs[:2], _Noop(), quiet, executor="ray")  # Warm up.
    out, t_ray = _sweep(noop_specs, _Noop(), quiet, executor="ray")
    shutil.rmtree(out)
  finally:
    ray.shutdown()
  print(f"{_NOOP.value} no-op runs: in process {t_local:.2f} s, on Ray (1 "
        f"worker) {t_ray:.2f} s: {1000 * (t_ray - t_local) / _NOOP.value:.0f}"
        " ms per run")


if __name__ == "__main__":
  app.run(main)
