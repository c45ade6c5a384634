"""Which content file each built page came from, and whether it is published, as `hugo list all` says."""
from __future__ import annotations

import csv
import io
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scripts.errors import UsageError
from scripts.links.site_url import configured_site_url
from scripts.site.hugo import hugo_binary


@dataclass(frozen=True)
class ContentPage:
    source: str  # content/… path
    draft: bool
    future: bool
    expired: bool

    @property
    def unpublished_reason(self) -> str | None:
        if self.draft:
            return "a draft"
        if self.future:
            return "dated in the future"
        if self.expired:
            return "expired"
        return None


def _csv_time(value: str) -> datetime | None:
    if not value or value.startswith("0001-01-01"):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def content_pages(project_root: Path) -> dict[str, ContentPage]:
    """Every content page Hugo knows (drafts and future pages too), by URL path relative to the base path.

    Empty when Hugo cannot list them: the sources are a courtesy of the report, not part of the check.
    """
    try:
        proc = subprocess.run([str(hugo_binary()), "list", "all", "--source", str(project_root)],
                              capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired, UsageError):
        return {}
    if proc.returncode != 0:
        return {}
    # The PyPI wrapper may print a banner before the CSV.
    text = proc.stdout[proc.stdout.find("path,"):] if "path," in proc.stdout else ""
    try:
        base_path = configured_site_url(project_root).path
    except UsageError:
        return {}
    now = datetime.now(timezone.utc)
    pages = {}
    for row in csv.DictReader(io.StringIO(text)):
        path = unquote(urlsplit(row.get("permalink") or "").path)
        if not path.startswith(base_path):
            continue
        publish = _csv_time(row.get("publishDate") or row.get("date") or "")
        expiry = _csv_time(row.get("expiryDate") or "")
        pages[path[len(base_path):]] = ContentPage(
            source=row["path"],
            draft=(row.get("draft") or "").lower() == "true",
            future=publish is not None and publish > now,
            expired=expiry is not None and expiry <= now,
        )
    return pages


def page_key(rel_file: str) -> str:
    """The key `content_pages` uses for a built file (its URL path relative to the base path)."""
    if rel_file == "index.html":
        return ""
    if rel_file.endswith("/index.html"):
        return rel_file[: -len("index.html")]
    return rel_file
