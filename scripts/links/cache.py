"""The cache of external URLs that answered well, kept in .cache/links.json between runs."""
from __future__ import annotations

import json
import os
from pathlib import Path

from scripts.links.external_report import UrlResult

CACHE_FILE = Path(".cache") / "links.json"


CACHE_VERSION = 1


class ResultCache:
    """Successes of earlier runs, by URL; loaded and saved whole."""

    def __init__(self, path: Path, max_age_days: float):
        self.path = path
        self.max_age = max_age_days * 86400
        self.entries: dict[str, dict] = {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("version") == CACHE_VERSION and isinstance(data.get("entries"), dict):
                self.entries = data["entries"]
        except (OSError, ValueError, AttributeError):
            pass  # no cache yet, or a damaged one: start over

    def fresh(self, url: str, *, fragment_checked: bool, now: float) -> dict | None:
        entry = self.entries.get(url)
        if not isinstance(entry, dict) or not isinstance(entry.get("checked_at"), (int, float)):
            return None
        if now - entry["checked_at"] > self.max_age:
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
        live = {url: entry for url, entry in self.entries.items()
                if isinstance(entry, dict) and now - entry.get("checked_at", 0) <= self.max_age}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "entries": live}, indent=1, sort_keys=True),
                       encoding="utf-8")
        os.replace(tmp, self.path)
