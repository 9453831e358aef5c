"""Bad input never costs a user a run: one case per row of CASES.

Each row runs a binary as a user would (a subprocess), on a workdir set up
as the case needs, and expects an exit code, a one-line message that names
what to fix, and every file that existed before left byte-for-byte as it
was. Configuration errors must also come before anything is written (no
``config.json`` is pinned), so the corrected command works in the same
workdir.
"""

import dataclasses
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import textwrap
import unittest
from typing import Callable, Optional, Sequence

from absl.testing import absltest
from absl.testing import parameterized

from prifa_tf.reporting import results as results_lib
from tests import fixtures

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
PRIVATE = "--preset=smoke_dpsgd"


@dataclasses.dataclass(frozen=True)
class Case:
  name: str
  binary: str
  flags: Callable[[str], Sequence[str]]  # workdir -> flags
  message: str                           # regex the error output must match
  setup: Optional[Callable[[str], None]] = None
  code: int = 2
  needs_data: bool = False
  workdir_arg: str = "--workdir"  # "" passes none.


def _interrupted_run(workdir):
  """A workdir as an interrupted private run leaves it, state file garbled."""
  os.makedirs(os.path.join(workdir, "checkpoints"))
  for step in (20, 40):
    for suffix in (".index", ".data-00000-of-00001"):
      with open(os.path.join(workdir, "checkpoints", f"ckpt-{step}{suffix}"),
                "wb") as f:
        f.write(os.urandom(64))
  with open(os.path.join(workdir, "checkpoints", "checkpoint"), "w") as f:
    f.write("garbage \x00 not a CheckpointState\n")


def _file_at(path):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with open(path, "w") as f:
    f.write("a file, not a directory\n")


def _read_only(workdir):
  """Makes ``workdir`` read-only, for root too (immutable attribute)."""
  os.makedirs(os.path.join(workdir, "tensorboard"), exist_ok=True)
  for d in (os.path.join(workdir, "tensorboard"), workdir):
    if subprocess.run(["chattr", "+i", d], capture_output=True,
                      check=False).returncode:
      os.chmod(d, 0o555)
  if results_lib.is_writable(workdir):
    # Root without CAP_LINUX_IMMUTABLE (e.g. inside Bazel's sandbox; the
    # BUILD target asks for none) can write whatever the mode bits say.
    raise unittest.SkipTest("cannot make a read-only directory here (root "
                            "without the immutable attribute)")


def _read_only_dir(out):
  os.makedirs(out)
  _read_only(out)


def _completed_run(workdir):
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    f.write('{"status": "completed", "steps": 1, "config": {}}')
  _read_only(workdir)


def _bad_results(workdir):
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    f.write('{"status": "compl\x01eted"')


def _corrupt_data_dir(workdir):
  copy = os.path.join(workdir, "..", "tfds_copy")
  if not os.path.exists(copy):
    shutil.copytree(os.path.join(fixtures.require_tfds(), "cifar10"),
                    os.path.join(copy, "cifar10"))
    (record,) = glob.glob(os.path.join(copy, "cifar10", "*",
                                       "cifar10-train.tfrecord*"))
    with open(record, "r+b") as f:
      f.truncate(os.path.getsize(record) // 3)


_HELD = []  # Lock files held open by this process during the test.


def _locked_sweep(out):
  """A sweep directory whose lock another driver (this process) holds."""
  os.makedirs(out, exist_ok=True)
  fd = os.open(os.path.join(out, "sweep.lock"), os.O_RDWR | os.O_CREAT)
  fcntl.flock(fd, fcntl.LOCK_EX)
  os.write(fd, f"pid {os.getpid()} on this host\n".encode())
  _HELD.append(fd)


CASES = [
    Case("unknown_model", "train", lambda w: [PRIVATE, "--set=model=wrn_99_1"],
         r"model must be one of"),
    Case("bad_normalization", "train",
         lambda w: [PRIVATE, "--set=normalization=layer"],
         r"normalization must be one of"),
    Case("bad_optimizer", "train", lambda w: [PRIVATE, "--set=optimizer=rms"],
         r"optimizer must be one of"),
    Case("bad_accountant", "train", lambda w: [PRIVATE, "--set=accountant=x"],
         r"accountant must be one of"),
    Case("bad_strategy", "train",
         lambda w: [PRIVATE, "--set=per_example=jacobian"],
         r"per_example must be one of"),
    Case("bad_group_count", "train", lambda w: [PRIVATE, "--set=groups=5"],
         r"GroupNorm with 5 groups"),
    Case("batch_larger_than_n", "train",
         lambda w: [PRIVATE, "--set=batch_size=6000"],
         r"batch_size 6000 exceeds the 5000 training examples"),
    Case("subset_larger_than_split", "train",
         lambda w: [PRIVATE, "--set=train_subset=60000"],
         r"train_subset must be in \[1, 50000\]"),
    Case("missing_pretrained", "train",
         lambda w: [PRIVATE, "--set=pretrained=/nonexistent/imagenet.h5"],
         r"pretrained checkpoint '/nonexistent/imagenet.h5' is not a file"),
    Case("infinite_target_epsilon", "train",
         lambda w: [PRIVATE, "--set=target_epsilon=inf", "--set=steps=None"],
         r"target_epsilon must be finite"),
    Case("unknown_field", "train", lambda w: [PRIVATE, "--set=stepz=3"],
         r"Unknown config field 'stepz'"),
    Case("corrupt_checkpoint_state", "train", lambda w: [PRIVATE],
         r"state file 'checkpoint' is missing or unreadable",
         setup=_interrupted_run),
    Case("workdir_is_a_file", "train", lambda w: [PRIVATE],
         r"is a file; choose a directory", setup=_file_at),
    Case("workdir_under_a_file", "train", lambda w: [PRIVATE],
         r"lies under the file", setup=lambda w: _file_at(w + "_file"),
         workdir_arg="--workdir=_file/run"),
    Case("read_only_workdir_on_resume", "train", lambda w: [PRIVATE],
         r"not writable", setup=_read_only),
    Case("unreadable_results", "train", lambda w: [PRIVATE],
         r"results\.json is not valid JSON", setup=_bad_results),
    Case("bad_track_ids", "train",
         lambda w: [PRIVATE, "--mia_every=5", "--mia_track_ids=abc"],
         r"--mia_track_ids must be training ids"),
    Case("evaluate_read_only", "evaluate", lambda w: [],
         r"not writable.*nothing was run", setup=_completed_run),
    Case("evaluate_sweep_directory", "evaluate", lambda w: [],
         r"is a sweep directory, not a run; pass one of its runs",
         setup=lambda w: _file_at(os.path.join(w, "runs", "a", "seed0",
                                               "results.json"))),
    Case("paper_scale_from_scratch", "ablation",
         lambda w: ["--scale=paper", "--datasets=cifar100", "--seeds=1"],
         r"the paper fine-tunes cifar100 from an ImageNet-pretrained.*"
         r"--from_scratch", workdir_arg="--out"),
    Case("scale_file_missing", "ablation",
         lambda w: ["--scale=/nonexistent/my_scale.py"],
         r"--scale /nonexistent/my_scale\.py: no such file",
         workdir_arg="--out"),
    Case("unknown_scale", "ablation", lambda w: ["--scale=bogus"],
         r"Unknown scale 'bogus'", workdir_arg="--out"),
    Case("scale_set_unknown_field", "ablation",
         lambda w: ["--scale=tiny", "--scale_set=bogus=1"],
         r"--scale_set: unknown field 'bogus'", workdir_arg="--out"),
    Case("scale_set_bad_value", "ablation",
         lambda w: ["--scale=tiny", "--scale_set=train_subset=0"],
         r"train_subset must be None or an integer > 0", workdir_arg="--out"),
    Case("sweep_batch_size_override", "ablation",
         lambda w: ["--scale=tiny", "--set=batch_size=10"],
         r"--set=batch_size would leave", workdir_arg="--out"),
    Case("sweep_out_is_a_file", "ablation", lambda w: ["--scale=tiny"],
         r"--out .* is a file", setup=_file_at, workdir_arg="--out"),
    Case("ray_head_unreachable", "ablation",
         lambda w: ["--scale=tiny", "--ray_address=127.0.0.1:1"],
         r"no Ray head answers at 127\.0\.0\.1:1", workdir_arg="--out"),
    Case("ray_address_malformed", "ablation",
         lambda w: ["--scale=tiny", "--ray_address=head-without-port"],
         r"is not auto, local or HOST:PORT", workdir_arg="--out"),
    Case("sweep_has_a_driver", "ablation", lambda w: ["--scale=tiny"],
         r"being run by another driver \(pid \d+", setup=_locked_sweep,
         workdir_arg="--out"),
    Case("train_without_workdir", "train", lambda w: [PRIVATE],
         r"^error: --workdir is required\.$", workdir_arg=""),
    Case("unknown_flag", "train", lambda w: [PRIVATE, "--bogus_flag=1"],
         r"^error: Unknown command line flag 'bogus_flag'"),
    Case("image_size_negative", "train",
         lambda w: [PRIVATE, "--set=image_size=-3"],
         r"image_size must be None \(no resize\) or >= 8; got -3"),
    Case("image_size_zero", "train", lambda w: [PRIVATE, "--set=image_size=0"],
         r"image_size must be None \(no resize\) or >= 8; got 0"),
    Case("seed_negative", "train", lambda w: [PRIVATE, "--set=seed=-1"],
         r"seed must be in \[0, 2\*\*32 - 1\]; got -1"),
    Case("evaluate_missing_path", "evaluate", lambda w: [],
         r"run: no such directory"),
    Case("sweep_epsilon_nan", "ablation",
         lambda w: ["--scale=tiny", "--epsilons=nan", "--dry_run"],
         r"--epsilons must be finite and > 0", workdir_arg="--out"),
    Case("sweep_out_not_writable", "ablation",
         lambda w: ["--scale=tiny", "--dry_run"],
         r"the sweep directory .* cannot be written", setup=_read_only_dir,
         workdir_arg="--out"),
    Case("tan_validation_no_runs", "tan_validation",
         lambda w: [f"--reference={w}", f"--simulated={w}"],
         r"holds no evaluated private run", workdir_arg="--out"),
    Case("corrupt_tfrecord", "train",
         lambda w: [PRIVATE,
                    f"--data_dir={os.path.join(w, '..', 'tfds_copy')}"],
         r"corrupt or truncated", setup=_corrupt_data_dir, needs_data=True),
]


def _snapshot(top):
  """{path: sha256} of every file under ``top`` (or ``top`` itself)."""
  if os.path.isfile(top):
    with open(top, "rb") as f:
      return {top: hashlib.sha256(f.read()).hexdigest()}
  out = {}
  for root, _, files in os.walk(top):
    for name in files:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        out[path] = hashlib.sha256(f.read()).hexdigest()
  return out


class BadInputTest(parameterized.TestCase):

  def tearDown(self):
    super().tearDown()
    # Undo the immutable attribute, or the test's temp dir cannot be removed.
    subprocess.run(["chattr", "-R", "-i", absltest.TEST_TMPDIR.value],
                   capture_output=True, check=False)

  @parameterized.named_parameters((c.name, c) for c in CASES)
  def test_case(self, case):
    if case.needs_data:
      fixtures.require_tfds()
    base = self.create_tempdir().full_path
    workdir = os.path.join(base, "run")
    if case.setup:
      case.setup(workdir)
    before = _snapshot(base)
    if not case.workdir_arg:
      target = []
    elif case.workdir_arg.startswith("--workdir="):
      target = [f"--workdir={workdir}" + case.workdir_arg.split("=", 1)[1]]
    else:
      target = [f"{case.workdir_arg}={workdir}"]
    flags = list(case.flags(workdir))
    if case.binary == "train" and not any(
        f.startswith("--data_dir") for f in flags):
      # No data: a check that waited for the data would fail differently.
      flags.append("--data_dir=/nonexistent")
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "experiments",
                                      f"{case.binary}.py"),
         *target, *flags],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    out = proc.stdout + proc.stderr
    self.assertEqual(proc.returncode, case.code, out[-3000:])
    self.assertRegex(out.strip(), re.compile(case.message, re.M))
    self.assertNotIn("Traceback", out)
    self.assertNotIn("bug or an environment problem", out)
    after = _snapshot(base)
    self.assertEqual({p: h for p, h in after.items() if p in before}, before,
                     "an existing file changed")
    if case.binary == "train":
      self.assertFalse(os.path.exists(os.path.join(workdir, "config.json")) and
                       os.path.join(workdir, "config.json") not in before,
                       "a config was pinned by a failed run")


class CrashTest(absltest.TestCase):

  def test_a_value_error_inside_a_step_is_a_crash(self):
    # Not bad input: exit 1, one line, the traceback in the run's error.txt.
    fixtures.require_tfds()
    workdir = os.path.join(self.create_tempdir().full_path, "run")
    code = textwrap.dedent("""
        import sys
        from prifa_tf.training import trainer

        def broken_step(self, step):
          raise ValueError("a shape mismatch deep in a step")

        trainer.Trainer._logical_step = broken_step
        from experiments import train
        train.run()
    """)
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, "-c", code, "--preset=smoke",
         f"--workdir={workdir}", "--set=train_subset=100",
         "--set=test_subset=50", "--set=steps=2", "--set=batch_size=20",
         "--set=physical_batch_size=20"],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    self.assertEqual(proc.returncode, 1, proc.stderr[-3000:])
    self.assertRegex(proc.stderr, r"error: ValueError: a shape mismatch deep "
                     r"in a step\n.*bug or an environment problem")
    with open(os.path.join(workdir, "error.txt")) as f:
      trace = f.read()
    self.assertIn("Traceback", trace)
    self.assertIn("broken_step", trace)


if __name__ == "__main__":
  absltest.main()
