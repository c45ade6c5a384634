"""Pagefind's output per index group, kept between builds in <project>/.cache/search/<group digest>/.

An entry is written in a temporary directory beside the entries and renamed into place once complete,
with a manifest of its files (size and SHA-256) written last: a killed build leaves only a temporary
directory, which no build takes, and an entry that no longer matches its manifest is removed and
written again, never trusted. The cache holds one build's groups: a build removes every other entry.
A build holds the cache's lock file while it uses the cache, so that two builds in one project take
turns rather than remove what the other is writing.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.errors import UsageError

MANIFEST_FILE = "cache-manifest.json"  # in each entry, beside Pagefind's files; never part of a bundle
TEMP_PREFIX = ".new-"  # an entry being written
OUTPUT_DIR = "output"  # in an entry being written: what Pagefind writes, renamed to the entry when done
STAGE_DIR = "stage"  # in an entry being written: the pages Pagefind reads
LOCK_FILE = "lock"  # beside the entries, whose names are hex digests


class GroupCache:
    """The entries of one cache directory, each named by its group's digest."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, digest: str) -> Path:
        """Where the entry for `digest` is, once written."""
        return self.directory / digest

    def entry(self, digest: str) -> Path | None:
        """The complete entry for `digest`, or None; an entry that does not match its manifest is removed."""
        entry = self.path(digest)
        if not entry.is_dir():
            return None
        if _intact(entry):
            return entry
        shutil.rmtree(entry, ignore_errors=True)
        return None

    @contextmanager
    def writing(self, digest: str) -> Iterator[tuple[Path, Path]]:
        """A stage for the pages to index and an empty output directory for Pagefind; once the block ends
        without an error, the output becomes the entry for `digest`."""
        self.directory.mkdir(parents=True, exist_ok=True)
        temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=self.directory))
        try:
            (temp / STAGE_DIR).mkdir()
            (temp / OUTPUT_DIR).mkdir()
            yield temp / STAGE_DIR, temp / OUTPUT_DIR
            shutil.rmtree(temp / STAGE_DIR)
            _write_manifest(temp / OUTPUT_DIR)
            shutil.rmtree(self.path(digest), ignore_errors=True)
            os.rename(temp / OUTPUT_DIR, self.path(digest))
        finally:
            shutil.rmtree(temp, ignore_errors=True)

    def keep_only(self, digests: set[str]) -> None:
        """Remove every entry but those of `digests`, and what a killed build was writing."""
        if not self.directory.is_dir():
            return
        for child in self.directory.iterdir():
            if child.name in digests or child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


@contextmanager
def group_cache(directory: Path | None, *, temp_parent: Path) -> Iterator[GroupCache]:
    """The cache in `directory`; with None, a temporary one in `temp_parent`, removed afterwards (the
    groups are then all indexed, and nothing is kept)."""
    if directory is not None:
        try:
            directory.mkdir(parents=True, exist_ok=True)
            lock = (directory / LOCK_FILE).open("a")
        except OSError as err:
            raise UsageError(f"cannot keep the search index's cache in {directory}: {err.strerror}") from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, or its process ends
            yield GroupCache(directory)
        return
    temp = Path(tempfile.mkdtemp(prefix=".pagefind-groups-", dir=temp_parent))
    try:
        yield GroupCache(temp)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def entry_files(entry: Path) -> list[Path]:
    """An entry's files (Pagefind's), relative to it, sorted; its manifest left out."""
    found = []
    for directory, _, names in os.walk(entry):
        rel = Path(directory).relative_to(entry)
        found += [rel / name for name in names if rel / name != Path(MANIFEST_FILE)]
    return sorted(found)


def _file_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _write_manifest(entry: Path) -> None:
    files = {str(rel): [(entry / rel).stat().st_size, _file_digest(entry / rel)] for rel in entry_files(entry)}
    (entry / MANIFEST_FILE).write_text(json.dumps(files, separators=(",", ":")), encoding="utf-8")


def _intact(entry: Path) -> bool:
    """Whether `entry` holds exactly the files of its manifest, each of the size and digest it names."""
    try:
        manifest = json.loads((entry / MANIFEST_FILE).read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or sorted(manifest) != sorted(map(str, entry_files(entry))):
            return False
        return all(isinstance(want, list) and len(want) == 2
                   and (entry / rel).stat().st_size == want[0] and _file_digest(entry / rel) == want[1]
                   for rel, want in manifest.items())
    except (OSError, ValueError):
        return False
