"""A Pagefind bundle made of several Pagefind runs' outputs, one per language (see search.py).

Pagefind names a language's files by their content and language (pagefind.en_<hash>.pf_meta,
index/en_*.pf_index, fragment/en_*, wasm.en.pagefind, …), and writes the same shared files (pagefind.js,
its UIs, wasm.unknown.pagefind) in every run: the merged bundle is the union of the outputs' files,
with one pagefind-entry.json whose `languages` map holds every output's languages.
"""
from __future__ import annotations

import filecmp
import json
import os
import shutil
from pathlib import Path

from scripts.errors import CheckFailed
from scripts.site.search_cache import entry_files

ENTRY_FILE = "pagefind-entry.json"


def merge_outputs(outputs: list[Path], bundle: Path) -> None:
    """Write into `bundle` (which must not exist) the files of every output in `outputs` (hard links where
    the file system allows: no file of a bundle is changed in place) and their merged entry file. A file
    that two outputs hold with different bytes, or a language two of them index, is an error: it means
    the runs were not of one Pagefind, or not of separate languages."""
    bundle.mkdir(parents=True)
    entry: dict | None = None
    owner: dict[Path, Path] = {}  # a bundle's file -> the output it came from
    for output in outputs:
        for rel in entry_files(output):
            if rel == Path(ENTRY_FILE):
                continue
            target = bundle / rel
            if rel in owner:
                if not filecmp.cmp(output / rel, target, shallow=False):
                    raise CheckFailed(f"Pagefind wrote two different {rel} (in {owner[rel]} and {output}): "
                                      "the index cannot be merged")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            link_or_copy(output / rel, target)
            owner[rel] = output
        entry = _merged_entry(entry, read_entry(output / ENTRY_FILE), output)
    if entry is None:
        raise CheckFailed(f"{bundle}: no Pagefind output to merge")
    _write_entry(bundle / ENTRY_FILE, entry)


def _merged_entry(merged: dict | None, entry: dict, output: Path) -> dict:
    if merged is None:
        return entry
    if {k: v for k, v in merged.items() if k != "languages"} != {k: v for k, v in entry.items() if k != "languages"}:
        raise CheckFailed(f"{output / ENTRY_FILE}: written by another Pagefind version or configuration "
                          "than the other languages' entry files")
    twice = sorted(set(merged["languages"]) & set(entry["languages"]))
    if twice:
        raise CheckFailed(f"{output / ENTRY_FILE}: language {', '.join(twice)} indexed by two Pagefind runs")
    return merged | {"languages": dict(sorted((merged["languages"] | entry["languages"]).items()))}


def link_or_copy(source: Path, target: Path) -> None:
    """`target` as a hard link to `source`, or a copy where the file system allows no link."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def read_entry(entry_file: Path) -> dict:
    try:
        entry = json.loads(entry_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CheckFailed(f"{entry_file}: Pagefind wrote no readable entry file ({err})") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("languages"), dict):
        raise CheckFailed(f"{entry_file}: not a Pagefind entry file (no languages)")
    return entry


def make_entry_reproducible(entry_file: Path) -> None:
    """Pagefind writes its languages map in hash-map order, which changes from run to run; the rest of
    the bundle is content-addressed. Sorting the map keeps two builds of the same site byte-identical;
    pagefind.js looks languages up by key, so the order carries no meaning."""
    _write_entry(entry_file, read_entry(entry_file))


def _write_entry(entry_file: Path, entry: dict) -> None:
    entry = entry | {"languages": dict(sorted(entry["languages"].items()))}
    entry_file.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
