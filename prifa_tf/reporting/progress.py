"""Progress of long work: tqdm bars on a terminal, timed lines elsewhere.

``bar`` is a tqdm bar on stderr that shows itself only when stderr is a
terminal (tqdm's ``disable=None``), so logs and tests get plain lines.
``StepClock`` measures training's steady-state rate: the first step of a
session (graph tracing) and evaluations are left out of the rate, and the
ETA is the remaining steps at the measured wall time per step, evaluations
amortised.
"""

import contextlib
import sys
import time
from typing import Optional

from tqdm import tqdm


def bar(total: int, desc: str = "", initial: int = 0, unit: str = "step",
        leave: bool = False, enabled: Optional[bool] = None) -> tqdm:
  """A tqdm bar on stderr; ``enabled=None``: only on a terminal.

  ``bar(...).disable`` is truthy exactly when no bar is shown, so callers
  print their plain progress lines then.
  """
  disable = True if enabled is False else (None if enabled is None
                                            else False)
  made = tqdm(total=total, initial=initial, desc=desc or None, unit=unit,
              leave=leave, file=sys.stderr, disable=disable,
              dynamic_ncols=True, mininterval=0.5)
  made.disable = bool(made.disable)
  return made


@contextlib.contextmanager
def printing_over(progress: tqdm):
  """Prints inside this context without breaking ``progress``'s line."""
  if progress.disable:
    yield
  else:
    with tqdm.external_write_mode(file=sys.stderr):
      yield


def format_seconds(seconds: Optional[float]) -> str:
  if seconds is None:
    return "?"
  seconds = int(round(seconds))
  h, rest = divmod(seconds, 3600)
  m, s = divmod(rest, 60)
  return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class StepClock:
  """Steady-state throughput and ETA of a training loop."""

  def __init__(self, total_steps: int):
    self.total = total_steps
    self.begin = time.time()
    self._first_done: Optional[float] = None  # wall time after 1st step
    self._steps_after_first = 0
    self._step_seconds = 0.0   # time inside steps after the first

  def step_done(self, seconds: float) -> None:
    """Records one step that took ``seconds`` (training only)."""
    if self._first_done is None:
      self._first_done = time.time()  # Includes tracing: not in the rate.
      return
    self._steps_after_first += 1
    self._step_seconds += seconds

  def steps_per_second(self) -> Optional[float]:
    if not self._steps_after_first or self._step_seconds <= 0:
      return None
    return self._steps_after_first / self._step_seconds

  def elapsed(self) -> float:
    return time.time() - self.begin

  def eta(self, done: int) -> Optional[float]:
    """Seconds left, or None before two steps.

    The remaining steps at the wall time per step since the first
    (evaluations amortised).
    """
    if self._first_done is None or not self._steps_after_first:
      return None
    per_step = (time.time() - self._first_done) / self._steps_after_first
    return max(self.total - done, 0) * per_step
