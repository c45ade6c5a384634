"""What every task's report offers the adapter in tasks.py: whether it passed, and its text."""
from __future__ import annotations

from typing import Protocol

from scripts.errors import EXIT_OK, EXIT_PROBLEMS


class Report(Protocol):
    """A check's findings: `ok` is False when it found problems (exit 1); `render()` is what the task prints."""

    @property
    def ok(self) -> bool: ...

    def render(self) -> str: ...


def exit_code(report: Report) -> int:
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def last_line(text: str) -> str:
    """The last non-blank line of a report or an error, stripped: its verdict."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
