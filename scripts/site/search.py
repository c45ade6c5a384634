"""Full-text search: index a built site with Pagefind, whose files the search page loads from /pagefind/.

The pages are indexed in groups, one per language (more past `pages_per_bundle` pages of a language), each
by a Pagefind run of its own, side by side, and each run's output is kept by the digest of what it read
(search_cache.py): a build runs Pagefind only for the groups whose text changed, and merges every group's
output into the bundle the search page loads (search_bundle.py).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from scripts.errors import CheckFailed, UsageError
from scripts.site.binaries import find_binary
from scripts.site.search_bundle import (ENTRY_FILE, link_or_copy, make_entry_reproducible, merge_outputs,
                                         read_entry)
from scripts.site.search_cache import GroupCache, group_cache
from scripts.site.search_pages import SearchablePages, searchable_pages

INSTALL_HINT = ("Pagefind not found: install it with `pip install -r requirements.txt` "
                "(PyPI package `pagefind[extended]`), or set PAGEFIND=/path/to/pagefind_extended")
BUNDLE_DIR = "pagefind"  # the search page imports <base>/pagefind/pagefind.js
PARTS_DIR = "parts"  # a large site's further bundles: pagefind/parts/1/, pagefind/parts/2/, ...
PARTS_FILE = "parts.json"  # pagefind/parts.json: {language key: [bundle URLs relative to pagefind/]}
# Pagefind holds every indexed page in memory until it writes the index, and no option bounds it: past
# this many pages a language is split into groups of this many or fewer, each indexed by a Pagefind run
# of its own, which the search page merges.
PAGES_PER_BUNDLE = 3000
# Runs side by side hold at most this many pages between them: about 2 GB of Pagefind's memory, however
# many cores there are (two runs of a full group, or more of smaller ones).
PAGES_IN_FLIGHT = 2 * PAGES_PER_BUNDLE
# Salts every group's digest, which names its output in the cache: bump it when Pagefind is run differently.
INDEX_FORMAT = b"qwen-blog pagefind groups 1"


@dataclass(frozen=True)
class SearchIndex:
    bundle: Path  # the directory Pagefind wrote, inside the site
    pages_by_language: dict[str, int]  # Pagefind's language key (from <html lang>, lower-cased) -> pages indexed
    bundles: int = 1  # 1, or how many bundles a large site's index was split into (see PAGES_PER_BUNDLE)
    groups: int = 1  # the Pagefind runs the index is made of: one per language, more on a large site
    indexed: int = 1  # of those, the ones Pagefind ran for in this build; the others came from the cache

    @property
    def pages(self) -> int:
        return sum(self.pages_by_language.values())

    @property
    def reused(self) -> bool:
        """No indexed text changed: every group came from the cache and Pagefind did not run."""
        return self.indexed == 0

    def within(self, site_dir: Path) -> SearchIndex:
        """The same index once its site has moved to `site_dir`."""
        return dataclasses.replace(self, bundle=site_dir / BUNDLE_DIR)


@dataclass(frozen=True)
class IndexGroup:
    language: str  # Pagefind's language key; "" for the one group of a site with no marked page
    number: int  # 0: merged into pagefind/; N: into pagefind/parts/N/
    pages: tuple[Path, ...]  # site-relative; empty for a site with no marked page, which Pagefind reads whole
    digest: str  # hex, of the salt, the language and the pages' paths and what Pagefind reads of them


def pagefind_binary() -> Path:
    """The extended Pagefind executable: $PAGEFIND, else the one the PyPI wheel ships, else on PATH.

    Only the extended build segments Chinese (which has no spaces between words) into words; the
    plain build would index a whole Chinese sentence as one word, so a query could never match it.
    """
    return find_binary(env="PAGEFIND", package="pagefind_bin_extended", inside="", name="pagefind_extended",
                       install_hint=INSTALL_HINT)


def index_site(site_dir: Path, *, pages_per_bundle: int = PAGES_PER_BUNDLE,
               cache: Path | None = None) -> SearchIndex:
    """Write the Pagefind bundle into `site_dir`/pagefind/ for the pages marked `data-pagefind-body`
    (every page, in one Pagefind run, when none is marked).

    Pagefind splits the index by each page's `<html lang>`, so the English and Chinese search pages each
    load only their own language's index; each language is indexed apart (see index_groups), in parallel,
    and the outputs merged into pagefind/. A language of more than `pages_per_bundle` pages gets further
    groups, merged into pagefind/parts/N/ and listed per language in pagefind/parts.json for the search
    page to merge: its pages are dealt out in turn, so every group holds a like share of them.

    `cache`: where each group's output is kept (see search_cache.py); a group whose digest is there is
    taken from it (hard links) and Pagefind runs only for the others. None: every group is indexed, and
    nothing is kept.
    """
    if not site_dir.is_dir():
        raise UsageError(f"{site_dir}: no built site to index (run `invoke build` first)")
    bundle = site_dir / BUNDLE_DIR
    if bundle.exists():
        shutil.rmtree(bundle)  # a stale language or fragment from an earlier run must not survive
    groups = index_groups(searchable_pages(site_dir, skip_dir=BUNDLE_DIR), pages_per_bundle, salt=_salt())
    with group_cache(cache, temp_parent=site_dir.parent) as store:
        indexed = _index_missing(site_dir, groups, store)
        for number in sorted({group.number for group in groups}):
            merge_outputs([store.path(group.digest) for group in groups if group.number == number],
                          bundle if number == 0 else bundle / PARTS_DIR / str(number))
        store.keep_only({group.digest for group in groups})
    index = _read_index(bundle, write_parts=True)
    return dataclasses.replace(index, groups=len(groups), indexed=indexed)


def index_groups(searchable: SearchablePages, pages_per_bundle: int, *, salt: bytes) -> list[IndexGroup]:
    """One group per language, in language order; a language of more than `pages_per_bundle` pages is
    dealt out over ceil(pages / pages_per_bundle) groups. A site with no marked page is one group."""
    if not searchable.by_language:
        return [IndexGroup("", 0, (), _group_digest(salt, "", sorted(searchable.digests.items())))]
    groups = []
    for language, paths in sorted(searchable.by_language.items()):
        count = max(1, -(-len(paths) // pages_per_bundle))
        for number in range(count):
            pages = tuple(paths[number::count])
            digest = _group_digest(salt, language, [(rel, searchable.digests[rel]) for rel in pages])
            groups.append(IndexGroup(language, number, pages, digest))
    return groups


def _salt() -> bytes:
    """INDEX_FORMAT and the Pagefind binary: another Pagefind may write another index of the same pages."""
    binary = pagefind_binary()
    stat = binary.stat()
    return INDEX_FORMAT + f" {binary} {stat.st_size} {stat.st_mtime_ns}".encode()


def _group_digest(salt: bytes, language: str, pages: list[tuple[Path, bytes]]) -> str:
    digest = hashlib.sha256(salt)
    for part in (language.encode(), *(item for rel, page in pages for item in (str(rel).encode(), page))):
        digest.update(len(part).to_bytes(8, "little") + part)
    return digest.hexdigest()


def _index_missing(site_dir: Path, groups: list[IndexGroup], cache: GroupCache) -> int:
    """Run Pagefind for each group that `cache` does not hold, side by side; how many ran."""
    missing = [group for group in groups if cache.entry(group.digest) is None]
    if not missing:
        return 0
    largest = max(len(group.pages) for group in missing) or PAGES_IN_FLIGHT
    # A run a core at most, and never more pages in memory at once than PAGES_IN_FLIGHT.
    workers = max(1, min(os.cpu_count() or 1, len(missing), PAGES_IN_FLIGHT // largest))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(lambda group: _index_group(site_dir, group, cache), missing):
            pass  # a run's error is raised here, once the others have ended
    return len(missing)


def _index_group(site_dir: Path, group: IndexGroup, cache: GroupCache) -> None:
    with cache.writing(group.digest) as (stage, output):
        if not group.pages:
            _run_pagefind(site_dir, output)  # no page is marked: Pagefind indexes every page, as it is
            return
        for rel in group.pages:  # at their paths in the site, so that Pagefind indexes them under their URLs
            (stage / rel).parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(site_dir / rel, stage / rel)
        _run_pagefind(stage, output)


def _run_pagefind(site_dir: Path, output: Path) -> None:
    cmd = [str(pagefind_binary()), "--site", str(site_dir), "--output-path", str(output), "--silent"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        text = (proc.stdout + proc.stderr).strip()
        raise CheckFailed(f"pagefind failed on {site_dir}: {text or f'exit status {proc.returncode}'}")
    make_entry_reproducible(output / ENTRY_FILE)


def _read_index(bundle: Path, *, write_parts: bool = False) -> SearchIndex:
    """Pages per language over the bundle and its parts; with `write_parts`, also write parts.json,
    which lists each language's further bundles for the search page."""
    part_dirs = sorted((p for p in (bundle / PARTS_DIR).glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    entries = [read_entry(each / ENTRY_FILE) for each in (bundle, *part_dirs)]
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
