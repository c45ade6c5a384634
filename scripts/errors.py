"""Errors a user can cause, and the exit codes they map to.

tasks.py turns these into a one-line message and an exit code; nothing else in scripts/ exits.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

EXIT_OK = 0
EXIT_PROBLEMS = 1  # a check ran and found problems
EXIT_USAGE = 2  # bad usage or configuration


class UserError(Exception):
    """A problem the user can fix; shown as one line, never with a traceback."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line

    def __str__(self) -> str:
        if self.path is None:
            return self.message
        where = str(self.path) if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"


class UsageError(UserError):
    """Bad options or configuration (exit 2)."""

    exit_code = EXIT_USAGE


class CheckFailed(UserError):
    """A check ran and found problems, or an operation was refused (exit 1)."""

    exit_code = EXIT_PROBLEMS


def require_dev_package(module: str, needed_by: str) -> None:
    """Raise a UsageError naming the install command when `module`, a development requirement only, is missing."""
    if importlib.util.find_spec(module) is None:
        raise UsageError(f"{needed_by} needs {module}, a development requirement: pip install -r requirements-dev.txt")
