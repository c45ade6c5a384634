"""Full-text search: index a built site with Pagefind, whose files the search page loads from /pagefind/."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import CheckFailed, UsageError

INSTALL_HINT = ("Pagefind not found: install it with `pip install -r requirements.txt` "
                "(PyPI package `pagefind[extended]`), or set PAGEFIND=/path/to/pagefind_extended")
BUNDLE_DIR = "pagefind"  # the search page imports <base>/pagefind/pagefind.js
ENTRY_FILE = "pagefind-entry.json"
PARTS_DIR = "parts"  # a large site's further bundles: pagefind/parts/1/, pagefind/parts/2/, ...
PARTS_FILE = "parts.json"  # pagefind/parts.json: {language key: [bundle URLs relative to pagefind/]}
# Pagefind holds about 330 KB per indexed page until it writes the index (linear; 625 MB for the 2,000
# pages of the 1,000-post benchmark, 5.4 GB for 20,000), and no option bounds it. Past this many pages
# the index is split into bundles of this many or fewer (give or take one page a language), each
# indexed by a Pagefind run of its own (about 1 GB each), which the search page merges.
PAGES_PER_BUNDLE = 3000
SEARCHABLE = b"data-pagefind-body"
HTML_LANG = re.compile(rb"<html[^>]*?\slang=[\"']?([^\"'\s>]+)", re.IGNORECASE)


@dataclass(frozen=True)
class SearchIndex:
    bundle: Path  # the directory Pagefind wrote, inside the site
    pages_by_language: dict[str, int]  # Pagefind's language key (from <html lang>, lower-cased) -> pages indexed
    bundles: int = 1  # 1, or how many bundles a large site's index was split into (see PAGES_PER_BUNDLE)

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


def index_site(site_dir: Path, *, pages_per_bundle: int = PAGES_PER_BUNDLE) -> SearchIndex:
    """Write the Pagefind bundle into `site_dir`/pagefind/ for the pages marked `data-pagefind-body`.

    Pagefind splits the index by each page's `<html lang>`, so the English and Chinese search pages
    each load only their own language's index. A site with more than `pages_per_bundle` such pages gets
    further bundles in pagefind/parts/N/, listed per language in pagefind/parts.json for the search page
    to merge: each language's pages are dealt out in turn, so every bundle holds a like share of them.
    """
    if not site_dir.is_dir():
        raise UsageError(f"{site_dir}: no built site to index (run `invoke build` first)")
    bundle = site_dir / BUNDLE_DIR
    if bundle.exists():
        shutil.rmtree(bundle)  # a stale language or fragment from an earlier run must not survive
    html_files = sorted(site_dir.rglob("*.html"))
    groups = [] if len(html_files) <= pages_per_bundle else _deal_into_bundles(site_dir, html_files, pages_per_bundle)
    if len(groups) <= 1:
        entries = [_run_pagefind(site_dir, bundle)]
    else:
        entries = []
        for number, group in enumerate(groups):
            with _staged_pages(site_dir, group) as staged:
                entries.append(_run_pagefind(staged, bundle if number == 0 else bundle / PARTS_DIR / str(number)))
    parts: dict[str, list[str]] = {}
    for number, entry in enumerate(entries[1:], start=1):
        for language in entry["languages"]:
            parts.setdefault(language, []).append(f"{PARTS_DIR}/{number}/")
    (bundle / PARTS_FILE).write_text(json.dumps(dict(sorted(parts.items())), separators=(",", ":")), encoding="utf-8")
    pages: dict[str, int] = {}
    for entry in entries:
        for language, info in entry["languages"].items():
            pages[language] = pages.get(language, 0) + int(info.get("page_count", 0))
    return SearchIndex(bundle=bundle, pages_by_language=dict(sorted(pages.items())), bundles=len(entries))


def _run_pagefind(site_dir: Path, output: Path) -> dict:
    cmd = [str(pagefind_binary()), "--site", str(site_dir), "--output-path", str(output), "--silent"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).strip()
        raise CheckFailed(f"pagefind failed on {site_dir}: {text or f'exit status {proc.returncode}'}")
    return _make_entry_reproducible(output / ENTRY_FILE)


def _deal_into_bundles(site_dir: Path, html_files: list[Path], pages_per_bundle: int) -> list[list[Path]]:
    """The searchable pages (relative paths), dealt out per language over ceil(pages / pages_per_bundle)
    bundles. Every language starts at the first bundle, the one pagefind.js loads, so that bundle holds
    every language, and each bundle holds pages of every language that has enough of them."""
    by_language: dict[str, list[Path]] = {}
    for path in html_files:
        html = path.read_bytes()
        if SEARCHABLE not in html:
            continue
        lang = HTML_LANG.search(html[:4096])
        by_language.setdefault(lang.group(1).decode().lower() if lang else "", []).append(path.relative_to(site_dir))
    total = sum(len(paths) for paths in by_language.values())
    count = max(1, -(-total // pages_per_bundle))
    groups: list[list[Path]] = [[] for _ in range(count)]
    for paths in by_language.values():
        for i, path in enumerate(paths):
            groups[i % count].append(path)
    return groups


@contextmanager
def _staged_pages(site_dir: Path, pages: list[Path]) -> Iterator[Path]:
    """A temporary directory beside the site holding just `pages` (hard links where the file system
    allows), at their paths in the site, so that Pagefind indexes them under their own URLs."""
    stage = Path(tempfile.mkdtemp(prefix=".pagefind-stage-", dir=site_dir.parent))
    try:
        for rel in pages:
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(site_dir / rel, stage / rel)
            except OSError:
                shutil.copy2(site_dir / rel, stage / rel)
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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
