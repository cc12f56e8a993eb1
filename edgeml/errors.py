"""The edgeml error hierarchy.

Every error a user can cause derives from :class:`EdgeMLError`. The CLI prints
``str(err)`` as one line and exits with ``err.exit_code`` (2 for user errors);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

__all__ = [
    "EdgeMLError",
    "DataError",
    "TargetError",
    "BudgetError",
    "ModelError",
    "ExportError",
    "RunDirError",
    "OutputError",
    "RuntimeFailure",
    "HILError",
    "RegressionError",
]


class EdgeMLError(Exception):
    """Base class: a problem the user can fix. ``hint`` says how.

    ``limit`` names the :class:`~edgeml.estimate.Limits` field the problem is about
    (``max_arena_bytes``), as the message does; a front end (the command line)
    can say which of its options sets it.
    """

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None,
                 limit: str | None = None) -> None:
        self.message = message
        self.hint = hint
        self.limit = limit
        super().__init__(message if not hint else f"{message}; {hint}")


class DataError(EdgeMLError):
    """The data file or array cannot be used (missing, malformed, NaN, ...)."""


class TargetError(EdgeMLError):
    """Unknown target name or a malformed target profile."""


class BudgetError(EdgeMLError):
    """No candidate model meets the target's limits and the user's budget."""


class ModelError(EdgeMLError):
    """A model file is not a usable TFLite flatbuffer for this purpose."""


class ExportError(EdgeMLError):
    """An export cannot be written (bad name, existing user files, ...)."""


class RunDirError(EdgeMLError):
    """A run directory is missing, unfinished or damaged (search --resume, export, compress)."""
class OutputError(EdgeMLError, OSError):
    """An output location cannot be written: not a folder, read-only or immutable, full,
    or holding files edgeml did not write. Also an :class:`OSError`, so code that treats
    a failed optional write (a cache) as harmless keeps doing so."""


class RuntimeFailure(EdgeMLError):
    """A tool edgeml drives (TFLM, the converter) failed on a valid input."""

    exit_code = 1


class HILError(EdgeMLError):
    """A board, serial port, flashing tool or power analyser did not do what the
    hardware-in-the-loop harness asked (no reply, port gone, tool missing)."""


class RegressionError(HILError):
    """A bench measured a regression against its saved baseline (not a user error)."""

    exit_code = 1
