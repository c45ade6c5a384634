"""Full-text search: index a built site with Pagefind, whose files the search page loads from /pagefind/."""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import CheckFailed, UsageError
from scripts.site.search_pages import searchable_pages

INSTALL_HINT = ("Pagefind not found: install it with `pip install -r requirements.txt` "
                "(PyPI package `pagefind[extended]`), or set PAGEFIND=/path/to/pagefind_extended")
BUNDLE_DIR = "pagefind"  # the search page imports <base>/pagefind/pagefind.js
ENTRY_FILE = "pagefind-entry.json"
PARTS_DIR = "parts"  # a large site's further bundles: pagefind/parts/1/, pagefind/parts/2/, ...
PARTS_FILE = "parts.json"  # pagefind/parts.json: {language key: [bundle URLs relative to pagefind/]}
# Pagefind holds every indexed page in memory until it writes the index, and no option bounds it: past
# this many pages the index is split into bundles of this many or fewer (give or take one page a
# language), each indexed by a Pagefind run of its own, which the search page merges.
PAGES_PER_BUNDLE = 3000
# The digest of what Pagefind read, written last into the bundle: a later build whose pages give the same
# digest takes this bundle instead of running Pagefind again. Bump INDEX_FORMAT when Pagefind is run differently.
FINGERPRINT_FILE = "indexed-text.sha256"
INDEX_FORMAT = b"qwen-blog pagefind 3"


@dataclass(frozen=True)
class SearchIndex:
    bundle: Path  # the directory Pagefind wrote, inside the site
    pages_by_language: dict[str, int]  # Pagefind's language key (from <html lang>, lower-cased) -> pages indexed
    bundles: int = 1  # 1, or how many bundles a large site's index was split into (see PAGES_PER_BUNDLE)

    reused: bool = False  # True: the earlier build's bundle, whose indexed text was the same

    @property
    def pages(self) -> int:
        return sum(self.pages_by_language.values())

    def within(self, site_dir: Path) -> SearchIndex:
        """The same index once its site has moved to `site_dir`."""
        return dataclasses.replace(self, bundle=site_dir / BUNDLE_DIR)


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


def index_site(site_dir: Path, *, pages_per_bundle: int = PAGES_PER_BUNDLE,
               previous: Path | None = None) -> SearchIndex:
    """Write the Pagefind bundle into `site_dir`/pagefind/ for the pages marked `data-pagefind-body`.

    Pagefind splits the index by each page's `<html lang>`, so the English and Chinese search pages
    each load only their own language's index. A site with more than `pages_per_bundle` such pages gets
    further bundles in pagefind/parts/N/, listed per language in pagefind/parts.json for the search page
    to merge: each language's pages are dealt out in turn, so every bundle holds a like share of them.
    Pagefind is given only the marked pages, cut to what it reads (see search_pages.lean_page).

    If `previous` (default: the bundle already in the site) was built from the same indexed text, it is
    taken as it is (hard-linked where it lies elsewhere) and Pagefind does not run.
    """
    if not site_dir.is_dir():
        raise UsageError(f"{site_dir}: no built site to index (run `invoke build` first)")
    bundle = site_dir / BUNDLE_DIR
    previous = bundle if previous is None else previous
    binary = pagefind_binary().stat()
    salt = INDEX_FORMAT + f" {pagefind_binary()} {binary.st_size} {binary.st_mtime_ns} {pages_per_bundle}".encode()
    searchable = searchable_pages(site_dir, salt=salt, skip_dir=BUNDLE_DIR)
    if _fingerprint(previous) == searchable.fingerprint:
        try:
            if previous != bundle:
                _copy_tree(previous, bundle)
            return dataclasses.replace(_read_index(bundle), reused=True)
        except (OSError, CheckFailed):
            pass  # an earlier bundle that cannot be read or copied is rebuilt, not trusted
    if bundle.exists():
        shutil.rmtree(bundle)  # a stale language or fragment from an earlier run must not survive
    if not searchable.by_language:
        _run_pagefind(site_dir, bundle)  # no page is marked: Pagefind indexes every page, as it is
    else:
        for number, group in enumerate(_deal_into_bundles(searchable.by_language, pages_per_bundle)):
            with _staged_pages(site_dir, {rel: searchable.lean[rel] for rel in group}) as staged:
                _run_pagefind(staged, bundle if number == 0 else bundle / PARTS_DIR / str(number))
    index = _read_index(bundle, write_parts=True)
    (bundle / FINGERPRINT_FILE).write_text(searchable.fingerprint + "\n", encoding="ascii")
    return index


def _run_pagefind(site_dir: Path, output: Path) -> None:
    cmd = [str(pagefind_binary()), "--site", str(site_dir), "--output-path", str(output), "--silent"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).strip()
        raise CheckFailed(f"pagefind failed on {site_dir}: {text or f'exit status {proc.returncode}'}")
    _make_entry_reproducible(output / ENTRY_FILE)


def _read_index(bundle: Path, *, write_parts: bool = False) -> SearchIndex:
    """Pages per language over the bundle and its parts; with `write_parts`, also write parts.json,
    which lists each language's further bundles for the search page."""
    part_dirs = sorted((p for p in (bundle / PARTS_DIR).glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    entries = [_read_entry(each / ENTRY_FILE) for each in (bundle, *part_dirs)]
    if write_parts:
        parts: dict[str, list[str]] = {}
        for part_dir, entry in zip(part_dirs, entries[1:]):
            for language in entry["languages"]:
                parts.setdefault(language, []).append(f"{PARTS_DIR}/{part_dir.name}/")
        (bundle / PARTS_FILE).write_text(json.dumps(dict(sorted(parts.items())), separators=(",", ":")),
                                         encoding="utf-8")
    pages: dict[str, int] = {}
    for entry in entries:
        for language, info in entry["languages"].items():
            pages[language] = pages.get(language, 0) + int(info.get("page_count", 0))
    return SearchIndex(bundle=bundle, pages_by_language=dict(sorted(pages.items())), bundles=len(entries))


def _fingerprint(bundle: Path) -> str | None:
    try:
        return (bundle / FINGERPRINT_FILE).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _copy_tree(source: Path, dest: Path) -> None:
    """`source` copied to `dest`, as hard links where the file system allows (the files are never changed
    in place: a new index is written to a new directory)."""
    try:
        shutil.copytree(source, dest, copy_function=os.link)
    except (OSError, shutil.Error):
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest)


def _deal_into_bundles(by_language: dict[str, list[Path]], pages_per_bundle: int) -> list[list[Path]]:
    """The searchable pages dealt out per language over ceil(pages / pages_per_bundle) bundles. Every
    language starts at the first bundle, the one pagefind.js loads, so that bundle holds every language,
    and each bundle holds pages of every language that has enough of them."""
    total = sum(len(paths) for paths in by_language.values())
    count = max(1, -(-total // pages_per_bundle))
    groups: list[list[Path]] = [[] for _ in range(count)]
    for paths in by_language.values():
        for i, path in enumerate(paths):
            groups[i % count].append(path)
    return groups


@contextmanager
def _staged_pages(site_dir: Path, pages: dict[Path, bytes]) -> Iterator[Path]:
    """A temporary directory beside the site holding `pages` (site-relative path -> lean page, see
    search_pages.lean_page) at their paths in the site, so that Pagefind reads only them, and indexes
    them under their own URLs."""
    stage = Path(tempfile.mkdtemp(prefix=".pagefind-stage-", dir=site_dir.parent))
    try:
        for rel, html in pages.items():
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            (stage / rel).write_bytes(html)
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _read_entry(entry_file: Path) -> dict:
    try:
        entry = json.loads(entry_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckFailed(f"{entry_file}: Pagefind wrote no readable entry file ({err})") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("languages"), dict):
        raise CheckFailed(f"{entry_file}: not a Pagefind entry file (no languages)")
    return entry


def _make_entry_reproducible(entry_file: Path) -> None:
    """Pagefind writes its languages map in hash-map order, which changes from run to run; the rest of
    the bundle is content-addressed. Sorting the map keeps two builds of the same site byte-identical;
    pagefind.js looks languages up by key, so the order carries no meaning."""
    entry = _read_entry(entry_file)
    entry["languages"] = dict(sorted(entry["languages"].items()))
    entry_file.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
