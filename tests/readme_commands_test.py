"""Every command the docs tell a user to run is run by the suite.

``COMMANDS`` lists each shell command of the code blocks of README.md and
of every page under docs/, in their words, with how the suite runs it: as
written, plus flags that make it tiny (the same binary and code path on a
couple of hundred images and a few steps), from a working directory laid
out like a checkout with ``../shared`` beside it. A documented command missing
from ``COMMANDS`` (or a
listed one gone from the docs) fails ``test_every_command_is_listed``.

Two commands are run by the suite's driver rather than here: ``bash
scripts/test.sh`` is what ``.ci/run`` runs, and it runs ``bash
scripts/demo.sh`` end to end; this file checks that both calls are there.

The commands are split into ``PARTS`` test methods of about equal cost
(``Command.seconds``), one per Bazel shard; each part runs its commands in
the order of ``COMMANDS`` in its own working directory. A command that reads
what the one before it wrote (``evaluate.py`` reads a run) is marked
``with_previous`` and stays in that command's part.
"""

import dataclasses
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from typing import Dict, Optional, Sequence

from absl.testing import absltest

from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Train a preset for two steps on 200 images (private or not).
TINY_TRAIN = ("--set=train_subset=200", "--set=test_subset=100",
              "--set=batch_size=40", "--set=physical_batch_size=20",
              "--set=steps=2", "--set=eval_every=2",
              "--set=checkpoint_every=2", "--set=log_every=1")
# Paper presets: also the small WRN and two views.
TINY_PAPER_TRAIN = TINY_TRAIN + ("--set=model=wrn_10_1", "--set=augmult=2")
TINY_SWEEP = ("--scale=tiny", "--attacks=threshold")
# A demo-scale sweep of several seeds, tiny: one (the last --seeds wins),
# private only (the validation pairs private runs; the demo commands above
# train both arms).
TAN_TINY = TINY_SWEEP + ("--seeds=1", "--max_examples=100",
                         "--privacy=private")
TAN_WHY = "tiny scale, one seed, private runs only, one attack, for time"


@dataclasses.dataclass(frozen=True)
class Command:
  """How the suite runs one README command."""
  readme: str                 # As the README writes it (continuations joined).
  tiny: Sequence[str] = ()    # Flags appended to make it tiny.
  expect: Optional[str] = None     # Regex the output must match.
  files: Sequence[str] = ()   # Files (relative to cwd) it must write.
  before: Sequence[str] = ()  # Commands (same form) that set it up first.
  why: str = ""               # Where the run deviates from the text, why.
  mock_tfds: int = 0          # Run under tfds.testing.mock_data (N examples).
  driver: Optional[str] = None  # Run by this file instead (checked).
  seconds: float = 30.0       # Rough tiny cost on 2 idle cores (sharding).
  with_previous: bool = False  # Reads what the command before it wrote.


COMMANDS = [
    Command("bash scripts/demo.sh", driver="scripts/test.sh",
            why="scripts/test.sh runs it end to end and counts it as a case"),
    Command("bash scripts/test.sh", driver=".ci/run",
            why=".ci/run runs exactly this command"),
    Command(".venv/bin/python experiments/train.py --preset=smoke_dpsat "
            "--workdir=runs/dpsat", tiny=TINY_TRAIN,
            files=["runs/dpsat/results.json"], expect=r"final: ", seconds=40),
    Command(".venv/bin/python experiments/evaluate.py --workdir=runs/dpsat",
            tiny=("--attacks=threshold", "--max_examples=100"),
            files=["runs/dpsat/eval.json", "runs/dpsat/attacks.csv"],
            why="one attack on 100 examples, for time", with_previous=True,
            seconds=25),
    Command(".venv/bin/python experiments/train.py --preset=cifar10_dpsat_eps8"
            " --workdir=runs/c10_eps8 --set=physical_batch_size=128 "
            "--set=per_example=vectorized", tiny=TINY_PAPER_TRAIN,
            files=["runs/c10_eps8/results.json"],
            expect=r"per-example=vectorized", seconds=45),
    Command(".venv/bin/python experiments/train.py --list_presets",
            expect=r"cifar10_dpsat_eps8\n(.*\n)*smoke_dpsgd", seconds=8),
    Command(".venv/bin/prifa-train --list_presets",
            expect=r"cifar10_dpsat_eps8\n(.*\n)*smoke_dpsgd", seconds=7),
    Command(".venv/bin/python experiments/train.py --preset=smoke "
            "--workdir=runs/mia --mia_every=50 --mia_track_ids=9,27",
            # The preset's own subset (the tracked ids are in it), 2 steps.
            tiny=("--set=steps=2", "--set=eval_every=2",
                  "--set=checkpoint_every=2", "--mia_every=1"),
            files=["runs/mia/mia_history.json", "runs/mia/mia_history.png"],
            seconds=42),
    Command(".venv/bin/python experiments/train.py --preset=cifar10_dpsat_eps8"
            " --workdir=runs/x --distribution=mirrored",
            tiny=TINY_PAPER_TRAIN, files=["runs/x/results.json"], seconds=35),
    Command(".venv/bin/python experiments/evaluate.py --workdir=runs/x "
            "--attacks=all --backend=loky --max_examples=10000",
            tiny=("--max_examples=100",), files=["runs/x/eval.json"],
            expect=r"random_forest|rf", with_previous=True, seconds=45),
    Command(".venv/bin/python experiments/train.py --preset=smoke_dpsat "
            "--workdir=runs/y --distribution=mirrored --cpu_replicas=4",
            tiny=TINY_TRAIN + ("--set=physical_batch_size=25",
                               "--set=batch_size=50"),
            files=["runs/y/results.json"], expect=r"replicas=4", seconds=61),
    Command("TF_CONFIG='{\"cluster\": {\"worker\": [\"host1:12345\", "
            "\"host2:12345\"]}, \"task\": {\"type\": \"worker\", \"index\": "
            "0}}' .venv/bin/python experiments/train.py "
            "--preset=cifar10_dpsat_eps8 --workdir=/shared/runs/x "
            "--distribution=multi_worker",
            tiny=TINY_PAPER_TRAIN,
            why="two workers on 127.0.0.1 (free ports) instead of host1 and "
            "host2, and a workdir in the test's directory instead of "
            "/shared/runs/x", seconds=47),
    Command(".venv/bin/python experiments/audit.py --mode=step "
            "--preset=cifar10_dpsgd_eps8 --workdir=runs/step_audit",
            tiny=TINY_PAPER_TRAIN + ("--trials=200",),
            files=["runs/step_audit/step_audit.json"],
            expect=r"step audit: claimed ε = .*passed", seconds=33),
    Command(".venv/bin/python experiments/audit.py --preset=smoke_dpsgd "
            "--workdir=runs/audit --canaries=500 --alpha=0.05",
            tiny=TINY_TRAIN + ("--canaries=20",),
            files=["runs/audit/audit.json"], seconds=38),
    Command(".venv/bin/python experiments/lira.py --out=sweeps/lira_smoke "
            "--scale=smoke --privacy=nonprivate",
            tiny=TINY_SWEEP + ("--num_models=4",),
            files=["sweeps/lira_smoke/lira.md"], seconds=141),
    Command(".venv/bin/python experiments/ablation.py "
            "--out=sweeps/ablation_smoke", tiny=TINY_SWEEP + ("--dry_run",),
            expect=r"Dry run: 14 of 14 runs to do",
            why="its plan only, for time: the same binary trains and reports "
            "a tiny ablation for real below (--ray_address=local), and "
            "tests/paper/tiny_sweeps_test.py the private arm in process",
            seconds=10),
    Command(".venv/bin/python experiments/onion.py --out=sweeps/onion "
            "--scale=paper --dry_run --throughput=6000",
            expect=r" h at 6000", seconds=11),
    Command(".venv/bin/python experiments/import_jax_privacy.py "
            "--checkpoint=wrn_28_10_imagenet32.npz --model=wrn_28_10 "
            "--num_classes=100 --out=pretrained/wrn_28_10_imagenet32.h5",
            tiny=("--model=wrn_10_1",),
            before=[".venv/bin/python tests/models/haiku_tree.py "
                    "--out=wrn_28_10_imagenet32.npz --depth=10 --width=1"],
            files=["pretrained/wrn_28_10_imagenet32.h5"],
            expect=r"skipped: Softmax \(head re-initialised",
            why="jax_privacy's file cannot be downloaded here: a synthetic "
            "tree with its names and shapes, WRN-10-1 instead of 28-10 for "
            "time", seconds=6),
    Command(".venv/bin/python experiments/ablation.py --out=sweeps/ablation "
            "--scale=paper --pretrained=/ckpt/wrn_28_10_imagenet.h5",
            tiny=("--dry_run",), expect=r"Dry run:",
            why="a cost plan only: CIFAR-100 and the ImageNet checkpoint "
            "cannot be had on these machines", seconds=10),
    Command("bash scripts/smoke_experiments.sh",
            why="PRIFA_SCALE=tiny and one of its experiments (demo); the "
            "others run above and below", seconds=66),
    Command(".venv/bin/python experiments/evaluate.py "
            "--workdir=runs/demo/runs/cifar10s/eps8/seed0",
            before=["mkdir -p runs", "ln -s ../sweeps/smoke/demo runs/demo"],
            files=["runs/demo/runs/cifar10s/eps8/seed0/eval.json",
                   "runs/demo/runs/cifar10s/eps8/seed0/attacks.csv"],
            why="the demo run it reads is the one scripts/smoke_experiments.sh"
            " demo (just above) made at tiny scale",
            seconds=31, with_previous=True),
    Command(".venv/bin/python experiments/past.py "
            "--out=sweeps/past_smoke --scale=smoke --data_dir=../shared/tfds",
            tiny=("--scale=tiny",), files=["sweeps/past_smoke/past.md"],
            seconds=132),
    Command(".venv/bin/python experiments/imbalance.py "
            "--out=sweeps/imbalance_smoke --scale=smoke "
            "--data_dir=/path/to/tfds", tiny=("--scale=tiny",),
            mock_tfds=200, files=["sweeps/imbalance_smoke/imbalance.md"],
            why="CelebA is TFDS mock data (it cannot be downloaded here)",
            seconds=93),
    Command(".venv/bin/python experiments/fnr.py "
            "--out=sweeps/fnr_smoke --scale=smoke --data_dir=../shared/tfds",
            tiny=("--scale=tiny",), files=["sweeps/fnr_smoke/fnr.md"],
            seconds=12),
    Command(".venv/bin/python benchmarks/per_example_throughput.py"
            " --model=wrn_16_4 --batch=16 --augmult=1 --repeats=15",
            tiny=("--model=wrn_10_1", "--batch=4", "--repeats=1"),
            expect=r"non-private", seconds=47),
    Command(".venv/bin/python benchmarks/per_example_throughput.py"
            " --model=wrn_16_4 --batch=4 --augmult=16 "
            "--strategies=per_layer,loop --repeats=7",
            tiny=("--model=wrn_10_1", "--batch=2", "--augmult=2",
                  "--repeats=1"), expect=r"loop", seconds=28),
    Command(".venv/bin/python benchmarks/sampling_and_noise.py"
            " --model=wrn_16_4 --augmult=1,16 --rounds=5",
            tiny=("--model=wrn_10_1", "--augmult=1", "--rounds=1",
                  "--steps_per_round=1", "--n=64", "--batch=16",
                  "--physical=8"),
            expect=r"poisson, secure noise .* ratio", seconds=34),
    Command(".venv/bin/python benchmarks/dp_keras_throughput.py"
            " --model=wrn_10_1 --batch=16 --rounds=5",
            tiny=("--batch=4", "--image_size=8", "--rounds=1", "--steps=1"),
            expect=r"ours DPSGDKerasSGD .* of TF-Privacy's", seconds=69),
    Command(".venv/bin/python benchmarks/attack_suite.py --members=50000 "
            "--nonmembers=10000",
            tiny=("--members=600", "--nonmembers=300", "--noise_floor=false"),
            expect=r"ratio TF-Privacy / pooled", seconds=48),
    Command(".venv/bin/python benchmarks/ray_sweep.py "
            "--data_dir=../shared/tfds", tiny=("--runs=2", "--noop_runs=4"),
            expect=r"speedup, 2 workers vs 1: .*\n(.*\n)*.*ms per run",
            seconds=99),
    Command(".venv/bin/python experiments/ablation.py "
            "--out=sweeps/ablation_tiny --scale=tiny --privacy=nonprivate "
            "--data_dir=../shared/tfds --ray_address=local "
            "--ray_cpus_per_run=1", tiny=("--attacks=threshold",),
            files=["sweeps/ablation_tiny/report.md",
                   "sweeps/ablation_tiny/sweep.json"],
            expect=r"Submitted 7 runs to Ray", seconds=94),
] + [
    # One page per experiment (docs/experiments/): its CPU-scale sweep.
    Command(f".venv/bin/python experiments/{name}.py --out=sweeps/{out} "
            f"--scale=cpu --seeds=6 --data_dir={data}", tiny=("--dry_run",),
            expect=rf"Dry run: {runs} of {runs} runs to do",
            why="its plan only (the run count its page gives), for time: "
            "tests/paper/tiny_sweeps_test.py trains and reports this "
            "experiment at tiny scale", seconds=14)
    for name, out, data, runs in [
        ("ablation", "ablation_cpu", "../shared/tfds", 84),
        ("individual", "individual_cpu", "../shared/tfds", 84),
        ("dpsgd_vs_dpsat", "table4_cpu", "../shared/tfds", 48),
        ("budget_bias", "table6_cpu", "../shared/tfds", 60),
        ("memorization", "memorization_cpu", "../shared/tfds", 30),
        ("onion", "onion_cpu", "../shared/tfds", 48),
        ("celeba", "celeba_cpu", "/path/to/tfds", 24)]
] + [
    Command(".venv/bin/python experiments/lira.py --out=sweeps/lira_cpu "
            "--scale=cpu --data_dir=../shared/tfds", tiny=("--dry_run",),
            expect=r"Dry run: 16 of 16 runs to do",
            why="its plan only (the run count its page gives), for time: "
            "the LiRA smoke command above trains and reports it at tiny "
            "scale", seconds=16),
    Command(".venv/bin/python experiments/demo.py --out=runs/cpu_demo "
            "--scale=cpu --data_dir=../shared/tfds --max_examples=5000",
            tiny=("--scale=tiny", "--attacks=threshold",
                  "--max_examples=100"),
            files=["runs/cpu_demo/demo.md"], seconds=60),
    Command("python3 scripts/export_results.py runs/cpu_demo "
            "results/cpu/demo", files=["results/cpu/demo/demo.md"],
            expect=r"files copied into results/cpu/demo", seconds=1,
            with_previous=True),
    Command(".venv/bin/python experiments/demo.py --out=results/cpu/demo "
            "--scale=cpu --report_only",
            files=["results/cpu/demo/demo.md", "results/cpu/demo/demo.png"],
            expect=r"DP-SAT \+ GT", seconds=15,
            why="on a copy of the committed results/ (the test's checkout)"),
    Command(".venv/bin/python benchmarks/demo_targets.py --out=results/demo "
            "--scale=demo --report_only", expect=r"target ≤ 10 (not )?met",
            files=["results/demo/demo.md"], seconds=15,
            why="on a copy of the committed results/ (the test's checkout)"),
    Command(".venv/bin/python benchmarks/demo_targets.py "
            "--out=results/cpu/demo --scale=cpu --report_only",
            expect=r"target ≥ 65% (not )?met", seconds=15,
            why="on a copy of the committed results/ (the test's checkout)"),
    # The TAN validation (docs/reproduction_cpu.md): both sweeps at tiny
    # scale with one seed, then the paired report, then its rebuild from
    # the committed sweeps.
    Command(".venv/bin/python experiments/demo.py --out=runs/demo6 "
            "--scale=demo --seeds=6 --backend=pooled --max_examples=5000 "
            "--data_dir=../shared/tfds", tiny=TAN_TINY,
            files=["runs/demo6/demo.md"], why=TAN_WHY, seconds=40),
    Command(".venv/bin/python experiments/demo.py --out=runs/demo6_tan4 "
            "--scale=demo --seeds=3 --privacy=private --tan_factor=4 "
            "--backend=pooled --max_examples=5000 --data_dir=../shared/tfds",
            tiny=TAN_TINY, files=["runs/demo6_tan4/demo.md"],
            expect=r"simulated \(TAN ×4\)", why=TAN_WHY, seconds=35,
            with_previous=True),
    Command(".venv/bin/python experiments/tan_validation.py "
            "--reference=runs/demo6 --simulated=runs/demo6_tan4 "
            "--out=runs/tan_validation",
            files=["runs/tan_validation/tan_validation.md",
                   "runs/tan_validation/tan_validation.png"],
            expect=r"One seed per arm: no paired test", seconds=12,
            with_previous=True),
    Command(".venv/bin/python experiments/demo.py --out=results/cpu/demo6 "
            "--scale=demo --seeds=6 --report_only",
            files=["results/cpu/demo6/demo.md"],
            expect=r"paired across seeds", seconds=15,
            why="on a copy of the committed results/ (the test's checkout)"),
    Command(".venv/bin/python experiments/tan_validation.py "
            "--reference=results/cpu/demo6 --simulated=results/cpu/demo6_tan4"
            " --out=results/cpu/tan_validation",
            files=["results/cpu/tan_validation/tan_validation.md"],
            expect=r"What to read", seconds=12,
            why="on a copy of the committed results/ (the test's checkout)"),
    # Table 4 at the demo scale, one seed (docs/reproduction_cpu.md).
    Command(".venv/bin/python experiments/dpsgd_vs_dpsat.py "
            "--out=runs/table4_demo --scale=demo --seeds=1 --backend=pooled "
            "--max_examples=5000 --data_dir=../shared/tfds",
            tiny=("--dry_run",), expect=r"Dry run: 8 of 8 runs to do",
            why="its plan only (the run count the page gives), for time: "
            "tests/paper/tiny_sweeps_test.py trains and reports Table 4 at "
            "tiny scale", seconds=14),
    Command(".venv/bin/python experiments/dpsgd_vs_dpsat.py "
            "--out=results/cpu/table4_demo --scale=demo --seeds=1 "
            "--report_only",
            files=["results/cpu/table4_demo/table4.md",
                   "results/cpu/table4_demo/table4.png"],
            expect=r"DP-SAT", seconds=15,
            why="on a copy of the committed results/ (the test's checkout)"),
    Command(".venv/bin/python benchmarks/group_norm.py --model=wrn_10_1 "
            "--batch=250", tiny=("--batch=8", "--rounds=1", "--image_size=8"),
            expect=r"DP-SGD .*\|", seconds=30),
    Command(".venv/bin/python benchmarks/logical_batch_memory.py"
            " --model=wrn_16_4 --physical=32 --logical=4096",
            tiny=("--model=wrn_10_1", "--physical=4", "--logical=16"),
            expect=r"MiB", seconds=42),
]

PARTS = 4  # = shard_count of the Bazel target.


def split_parts(commands, parts=PARTS):
  """``commands`` (drivers left out) in ``parts`` lists of about equal cost.

  A command marked ``with_previous`` joins the unit of the one before it.
  Units go, costliest first, to the cheapest part so far; each part keeps
  the order of ``commands``.
  """
  units = []
  for index, command in enumerate(commands):
    if command.driver:
      continue
    if command.with_previous:
      units[-1].append((index, command))
    else:
      units.append([(index, command)])
  out = [[] for _ in range(parts)]
  for unit in sorted(units, key=lambda u: -sum(c.seconds for _, c in u)):
    min(out, key=lambda p: sum(c.seconds for _, c in p)).extend(unit)
  return [[c for _, c in sorted(p, key=lambda ic: ic[0])] for p in out]


def doc_files():
  """README.md and every Markdown page under docs/."""
  out = [os.path.join(ROOT, "README.md")]
  for root, _, files in os.walk(os.path.join(ROOT, "docs")):
    out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".md")]
  return out


def readme_commands(text: str):
  """The shell commands of the README's sh/bash code blocks."""
  out = []
  for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, re.S):
    current = ""
    for line in block.splitlines():
      stripped = line.split("  #")[0].strip() if not current else line.strip()
      if not stripped or stripped.startswith("#"):
        continue
      current += stripped.rstrip("\\").strip() + " "
      if not stripped.endswith("\\") and current.count("'") % 2 == 0:
        out.append(current.strip())
        current = ""
  return out


def user_env(**extra):
  """The environment a user's shell has: no PYTHONPATH, no TF log level."""
  env = {k: v for k, v in os.environ.items()
         if k not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
  env.update(extra)
  return env


class ReadmeCommandsTest(absltest.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.data = fixtures.require_tfds()
    # A checkout-like working directory with ../shared/tfds beside it.
    top = absltest.get_default_test_tmpdir()
    cls.cwd = os.path.join(top, "clone")
    shutil.rmtree(os.path.join(top, "shared"), ignore_errors=True)
    shutil.rmtree(cls.cwd, ignore_errors=True)  # A rerun starts clean.
    os.makedirs(cls.cwd)
    for name in ("experiments", "benchmarks", "scripts", "prifa_tf", "tests"):
      os.symlink(os.path.join(ROOT, name), os.path.join(cls.cwd, name))
    # Committed results are copied, not linked: a command rebuilds them.
    shutil.copytree(os.path.join(ROOT, "results"),
                    os.path.join(cls.cwd, "results"))

    venv = os.path.dirname(os.path.dirname(sys.executable))
    os.symlink(venv, os.path.join(cls.cwd, ".venv"))
    os.makedirs(os.path.join(top, "shared"), exist_ok=True)
    os.symlink(cls.data, os.path.join(top, "shared", "tfds"))
    cls.times: Dict[str, float] = {}

  @classmethod
  def tearDownClass(cls):
    for command, seconds in cls.times.items():
      print(f"{seconds:6.1f} s  {command[:100]}")
    super().tearDownClass()

  def run_shell(self, line, tiny=(), mock_tfds=0, env=None, timeout=1200):
    """Runs a README line (plus ``tiny`` flags) in the clone; returns proc."""
    words = shlex.split(line)
    assignments = {}
    while "=" in words[0] and not words[0].startswith("-"):
      key, value = words.pop(0).split("=", 1)
      assignments[key] = value
    if mock_tfds:
      words = [words[0], os.path.join(ROOT, "tests", "run_with_mock_tfds.py"),
               str(mock_tfds), *words[1:]]
    # As a user runs it: no PYTHONPATH (prifa_tf is installed in .venv by
    # scripts/setup.sh) and the default (quiet) verbosity.
    full = user_env(PRIFA_TFDS_DIR=self.data)
    full.update(assignments)
    full.update(env or {})
    start = time.time()
    proc = subprocess.run([*words, *tiny], cwd=self.cwd, env=full,
                          capture_output=True, text=True, timeout=timeout,
                          check=False)
    self.times[line] = self.times.get(line, 0.0) + time.time() - start
    return proc

  def check(self, command, proc):
    out = proc.stdout + proc.stderr
    self.assertEqual(proc.returncode, 0, f"{command.readme}\n{out[-4000:]}")
    if command.expect:
      self.assertRegex(out, command.expect)
    for f in command.files:
      self.assertTrue(os.path.exists(os.path.join(self.cwd, f)),
                      f"{command.readme} did not write {f}")

  def test_every_command_is_listed(self):
    found = []
    for path in doc_files():
      with open(path) as f:
        found += readme_commands(f.read())
    listed = [c.readme for c in COMMANDS]
    self.assertEqual(sorted(set(found) - set(listed)), [],
                     "README commands that no test runs")
    self.assertEqual(sorted(set(listed) - set(found)), [],
                     "listed commands no longer in the README")

  def test_installed_without_pythonpath(self):
    # prifa_tf and the binaries import from anywhere, and every console
    # script named in pyproject.toml is on .venv/bin and runs.
    venv = os.path.join(self.cwd, ".venv", "bin")
    proc = subprocess.run(
        [os.path.join(venv, "python"), "-c",
         "import prifa_tf, experiments.train; print(prifa_tf.__version__)"],
        cwd=absltest.get_default_test_tmpdir(), env=user_env(),
        capture_output=True, text=True, check=False)
    self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
    with open(os.path.join(ROOT, "pyproject.toml")) as f:
      scripts = re.findall(r"^(prifa-[a-z-]+) = \"(experiments\.\w+):run\"",
                           f.read(), re.M)
    self.assertLen(scripts, len(
        [n for n in os.listdir(os.path.join(ROOT, "experiments"))
         if n.endswith(".py") and n != "__init__.py"]))
    for name, _ in scripts:
      self.assertTrue(os.access(os.path.join(venv, name), os.X_OK), name)
    # Each kind of binary loads and parses its own flags (absl's
    # --only_check_args exits 0 after parsing; each start pays ~10 s of TF
    # import, so not all sixteen): a training binary, a sweep, a study.
    for name, own_flag in (("prifa-audit", "--canaries=10"),
                           ("prifa-ablation", "--scale=tiny"),
                           ("prifa-fnr", "--scale=tiny")):
      proc = subprocess.run([os.path.join(venv, name), "--only_check_args",
                             own_flag],
                            env=user_env(), capture_output=True, text=True,
                            check=False, timeout=300)
      self.assertEqual(proc.returncode, 0, f"{name}: {proc.stderr[-2000:]}")

  def test_drivers_run_their_commands(self):
    with open(os.path.join(ROOT, ".ci", "run")) as f:
      self.assertRegex(f.read(), r"\nexec bash scripts/test\.sh\n")
    with open(os.path.join(ROOT, "scripts", "test.sh")) as f:
      self.assertRegex(f.read(), r"\n  bash scripts/demo\.sh ")

  def test_parts_hold_every_command_once(self):
    parts = split_parts(COMMANDS)
    self.assertLen(parts, PARTS)
    held = [c.readme for p in parts for c in p]
    self.assertCountEqual(held, [c.readme for c in COMMANDS if not c.driver])
    for part in parts:  # A command that reads the previous one's output.
      for i, command in enumerate(part):
        if command.with_previous:
          before = COMMANDS[[c.readme for c in COMMANDS].index(
              command.readme) - 1]
          self.assertIs(part[i - 1], before, command.readme)

  def run_part(self, index):
    for command in split_parts(COMMANDS)[index]:
      with self.subTest(command.readme[:80]):
        self.run_command(command)

  def run_command(self, command):
    for line in command.before:
      proc = self.run_shell(line)
      self.assertEqual(proc.returncode, 0, proc.stderr[-3000:])
    if command.readme.startswith("TF_CONFIG="):
      self.run_multi_worker(command)
    elif command.readme.startswith("bash scripts/smoke_experiments.sh"):
      proc = self.run_shell(
          command.readme + " demo",
          env={"PRIFA_SCALE": "tiny", "PRIFA_FLAGS": "--attacks=threshold"})
      self.check(command, proc)
      self.assertIn("=== demo took", proc.stdout)
      self.assertTrue(os.path.exists(os.path.join(
          self.cwd, "sweeps", "smoke", "demo", "demo.md")))
    else:
      self.check(command, self.run_shell(command.readme, command.tiny,
                                         command.mock_tfds))

  # One method per part, so that Bazel's shards run the parts side by side.
  def test_commands_part0(self):
    self.run_part(0)

  def test_commands_part1(self):
    self.run_part(1)

  def test_commands_part2(self):
    self.run_part(2)

  def test_commands_part3(self):
    self.run_part(3)

  def run_multi_worker(self, command):
    hosts = [f"127.0.0.1:{p}" for p in fixtures.free_ports(2)]
    workdir = os.path.join(self.cwd, "runs", "multi_worker")
    line = command.readme.split("' ", 1)[1].replace(
        "--workdir=/shared/runs/x", f"--workdir={workdir}")
    procs = []
    for index in range(2):
      tf_config = json.dumps({"cluster": {"worker": hosts},
                              "task": {"type": "worker", "index": index}})
      words = shlex.split(line)
      env = user_env(PRIFA_TFDS_DIR=self.data, TF_CONFIG=tf_config)
      procs.append(subprocess.Popen(
          [*words, *command.tiny], cwd=self.cwd, env=env, text=True,
          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    start = time.time()
    outs = [p.communicate(timeout=900)[0] for p in procs]
    self.times[command.readme] = time.time() - start
    for p, out in zip(procs, outs):
      self.assertEqual(p.returncode, 0, out[-3000:])
    with open(os.path.join(workdir, "results.json")) as f:
      self.assertEqual(json.load(f)["status"], "completed")


if __name__ == "__main__":
  absltest.main()
