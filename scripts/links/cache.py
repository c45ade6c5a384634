"""The cache of external URLs that answered well, kept in .cache/links.json between runs.

A cache is trusted whole or not at all: one that cannot be read, is not a file, or holds an entry that
could not have been written (a timestamp that is not a finite time between 0 and now, a status that is
not an HTTP status) is moved aside, never deleted, and a new one is started, so a damaged cache can only
cost requests, never turn a broken URL into a cached success.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from scripts.links.external_report import UrlResult

CACHE_FILE = Path(".cache") / "links.json"


CACHE_VERSION = 1


class ResultCache:
    """Successes of earlier runs, by URL; loaded and saved whole. `warnings` says what went wrong with the file."""

    def __init__(self, path: Path, max_age_days: float, *, now: float, shown: str | None = None):
        self.path = path
        self.shown = shown or str(path)  # how messages name the file
        self.max_age = max_age_days * 86400
        self.entries: dict[str, dict] = {}
        self.warnings: list[str] = []
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return  # no cache yet (save says so if its folder is a file)
        except OSError as err:
            self._set_aside(f"cannot be read ({_reason(err)})")
            return
        problem = _problem(data, now)
        if problem:
            self._set_aside(problem)
        else:
            self.entries = json.loads(data)["entries"]

    def fresh(self, url: str, *, fragment_checked: bool, now: float) -> dict | None:
        entry = self.entries.get(url)
        if entry is None or now - entry["checked_at"] > self.max_age:
            return None
        if fragment_checked and not entry.get("fragment_checked"):
            return None
        return entry

    def record(self, result: UrlResult, *, fragment_checked: bool, now: float) -> None:
        if result.ok:
            self.entries[result.url] = {"checked_at": now, "status": result.status,
                                        "final_url": result.final_url, "fragment_checked": fragment_checked}
        else:
            self.entries.pop(result.url, None)  # failures are always rechecked

    def save(self, now: float) -> None:
        """Write the live entries through a temporary file; a failure becomes a warning, not an error."""
        live = {url: entry for url, entry in self.entries.items() if now - entry["checked_at"] <= self.max_age}
        text = json.dumps({"version": CACHE_VERSION, "entries": live}, indent=1, sort_keys=True)
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
            os.replace(tmp, self.path)
        except OSError as err:
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
            folder_is_a_file = isinstance(err, (FileExistsError, NotADirectoryError))
            reason = f"{Path(self.shown).parent} is not a folder" if folder_is_a_file else _reason(err)
            self.warnings.append(f"could not save the cache {self.shown}: {reason}")

    def _set_aside(self, problem: str) -> None:
        aside = _free_name(self.path)
        try:
            os.rename(self.path, aside)
        except OSError as err:
            self.warnings.append(f"{self.shown} {problem} and could not be moved aside ({_reason(err)}); "
                                 "checking every URL")
            return
        self.warnings.append(f"{self.shown} {problem}; moved it to {aside.name} and started a new cache")


def _problem(data: bytes, now: float) -> str | None:
    """Why `data` is not a cache this code could have written, or None."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return "is not a JSON cache"
    if not isinstance(document, dict) or document.get("version") != CACHE_VERSION \
            or not isinstance(document.get("entries"), dict):
        return f"is not a version-{CACHE_VERSION} cache"
    for url, entry in document["entries"].items():
        problem = _entry_problem(entry, now)
        if problem:
            return f"has an impossible entry for {url[:200]} ({problem})"
    return None


def _entry_problem(entry: Any, now: float) -> str | None:
    if not isinstance(entry, dict):
        return "not a mapping"
    checked_at = entry.get("checked_at")
    if isinstance(checked_at, bool) or not isinstance(checked_at, (int, float)) or not math.isfinite(checked_at):
        return f"checked_at {checked_at!r} is not a time"
    if not 0 <= checked_at <= now:
        return f"checked_at {checked_at!r} is {'in the future' if checked_at > now else 'before 1970'}"
    status = entry.get("status")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999:
        return f"status {status!r} is not an HTTP status"
    if not isinstance(entry.get("final_url"), (str, type(None))) or not isinstance(entry.get("fragment_checked"), bool):
        return "final_url or fragment_checked has the wrong type"
    return None


def _free_name(path: Path) -> Path:
    """`links.json.unreadable-N`, the first N that names nothing yet."""
    number = 1
    while True:
        candidate = path.with_name(f"{path.name}.unreadable-{number}")
        if not os.path.lexists(candidate):
            return candidate
        number += 1


def _reason(err: OSError) -> str:
    return (err.strerror or str(err)).lower()
