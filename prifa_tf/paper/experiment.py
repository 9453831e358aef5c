"""What every paper experiment shares: its arguments and its shape.

An ``Experiment`` turns ``Args`` into the runs of a sweep (``specs``) and
the collected results into tables and figures (``report``). The binaries in
``experiments/`` are thin wrappers over ``cli.main(experiment)``.
"""

import dataclasses
import os
from typing import Callable, List, Optional, Sequence, Tuple

import pandas as pd

from prifa_tf import errors
from prifa_tf.paper import configs
from prifa_tf.reporting import figures
from prifa_tf.reporting import provenance
from prifa_tf.reporting import comparisons as comparisons_lib
from prifa_tf.reporting import tables
from prifa_tf.reporting.results import write_json_atomic
from prifa_tf.training.config import base_dataset
from prifa_tf.sweeps.spec import RunSpec
from prifa_tf.training import presets

PAPER_ATTACKS = ("threshold", "threshold_entropy", "mlp", "rf")


@dataclasses.dataclass
class Args:
  """Options common to every experiment binary.

  Attributes:
    scale: a ``configs.Scale``.
    seeds: seeds of every configuration.
    datasets: datasets to run (experiment default when empty).
    privacy: "both", "private" or "nonprivate".
    epsilons: privacy budgets where the experiment sweeps them.
    attacks: attacks of the final evaluation.
    max_examples: bound on attack members / non-members (None: all).
    pretrained: ImageNet checkpoint for CIFAR-100(S) and CelebA (paper).
    overrides: ``key=value`` config overrides applied to every run.
    remove_top: Onion effect: ids removed per layer (None: scale default).
    layers: Onion effect: removal layers.
    num_models: LiRA: models trained, or Onion shadows per layer (None:
      scale default).
    onion_risk: Onion effect: removal ranking, "mlp" (paper) or "lira".
    data_dir: TFDS directory, for experiments that read data to plan.
    tan_factor: k > 1 runs every private cell as a TAN simulation (B/k,
      σ/k, the same steps; ``configs.make_config``).
  """
  scale: configs.Scale
  seeds: Sequence[int]
  datasets: Sequence[str] = ()
  privacy: str = "both"
  epsilons: Sequence[float] = configs.EPSILONS
  attacks: Sequence[str] = PAPER_ATTACKS
  max_examples: Optional[int] = None
  pretrained: Optional[str] = None
  overrides: Sequence[str] = ()
  remove_top: Optional[int] = None
  layers: int = 3
  num_models: Optional[int] = None
  onion_risk: str = "mlp"
  data_dir: Optional[str] = None
  tan_factor: int = 1

  def privacies(self) -> List[Optional[float]]:
    """[8.0] / [None] / both: the epsilon of the private arm is 8."""
    out = []
    if self.privacy in ("both", "private"):
      out.append(8.0)
    if self.privacy in ("both", "nonprivate"):
      out.append(None)
    return out


@dataclasses.dataclass
class Experiment:
  """One of the paper's experiments.

  Attributes:
    name: binary and output name.
    title: what it reproduces.
    default_datasets: (paper scale, CPU scales).
    build: ``fn(args) -> [RunSpec]``.
    report: ``fn(df, args, out_dir) -> [written files]``.
  """
  name: str
  title: str
  default_datasets: Tuple[Tuple[str, ...], Tuple[str, ...]]
  build: Callable[[Args], List[RunSpec]]
  report: Callable[[pd.DataFrame, Args, str], List[str]]

  def datasets(self, args: Args) -> Sequence[str]:
    if args.datasets:
      return args.datasets
    return self.default_datasets[0 if args.scale.family == "paper" else 1]


def privacy_name(epsilon: Optional[float]) -> str:
  return "nonprivate" if epsilon is None else f"eps{epsilon:g}"


# Overrides of the sizes σ and the step counts are calibrated from: the
# subsets become the scale's (and are calibrated for); the batch is the
# scale's per arm and technique, so it is changed there.
_SCALE_SIZES = ("train_subset", "test_subset")
_SCALE_BATCH_FIELDS = ("private_obs", "nonprivate_obs", "bl_batch_private",
                       "bl_batch_nonprivate")


def config(args: Args, dataset, epsilon, techniques, seed, skew=0.95):
  """``configs.make_config`` plus the user's ``--set`` overrides.

  ``train_subset`` and ``test_subset`` overrides change the scale, so σ and
  the step counts are computed for them; ``batch_size`` is refused (it is
  the scale's, per arm and technique: ``--scale_set``).
  """
  keys = [o.partition("=")[0].strip() for o in args.overrides]
  if "batch_size" in keys:
    raise errors.BadInputError(
        "--set=batch_size would leave σ and the step count calibrated for "
        "the scale's batch: change the scale's instead, with --scale_set="
        f"FIELD=B for FIELD in {', '.join(_SCALE_BATCH_FIELDS)}.")
  sizes = [o for o, k in zip(args.overrides, keys) if k in _SCALE_SIZES]
  rest = [o for o, k in zip(args.overrides, keys) if k not in _SCALE_SIZES]
  scale = configs.scale_with(args.scale, sizes)
  pretrained = args.pretrained if base_dataset(dataset) in (
      "cifar100", "celeb_a") else None
  cfg = configs.make_config(dataset, epsilon, techniques, scale, seed,
                            skew=skew, pretrained=pretrained,
                            tan_factor=args.tan_factor)
  return presets.apply_overrides(cfg, rest).validate()


def accuracy_columns(datasets: Sequence[str]) -> List[str]:
  """Test accuracy, plus COLOR/GRAY accuracy where the data is skewed."""
  cols = ["test_accuracy"]
  if any(d.endswith("s") and d != "celeb_a" for d in datasets):
    cols += ["color_accuracy", "gray_accuracy"]
  return cols


def save_figure(fig, out_dir: str, stem: str,
                title: Optional[str] = None) -> List[str]:
  """Titles, lays out and saves PNG and PDF atomically; returns the paths."""
  return figures.save(fig, out_dir, stem, title)


def comparisons(df: pd.DataFrame, arm: str, a, b, metrics, by,
                out_dir: str, stem: str):
  """Paired tests of arm ``b`` against ``a`` across seeds.

  Per group of ``by``, for each (column, label) of ``metrics``.

  Returns (markdown section, files): ``<stem>_comparisons.csv`` holds every
  figure; the section states a difference only where the test supports it
  (``reporting/comparisons.py``).
  """
  if "seed" not in df or df.empty:
    return "", []
  parts, lines = [], []
  for column, label in metrics:
    if column not in df:
      continue
    t = comparisons_lib.paired(df, arm, a, b, column, by=by)
    t.insert(0, "label", label)
    parts.append(t)
    lines += comparisons_lib.sentences(t, label, by)
  if not parts:
    return "", []
  table = pd.concat(parts, ignore_index=True)
  path = os.path.join(out_dir, f"{stem}_comparisons.csv")
  tables.write_csv(table, path)
  if lines:
    body = "\n".join(f"- {line}" for line in lines)
  else:
    body = ("- One seed per arm: no test across seeds, so no comparison is "
            "claimed (run with more `--seeds`).")
  section = (f"\n\n## {b} vs {a}, paired across seeds\n\n{body}\n\n"
             "A difference is stated only when its 95% bootstrap interval "
             "excludes 0 and the Wilcoxon signed-rank p < 0.05 (every figure: "
             f"`{stem}_comparisons.csv`).\n")
  return section, [path]


def write_table(df: pd.DataFrame, out_dir: str, stem: str, title: str,
                md: str) -> List[str]:
  """Writes ``stem.csv``, ``stem.md`` and ``provenance.json``.

  The CSV holds every column, the Markdown the shaped table with a
  provenance footnote, and the JSON who made them and how.
  """
  csv_path = os.path.join(out_dir, f"{stem}.csv")
  md_path = os.path.join(out_dir, f"{stem}.md")
  record = provenance.collect()
  tables.write_csv(df, csv_path)
  note = tables.epsilon_note(df)
  tables.write_text_atomic(
      md_path, f"# {title}\n\n{md}\n\n" + (f"{note}\n\n" if note else "")
      + f"{provenance.markdown(record)}\n")
  prov_path = os.path.join(out_dir, "provenance.json")
  write_json_atomic(prov_path, record)
  return [csv_path, md_path, prov_path]
