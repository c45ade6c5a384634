"""What Pagefind reads from a built site: the pages marked `data-pagefind-body`, by language, and a digest of
what it reads from each, taken over the page's lean form (see lean_page)."""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

MARKER = b"data-pagefind-body"
HTML_LANG = re.compile(rb"<html[^>]*?\slang=[\"']?([^\"'\s>]+)", re.IGNORECASE)
HTML_OPEN_TAG = re.compile(rb"<html[^>]*>", re.IGNORECASE)
SCRIPT = re.compile(rb"<script\b.*?</script>", re.IGNORECASE | re.DOTALL)  # never indexed
SPAN_TAG = re.compile(rb"</?span\b[^>]*>", re.IGNORECASE)  # inline: Pagefind reads the same words without it
PAGEFIND_SPAN = re.compile(rb"<span\b[^>]*data-pagefind", re.IGNORECASE)
# What Pagefind reads outside the marked element: metadata, filters and sort keys (not data-pagefind-ignore).
PAGEFIND_OUTSIDE = re.compile(rb"data-pagefind-(?!ignore\b)")
LEAN_HEAD = b"<head><meta charset=utf-8></head><body>"


@dataclass(frozen=True)
class SearchablePages:
    by_language: dict[str, list[Path]]  # language key (<html lang>, lower-cased) -> site-relative paths, sorted
    # site-relative path -> digest of what Pagefind reads of it: its lean form; when no page is marked,
    # Pagefind indexes every page, and every page is here with the digest of the whole page
    digests: dict[Path, bytes]


def searchable_pages(site_dir: Path, *, skip_dir: str) -> SearchablePages:
    """Read every HTML page of `site_dir` once (not under `skip_dir`): which ones Pagefind indexes, by
    language, and a digest of what Pagefind reads of each. A change to the head of a page (a new
    stylesheet) or to its highlighting's markup leaves its digest as it was (Hugo 0.168 does not always
    tokenize a JSON sample alike from build to build); a change to indexed text does not."""
    by_language: dict[str, list[Path]] = {}
    digests: dict[Path, bytes] = {}
    for rel in html_files(site_dir, skip_dir=skip_dir):
        html = (site_dir / rel).read_bytes()
        if marked_at(html) < 0:
            if not by_language:
                digests[rel] = hashlib.sha256(html).digest()
            continue
        if not by_language:
            digests.clear()  # the unmarked pages read so far are not indexed after all
        lang = HTML_LANG.search(html, 0, 4096)
        by_language.setdefault(lang.group(1).decode().lower() if lang else "", []).append(rel)
        digests[rel] = hashlib.sha256(lean_page(html)).digest()
    return SearchablePages(by_language=by_language, digests=digests)


def lean_page(html: bytes) -> bytes:
    """A marked page cut to what Pagefind reads from it, the form its digest is taken over (Pagefind indexes
    it byte for byte as it does the whole page): its `<html>` tag, then the document from the marked
    element on, without scripts, and with <span> tags (syntax highlighting's) unwrapped, whose classes
    may differ between two builds of the same text. A page with Pagefind metadata, filters or sort keys
    before the marked element is kept whole; one with data-pagefind attributes on a span keeps its spans."""
    start = marked_at(html)
    opening = HTML_OPEN_TAG.search(html)
    if start < 0 or opening is None or PAGEFIND_OUTSIDE.search(html, 0, start):
        return html
    body = SCRIPT.sub(b"", html[start:])
    if not PAGEFIND_SPAN.search(body):
        body = SPAN_TAG.sub(b"", body)
    return b"<!doctype html>" + opening.group(0) + LEAN_HEAD + body


def marked_at(html: bytes) -> int:
    """Where the tag of the element marked data-pagefind-body starts, or -1: the attribute inside a tag,
    not the words in a code sample about Pagefind (found by plain search, a tenth of a regex's time)."""
    at = html.find(MARKER)
    while at >= 0:
        opening = html.rfind(b"<", 0, at)
        if opening >= 0 and html.rfind(b">", opening, at) < 0 and html[at - 1:at].isspace():
            return opening
        at = html.find(MARKER, at + len(MARKER))
    return -1


def html_files(site_dir: Path, *, skip_dir: str) -> list[Path]:
    """Site-relative paths of the HTML pages, sorted, leaving out the top-level folder `skip_dir` (os.walk:
    a fifth of Path.rglob's time on a large site)."""
    found = []
    for directory, subdirs, names in os.walk(site_dir):
        if directory == str(site_dir):
            subdirs[:] = [name for name in subdirs if name != skip_dir]
        rel = Path(directory).relative_to(site_dir)
        found += [rel / name for name in names if name.endswith(".html")]
    return sorted(found)
