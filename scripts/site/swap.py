"""Replace a generated directory in one step: fill a fresh directory beside it, then swap the two.

A reader of the directory (a static server, a deploy script) sees the old tree or the new one, never a
half-written mix; a build that fails leaves the old tree as it was; and nothing the new build did not write
survives it. Where the kernel offers it (Linux renameat2 with RENAME_EXCHANGE) the swap is one atomic
rename; elsewhere it is two renames, with a moment in which the directory is absent but never partial.
"""
from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from scripts.errors import UsageError

FRESH_TAG = "new"  # .site.new-<pid>-<random>: being filled
RETIRED_TAG = "old"  # .site.old-<pid>-<random>: swapped out, being removed
# What Hugo's --cleanDestinationDir spared, and so what a user may keep in the output directory: a git
# checkout of the published branch (.git, a directory or a worktree's file) and git's attribute files.
KEPT_FILES = frozenset({".git", ".gitignore", ".gitattributes"})
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def output_swappable(destination: Path) -> bool:
    """Whether `destination` can be swapped out by rename: not when it is a mount point."""
    return not os.path.ismount(destination.resolve())


@contextmanager
def replacing(destination: Path) -> Iterator[Path]:
    """An empty directory beside `destination` (on the same file system). If the block succeeds it takes
    `destination`'s place, bringing along the old tree's top-level dot-directories and KEPT_FILES that it
    does not have itself, and the old tree is removed; if the block raises, it is removed and `destination`
    is untouched. A symlink `destination` stays a symlink: the directory it points to is the one replaced."""
    target = destination.resolve() if destination.is_symlink() else destination.absolute()
    if target.exists() and not target.is_dir():
        raise UsageError(f"{destination} is not a directory: cannot build the site into it")
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(target)
    fresh = _sibling(target, FRESH_TAG)
    fresh.mkdir()  # not mkdtemp: its 0700 would hide the site from a web server running as another user
    try:
        yield fresh
        if target.exists():
            carried = _carry_over_kept(target, fresh)
            try:
                old_tree = _swap(fresh, target)
            except OSError:
                for name in carried:  # back where they were, before `fresh` is removed below
                    os.rename(fresh / name, target / name)
                raise
            shutil.rmtree(old_tree, ignore_errors=True)  # what is left is removed by the next build
        else:
            os.rename(fresh, target)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)  # only still there when the block or the swap failed


def remove_leftovers(target: Path) -> list[Path]:
    """Remove fresh or retired siblings of `target` left by a build that was killed (its process is gone)."""
    prefixes = tuple(f".{target.name}.{tag}-" for tag in (FRESH_TAG, RETIRED_TAG))
    removed = []
    for entry in os.scandir(target.parent):
        pid = entry.name.rsplit("-", 2)[-2] if entry.name.startswith(prefixes) else ""
        if pid.isdigit() and entry.is_dir(follow_symlinks=False) and not _alive(int(pid)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
    return removed


def _sibling(target: Path, tag: str) -> Path:
    return target.parent / f".{target.name}.{tag}-{os.getpid()}-{secrets.token_hex(4)}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _carry_over_kept(old: Path, new: Path) -> list[str]:
    """Move what the user keeps in `old` into `new` (unless the build wrote the same name); the names moved."""
    moved = []
    for entry in os.scandir(old):
        kept = entry.name in KEPT_FILES or (entry.name.startswith(".") and entry.is_dir(follow_symlinks=False))
        if kept and not os.path.lexists(new / entry.name):
            os.rename(entry.path, new / entry.name)
            moved.append(entry.name)
    return moved


def _swap(fresh: Path, target: Path) -> Path:
    """Put `fresh`'s tree at `target`; returns where the old tree now is."""
    if _rename_exchange(fresh, target):
        return fresh
    retired = _sibling(target, RETIRED_TAG)
    os.rename(target, retired)
    try:
        os.rename(fresh, target)
    except OSError:
        os.rename(retired, target)
        raise
    return retired


def _rename_exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically; False where the system cannot (not Linux, old glibc, file system)."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    if renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(err, os.strerror(err), str(b))
