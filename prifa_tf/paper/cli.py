"""The flags and the flow every experiment binary shares.

  python experiments/ablation.py --out=sweeps/ablation_smoke --scale=smoke
  python experiments/ablation.py --out=sweeps/ablation --scale=paper \
      --dry_run --throughput=6000

Flow: build the sweep's runs, run the unfinished ones (train, then
evaluate), collect every finished run into ``runs.csv``, and write the
experiment's tables (CSV + Markdown) and figures (PNG + PDF). Re-running
resumes; ``--report_only`` rebuilds tables and figures from what is there.
Exit status: 0 when every run finished, 1 when some failed (the others are
still reported), 2 on bad flags or configuration.
"""

import dataclasses
import math
import os
import sys
from typing import Optional

from absl import flags

from prifa_tf import attacks as attacks_lib
from prifa_tf import errors
from prifa_tf.paper import configs
from prifa_tf.paper import experiment as exp
from prifa_tf.paper import runs
from prifa_tf.reporting import console
from prifa_tf.reporting import provenance
from prifa_tf.reporting import report_page
from prifa_tf.reporting import results as results_lib
from prifa_tf.reporting import tables
from prifa_tf.sweeps import runner
from prifa_tf.training.config import describe_fields

_OUT = flags.DEFINE_string("out", None, "Sweep directory (resumable).")
_SCALE = flags.DEFINE_string(
    "scale", "smoke", "paper: Table 1 on full data (GPUs); cpu: WRN-10-1 on "
    "20,000 images, sized for the paper's effects on a 2-core CPU (about 20 "
    "minutes per private run); smoke: small WRN on a 2,000-image subset "
    "(CPU, minutes per run); tiny: a few steps on "
    "240 images, 1-6 minutes per run on 2 cores (tests); or a Python file "
    "that defines a prifa_tf.paper.configs.Scale.")
_SCALE_SET = flags.DEFINE_multi_string(
    "scale_set", [], "Change one field of the scale, field=value (JSON "
    "values; a dict field takes a JSON object or one value for every "
    "dataset). σ and the step counts are computed for the changed sizes.")
_SEEDS = flags.DEFINE_integer(
    "seeds", None, "Seeds per configuration (default: 5 at paper scale, as "
    "the paper; 1 otherwise).")
_SEED_START = flags.DEFINE_integer(
    "seed_start", 0, "First seed: runs use seeds seed_start .. seed_start + "
    "seeds - 1 (to split seeds over workers).")
_DATASETS = flags.DEFINE_list("datasets", [],
                              "Datasets (default: the experiment's).")
_PRIVACY = flags.DEFINE_enum("privacy", "both",
                             ["both", "private", "nonprivate"],
                             "Which arms to run.")
_EPSILONS = flags.DEFINE_list("epsilons", ["1", "2", "4", "8"],
                              "Budgets, where the experiment sweeps them.")
_ATTACKS = flags.DEFINE_list(
    "attacks", list(exp.PAPER_ATTACKS),
    f"Final attacks, from {', '.join(attacks_lib.ALL_ATTACKS)}.")
_MAX = flags.DEFINE_integer("max_examples", None,
                            "Bound on attack members and non-members.")
_PRETRAINED = flags.DEFINE_string(
    "pretrained", None, "ImageNet checkpoint (HDF5 by layer name) for "
    "CIFAR-100(S) and CelebA, as the paper uses.")
_SET = flags.DEFINE_multi_string(
    "set", [], "Config override key=value for every run; --set=help lists "
    "the fields.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "TFDS data directory.")
_BACKEND = flags.DEFINE_enum(
    "backend", None, list(attacks_lib.BACKENDS), attacks_lib.BACKEND_HELP)
_RAY = flags.DEFINE_string(
    "ray_address", None, "Run the sweep on Ray: 'auto' (the cluster this "
    "node belongs to), HOST:PORT, or 'local' (start Ray on this machine). "
    "Default: in this process, one run after another.")
_RAY_CPUS = flags.DEFINE_float("ray_cpus_per_run", 1.0,
                               "Ray: CPUs each run asks for.")
_RAY_GPUS = flags.DEFINE_float(
    "ray_gpus_per_run", None, "Ray: GPUs each run asks for (default: 1 if "
    "the cluster has GPUs, else 0).")
_RAY_RETRIES = flags.DEFINE_integer(
    "ray_max_retries", 3, "Ray: retries of a run whose worker or node dies "
    "(it resumes from its checkpoint).")
_FROM_SCRATCH = flags.DEFINE_bool(
    "from_scratch", False, "Paper scale: train CIFAR-100(S) and CelebA from "
    "scratch although the paper fine-tunes them from ImageNet (without it, "
    "such a run needs --pretrained).")
_DRY = flags.DEFINE_bool("dry_run", False,
                         "List the runs and their cost; train nothing.")
_THROUGHPUT = flags.DEFINE_float(
    "throughput", None, "Per-example-view gradients/s of your hardware, to "
    "print the dry run's cost in hours (docs/experiments.md).")
_TAN = flags.DEFINE_integer(
    "tan_factor", 1, "k > 1: run every private cell as a TAN simulation "
    "(Sander et al. 2023): batch B/k and noise σ/k for the cell's steps, k "
    "times cheaper; its ε is labelled simulated, never a guarantee.")
_REPORT_ONLY = flags.DEFINE_bool("report_only", False,
                                 "Only rebuild tables and figures.")
_REMOVE = flags.DEFINE_integer("remove_top", None,
                               "Onion effect: ids removed per layer.")
_LAYERS = flags.DEFINE_integer("layers", 3, "Onion effect: removal layers.")
_MODELS = flags.DEFINE_integer("num_models", None,
                               "LiRA: models trained on random halves "
                               "(default 16 paper, 8 smoke, 4 tiny); Onion "
                               "with --onion_risk=lira: shadows per layer.")
_ONION_RISK = flags.DEFINE_enum(
    "onion_risk", "mlp", ["mlp", "lira"],
    "Onion effect: rank removals by TF-Privacy's MLP risk score (the paper) "
    "or by online LiRA against shadow models (Carlini et al.).")


def args_from_flags() -> exp.Args:
  scale = configs.scale_with(configs.load_scale(_SCALE.value),
                             _SCALE_SET.value)
  seeds = _SEEDS.value if _SEEDS.value is not None else (
      5 if scale.family == "paper" else 1)
  if seeds < 1 or _SEED_START.value < 0:
    raise errors.BadInputError("--seeds must be >= 1 and --seed_start >= 0.")
  unknown = [a for a in _ATTACKS.value if a not in attacks_lib.ALL_ATTACKS]
  if unknown:
    raise errors.BadInputError(
        f"Unknown attacks {unknown}; choose from {attacks_lib.ALL_ATTACKS}.")
  bad = [d for d in _DATASETS.value if d not in configs.DATASETS]
  if bad:
    raise errors.BadInputError(f"Unknown datasets {bad}; choose from "
                     f"{configs.DATASETS}.")
  try:
    epsilons = [float(e) for e in _EPSILONS.value]
  except ValueError:
    raise errors.BadInputError(
        f"--epsilons must be numbers: {_EPSILONS.value}") from None
  if not all(math.isfinite(e) and e > 0 for e in epsilons):
    raise errors.BadInputError(
        f"--epsilons must be finite and > 0: {_EPSILONS.value}")
  if _LAYERS.value < 1:
    raise errors.BadInputError("--layers must be >= 1.")
  if _TAN.value < 1:
    raise errors.BadInputError(f"--tan_factor must be >= 1; got {_TAN.value}.")
  if _PRETRAINED.value and not _DRY.value and not os.path.isfile(
      _PRETRAINED.value):
    raise errors.BadInputError(
        f"--pretrained {_PRETRAINED.value} is not a file.")
  return exp.Args(
      scale=scale,
      seeds=list(range(_SEED_START.value, _SEED_START.value + seeds)),
      datasets=_DATASETS.value,
      privacy=_PRIVACY.value, epsilons=epsilons, attacks=_ATTACKS.value,
      max_examples=_MAX.value, pretrained=_PRETRAINED.value,
      overrides=_SET.value, remove_top=_REMOVE.value, layers=_LAYERS.value,
      num_models=_MODELS.value, onion_risk=_ONION_RISK.value,
      data_dir=_DATA_DIR.value, tan_factor=_TAN.value)


TAN_FACTORS = (1, 16, 64)


def tan_costs(experiment: exp.Experiment, args: exp.Args,
              throughput: Optional[float]) -> str:
  """The sweep's cost at each of ``TAN_FACTORS`` (one line per factor).

  In hours at ``throughput`` WRN-16-4 gradients/s when given, else in
  example-view gradients. Non-private runs cost the same at every factor.
  """
  lines = ["Cost by --tan_factor (TAN: private runs at B/k, σ/k, the same "
           "steps; their ε simulated, not a guarantee):"]
  for k in TAN_FACTORS:
    try:
      specs = experiment.build(dataclasses.replace(args, tan_factor=k))
    except ValueError as e:
      lines.append(f"  ×{k}: not available ({e})")
      continue
    units = sum(runs.estimate_cost(s)["wrn16_4_units"] for s in specs)
    lines.append(f"  ×{k}: " + (
        f"{units / throughput / 3600:,.1f} GPU-hours at {throughput:g} "
        "WRN-16-4 gradients/s" if throughput else
        f"{units:.3g} example-view gradients in WRN-16-4 units"))
  return "\n".join(lines)


def _unusable_directory(path):
  """Why ``path`` cannot be a sweep directory (None when it can)."""
  probe = results_lib.nearest_existing(path)
  if not os.path.isdir(probe):
    return (f"{path} is a file" if probe == os.path.abspath(path) else
            f"{path} lies under the file {probe}") + "; choose a directory."
  if not _DRY.value and not results_lib.is_writable(probe):
    return f"{path}: {probe} is not writable."
  return None


def main(experiment: exp.Experiment, argv) -> int:
  """Runs ``experiment`` from the flags; returns the exit status."""
  if len(argv) > 1:
    print(f"error: unexpected arguments {argv[1:]}", file=sys.stderr)
    return 2
  if "help" in _SET.value:
    print(describe_fields())
    return 0
  if not _OUT.value:
    print("error: --out (the sweep directory) is required.", file=sys.stderr)
    return 2
  args = args_from_flags()
  specs = experiment.build(args)
  scratch = configs.missing_pretrained([s.config for s in specs], args.scale)
  if scratch and not _DRY.value and not _FROM_SCRATCH.value:
    print(f"error: the paper fine-tunes {', '.join(scratch)} from an "
          "ImageNet-pretrained WRN-28-10; pass --pretrained=CHECKPOINT (Keras "
          "HDF5 by layer name), or --from_scratch to train from random "
          "initialisation knowingly (results.json records the start).",
          file=sys.stderr)
    return 2
  out = _OUT.value
  problem = _unusable_directory(out)
  if problem:
    print(f"error: --out {problem}", file=sys.stderr)
    return 2
  print(f"{experiment.title}: {len(specs)} runs at {args.scale.name} scale "
        f"into {out}")
  status = {}
  if not _REPORT_ONLY.value:
    task = runs.PaperTask(data_dir=_DATA_DIR.value, backend=_BACKEND.value)
    status = runner.run_sweep(
        out, specs, task, dry_run=_DRY.value, throughput=_THROUGHPUT.value,
        executor="ray" if _RAY.value else "local",
        ray_options=_ray_options())
  if _DRY.value:
    print(tan_costs(experiment, args, _THROUGHPUT.value))
    return 0
  df = tables.collect(out, specs, runner.run_dir)
  if not df.empty:
    tables.write_csv(df, os.path.join(out, "runs.csv"))
  files = experiment.report(df, args, out)
  if files:
    files.append(_report_page(experiment, args, out, specs, df, files))
  for f in files:
    if f.endswith(".md") and os.path.basename(f) != report_page.PAGE:
      with open(f) as fh:
        # The provenance footnote stays in the file (and provenance.json).
        print("".join(line for line in fh if not line.startswith(
            provenance.FOOTNOTE_PREFIX)).rstrip())
  print(f"Wrote into {out}: " + ", ".join(
      os.path.relpath(f, out) for f in files) if files else
        "No finished runs.")
  failed = [n for n, s in status.items()
            if s.get("status") in ("failed", "skipped")]
  if failed:
    print(f"{len(failed)} run(s) did not finish: {', '.join(failed)}; see "
          f"their error.txt. Re-run the same command to retry them.",
          file=sys.stderr)
    return 1
  return 0


def _ray_options():
  if not _RAY.value:
    return None
  return {"address": None if _RAY.value == "local" else _RAY.value,
          "num_cpus": _RAY_CPUS.value, "num_gpus": _RAY_GPUS.value,
          "max_retries": _RAY_RETRIES.value}


def _report_page(experiment, args, out, specs, df, files) -> str:
  """``out/report.md``: the sweep's tables, figures, runs and provenance."""
  recorded = {}
  status_path = os.path.join(out, runner.STATUS_FILE)
  if os.path.exists(status_path):
    recorded = results_lib.read_json(status_path).get("runs", {})
  rows = ({} if df.empty else
          {r["run"]: r for r in df.to_dict("records")})
  run_rows = {}
  for s in specs:
    row = rows.get(s.name, {})
    rec = recorded.get(s.name, {})
    run_rows[s.name] = {
        "status": ("done" if s.name in rows else
                   rec.get("status", "not run")),
        "epsilon": row.get("epsilon"),
        "epsilon_basis": row.get("epsilon_basis"),
        "wall_time_s": rec.get("wall_time_s"),
        "dir": runner.run_dir(out, s.name)}
  header = (f"Scale: {args.scale.name}; seeds {args.seeds}; privacy: "
            f"{args.privacy}; attacks: {', '.join(args.attacks)}.")
  return report_page.write(out, experiment.title, files, run_rows, header)


def run(experiment: exp.Experiment) -> None:
  """Entry point of an experiment binary: parses flags, exits with status."""
  console.run_main(lambda argv: main(experiment, argv), lambda: _OUT.value)
