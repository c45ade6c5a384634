"""Full-text search: index a built site with Pagefind, whose files the search page loads from /pagefind/."""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .errors import CheckFailed, UsageError

INSTALL_HINT = ("Pagefind not found: install it with `pip install -r requirements.txt` "
                "(PyPI package `pagefind[extended]`), or set PAGEFIND=/path/to/pagefind_extended")
BUNDLE_DIR = "pagefind"  # the search page imports <base>/pagefind/pagefind.js
ENTRY_FILE = "pagefind-entry.json"


@dataclass(frozen=True)
class SearchIndex:
    bundle: Path  # the directory Pagefind wrote, inside the site
    pages_by_language: dict[str, int]  # Pagefind's language key (from <html lang>, lower-cased) -> pages indexed

    @property
    def pages(self) -> int:
        return sum(self.pages_by_language.values())


def pagefind_binary() -> Path:
    """The extended Pagefind executable: $PAGEFIND, else the one the PyPI wheel ships.

    Only the extended build segments Chinese (which has no spaces between words) into words; the
    plain build would index a whole Chinese sentence as one word, so a query could never match it.
    The wheel's Python entry point would cost a Python start-up, so we run the binary it ships.
    """
    override = os.environ.get("PAGEFIND")
    if override:
        path = Path(override)
        if path.is_file() and os.access(path, os.X_OK):
            return path
        raise UsageError(f"PAGEFIND={override} is not an executable file; {INSTALL_HINT}")
    spec = importlib.util.find_spec("pagefind_bin_extended")
    if spec is not None and spec.origin:
        candidate = Path(spec.origin).parent / ("pagefind_extended.exe" if os.name == "nt" else "pagefind_extended")
        if candidate.is_file():
            return candidate
    found = shutil.which("pagefind_extended")
    if found:
        return Path(found)
    raise UsageError(INSTALL_HINT)


def index_site(site_dir: Path) -> SearchIndex:
    """Write the Pagefind bundle into `site_dir`/pagefind/ for the pages marked `data-pagefind-body`.

    Pagefind splits the index by each page's `<html lang>`, so the English and Chinese search pages
    each load only their own language's index.
    """
    if not site_dir.is_dir():
        raise UsageError(f"{site_dir}: no built site to index (run `invoke build` first)")
    bundle = site_dir / BUNDLE_DIR
    if bundle.exists():
        shutil.rmtree(bundle)  # a stale language or fragment from an earlier run must not survive
    cmd = [str(pagefind_binary()), "--site", str(site_dir), "--output-subdir", BUNDLE_DIR, "--silent"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        raise CheckFailed(f"pagefind failed on {site_dir}: {output or f'exit status {proc.returncode}'}")
    entry = _make_entry_reproducible(bundle / ENTRY_FILE)
    pages = {lang: int(info.get("page_count", 0)) for lang, info in entry["languages"].items()}
    return SearchIndex(bundle=bundle, pages_by_language=pages)


def _make_entry_reproducible(entry_file: Path) -> dict:
    """Pagefind writes its languages map in hash-map order, which changes from run to run; the rest of
    the bundle is content-addressed. Sorting the map keeps two builds of the same site byte-identical;
    pagefind.js looks languages up by key, so the order carries no meaning."""
    try:
        entry = json.loads(entry_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckFailed(f"{entry_file}: Pagefind wrote no readable entry file ({err})") from None
    entry["languages"] = dict(sorted(entry.get("languages", {}).items()))
    entry_file.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    return entry
