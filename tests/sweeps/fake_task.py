"""A sweep task without TensorFlow: each run writes a file from its
parents' files, so results show that dependencies were honoured."""

import contextlib
import dataclasses
import json
import os
import time
from typing import Optional, Sequence

from prifa_tf.sweeps import runner
from prifa_tf.sweeps.spec import RunSpec
from prifa_tf.training import config as config_lib

RESULT = "result.json"


def spec(name, parents: Sequence[str] = (), value=1, fail=False,
         seconds=0.0):
  """A run whose result is value + the sum of its parents' results."""
  cfg = config_lib.TrainConfig(dataset="cifar10", private=False, steps=1)
  return RunSpec(name=name, config=cfg,
                 labels={"value": value, "fail": fail, "seconds": seconds},
                 after=tuple(parents))


def chain():
  """a -> b -> c, and d after a and b; e alone."""
  return [spec("a", value=1), spec("b", ["a"], value=2),
          spec("c", ["b"], value=3), spec("d", ["a", "b"], value=4),
          spec("e", value=5)]


def quiet(_):
  pass


@dataclasses.dataclass
class SumTask:
  """Run = read parents' results, wait ``seconds``, write the sum."""
  started: Optional[str] = None  # A file each run appends its name to.

  def session(self):
    return contextlib.nullcontext()

  def is_finished(self, out_dir, s):
    return os.path.exists(os.path.join(runner.run_dir(out_dir, s.name),
                                       RESULT))

  cost_unit = "runs"

  def cost(self, s):
    del s
    return {"units": 1.0}

  def run(self, out_dir, s, log):
    if self.started:
      with open(self.started, "a") as f:
        f.write(f"{s.name} {os.getpid()}\n")
    total = s.labels["value"]
    for p in s.after:
      with open(os.path.join(runner.run_dir(out_dir, p), RESULT)) as f:
        total += json.load(f)["value"]
    workdir = runner.run_dir(out_dir, s.name)
    os.makedirs(workdir, exist_ok=True)
    # A checkpoint: a retried run resumes from the time already spent.
    ckpt = os.path.join(workdir, "ckpt.json")
    spent = 0.0
    if os.path.exists(ckpt):
      with open(ckpt) as f:
        spent = json.load(f)["spent"]
    while spent < s.labels["seconds"]:
      time.sleep(0.1)
      spent += 0.1
      with open(ckpt + ".tmp", "w") as f:
        json.dump({"spent": spent}, f)
      os.replace(ckpt + ".tmp", ckpt)
    if s.labels["fail"]:
      raise ValueError(f"{s.name} fails on purpose")
    log(f"{s.name} = {total}")
    with open(os.path.join(workdir, RESULT + ".tmp"), "w") as f:
      json.dump({"value": total, "resumed_from": spent}, f)
    os.replace(os.path.join(workdir, RESULT + ".tmp"),
               os.path.join(workdir, RESULT))


def result(out_dir, name):
  with open(os.path.join(runner.run_dir(out_dir, name), RESULT)) as f:
    return json.load(f)["value"]
