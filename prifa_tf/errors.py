"""prifa_tf's errors: one hierarchy, and the exit status each gives.

::

  PrifaError
  ├── BadInputError (a ValueError)            exit 2
  │   ├── ConfigError                         a setting is out of range
  │   ├── UnknownNameError (a KeyError)       no preset, scale, ... so named
  │   ├── DatasetUnavailableError             the data is not there
  │   ├── WorkdirError                        a workdir of another config,
  │   │                                       or a corrupt checkpoint
  │   ├── ResultFileError                     a result file is unreadable
  │   ├── EvaluationError                     nothing to evaluate there
  │   ├── CheckpointImportError               a checkpoint does not fit
  │   ├── HaikuImportError                    a jax_privacy tree does not fit
  │   ├── PrivateBatchNormError               BatchNorm in a private model
  │   ├── UnsupportedLayerError               per_layer cannot clip a layer
  │   ├── TrainingDivergedError               the loss became non-finite
  │   ├── SweepLocked                         another driver runs the sweep
  │   └── RayUnavailable                      no Ray, or no cluster there
  ├── AuditFailure (an AssertionError)        exit 3
  └── SweepError                              a run cannot start: a parent
                                              lacks what it needs

A ``BadInputError`` is something the user can change: its message says
what and how, and a binary prints it as one ``error:`` line and exits 2
without touching what was already written. ``AuditFailure`` means an
empirical privacy bound exceeded the claimed ε: a bug in the DP engine or
its accounting, exit 3, never silent. Anything else, including a
``ValueError`` that is not a ``BadInputError``, is a bug or an environment
problem: exit 1, with its traceback kept in the run's ``error.txt``.

``BadInputError`` subclasses ``ValueError`` (and ``UnknownNameError``
``KeyError``), so library callers that catch those keep working.
"""

EXIT_OK = 0
EXIT_CRASH = 1
EXIT_BAD_INPUT = 2
EXIT_AUDIT_FAILURE = 3


class PrifaError(Exception):
  """Base of every error prifa_tf raises on purpose."""


class BadInputError(PrifaError, ValueError):
  """The user's input (flags, config, files, data) cannot be used."""


class ConfigError(BadInputError):
  """A configuration value is invalid (message says which and why)."""


class UnknownNameError(BadInputError, KeyError):
  """No preset, scale or other named thing is called that."""

  def __str__(self):  # KeyError would quote the message.
    return str(self.args[0]) if self.args else ""


class DatasetUnavailableError(BadInputError):
  """The dataset is not in the data directory and may not be downloaded."""


class WorkdirError(BadInputError):
  """The workdir holds another config's run, or a corrupt checkpoint."""


class ResultFileError(BadInputError):
  """A result file is unreadable, truncated or not JSON."""


class EvaluationError(BadInputError):
  """A workdir cannot be evaluated (no such directory, or no results)."""


class CheckpointImportError(BadInputError):
  """A pretrained checkpoint does not match the model."""


class HaikuImportError(BadInputError):
  """A jax_privacy Haiku tree does not match the Keras WRN."""


class PrivateBatchNormError(BadInputError):
  """BatchNorm was asked for in a private model (it mixes examples)."""


class UnsupportedLayerError(BadInputError):
  """``per_example=per_layer`` was asked for a layer it has no rule for."""


class TrainingDivergedError(BadInputError):
  """The loss became non-finite; the last good checkpoint is kept."""


class SweepLocked(BadInputError):
  """Another driver is running this sweep."""


class RayUnavailable(BadInputError):
  """Ray is not installed, or the cluster cannot be reached."""


class AuditFailure(PrifaError, AssertionError):
  """An empirical lower bound on ε exceeds the claimed ε."""


class SweepError(PrifaError):
  """A run cannot start: a parent lacks what it needs."""


def exit_status(error: BaseException) -> int:
  """The exit status a binary gives for ``error``."""
  if isinstance(error, AuditFailure):
    return EXIT_AUDIT_FAILURE
  if isinstance(error, BadInputError):
    return EXIT_BAD_INPUT
  return EXIT_CRASH
