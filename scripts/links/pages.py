"""Reading the built site: every page parsed once, its links resolved against its URL as a browser would."""
from __future__ import annotations

import os
import re
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from scripts.links.extract import html_ids, html_links, xml_links
from scripts.links.site_url import SiteURL

SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")


# Below this many files a process pool costs more than it saves.
POOL_THRESHOLD = 200


WORKERS = 2


class Target(NamedTuple):
    """Where an internal link leads: a path relative to the site root, and the fragment if any.

    A NamedTuple, not a dataclass: a big site sends 100,000 of them back from the worker processes."""

    rel: str | None  # None when the link leaves the base path
    fragment: str


def _split_path(path_query_fragment: str) -> tuple[str, str]:
    path, _, fragment = path_query_fragment.partition("#")
    return path.partition("?")[0], fragment  # the query string never selects a file


def resolve(raw: str, page_url: str, site: SiteURL) -> Target | None:
    """The internal target of a link as written on the page at `page_url`; None for external links."""
    raw = raw.strip()
    if not raw or raw == "#":
        return None
    # Fast paths for the common shapes (a fragment, a root-relative path, our own absolute URL); urljoin
    # costs most of the check's time on a big site.
    origin = f"{site.scheme}://{site.netloc}"
    if raw.startswith(origin) and raw[len(origin):len(origin) + 1] in ("/", ""):
        raw = raw[len(origin):] or "/"
    if raw[0] == "#":
        path, fragment = urlsplit(page_url).path, raw[1:]
    elif raw[0] == "/" and raw[:2] != "//" and "/." not in raw:
        path, fragment = _split_path(raw)
    else:
        scheme = SCHEME.match(raw)
        if scheme and scheme.group(1).lower() not in ("http", "https"):
            return None  # mailto:, tel:, data:, javascript:
        try:
            parts = urlsplit(urljoin(page_url, raw))
        except ValueError:  # e.g. an unclosed [IPv6 bracket: not ours; check-external reports it as malformed
            return None
        if parts.scheme not in ("http", "https") or parts.netloc.lower() != site.netloc:
            return None
        path, fragment = parts.path, parts.fragment
    path = unquote(path) or "/"
    fragment = unquote(fragment)
    if not path.startswith(site.path):
        return Target(None, fragment)
    return Target(path[len(site.path):], fragment)


@dataclass
class PageLinks:
    rel: str  # file path relative to the site root, "/"-separated
    ids: set[str]
    internal: list[tuple[str, Target]]  # (link as written, where it leads)
    external: list[str]  # absolute http(s) URLs elsewhere (fragment kept), when asked for
    alias_of: str | None = None  # for Hugo's alias pages: the page they redirect to
    checked: int = 0  # internal links on the page, including those already found fine (not in `internal`)


MISSING = object()


def read_page(site_dir: Path, rel: str, site: SiteURL, want_external: bool,
              resolved: dict[str, Target | None] | None = None, files: set[str] | None = None) -> PageLinks:
    """Parse one page; `resolved` caches the targets of site-absolute links across pages.

    With `files` (every file of the site), links known to be fine here (an existing target, and a fragment
    that is absent or found on this very page) are counted but left out of `internal`, so the worker
    processes send back only what needs another page's ids or a report.
    """
    data = (site_dir / rel).read_bytes()
    page_url = site.page_url(rel)
    if rel.endswith(".xml"):
        raw_links, ids, alias_of = xml_links(data.decode("utf-8", errors="replace")), set(), None
    else:
        tree = LexborHTMLParser(data)
        base = tree.css_first("base[href]")
        if base is not None:
            page_url = urljoin(page_url, base.attributes.get("href") or "")
        raw_links, ids = html_links(tree), html_ids(tree)
        alias_of = None
        if len(data) < 1024 and tree.css_first("meta[http-equiv]") is not None and tree.body is not None \
                and not tree.body.text(strip=True):
            refresh = [link for link in raw_links if link]
            alias_of = refresh[-1] if refresh else None
    internal, external, seen, checked = [], [], set(), 0
    for raw in raw_links:
        if raw in seen:
            continue  # report each link once per page
        seen.add(raw)
        # Site-absolute links (the navigation, stylesheets, icons) repeat on every page: resolve them once.
        if raw[:1] == "/" and raw[:2] != "//" and resolved is not None:
            target = resolved.get(raw, MISSING)
            if target is MISSING:
                target = resolved[raw] = resolve(raw, page_url, site)
        else:
            target = resolve(raw, page_url, site)
        if target is not None:
            checked += 1
            if files is not None and target.rel is not None:
                built = target_file(target.rel, files)
                if built is not None and (not target.fragment or not built.endswith(".html")
                                          or target.fragment.lower() == "top"
                                          or (built == rel and target.fragment in ids)):
                    continue
            internal.append((raw, target))
        elif want_external:
            written = raw.strip()
            scheme = SCHEME.match(written)
            if not written or written[0] == "#" or (scheme and scheme.group(1).lower() not in ("http", "https")):
                continue  # this page, or mailto:, tel:, data:, javascript:
            try:
                absolute = urljoin(page_url, written)
                ours = urlsplit(absolute).netloc.lower() == site.netloc
            except ValueError:
                external.append(written)  # malformed: reported as such by check-external
                continue
            if not ours:
                external.append(absolute)
    return PageLinks(rel, ids, internal, external, alias_of, checked)


def _read_chunk(args: tuple[Path, list[str], SiteURL, bool, set[str] | None]) -> list[PageLinks]:
    site_dir, rels, site, want_external, files = args
    resolved: dict[str, Target | None] = {}
    return [read_page(site_dir, rel, site, want_external, resolved, files) for rel in rels]


def site_files(site_dir: Path) -> set[str]:
    files = set()
    root = str(site_dir)
    for dirpath, _dirs, names in os.walk(site_dir):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        files.update(prefix + name for name in names)
    return files


def is_checked_file(rel: str) -> bool:
    if rel.endswith(".html"):
        return True
    name = rel.rsplit("/", 1)[-1]
    return name in ("index.xml", "sitemap.xml")  # RSS feeds and sitemaps


def read_site(site_dir: Path, site: SiteURL, files: set[str], *, want_external: bool = False,
              prefilter: bool = False) -> list[PageLinks]:
    """Parse every page, feed and sitemap of the built site, in parallel on big sites.

    With `prefilter`, links found fine within their own page are only counted (see `read_page`)."""
    rels = sorted(rel for rel in files if is_checked_file(rel))
    known = files if prefilter else None
    if len(rels) < POOL_THRESHOLD:
        return _read_chunk((site_dir, rels, site, want_external, known))
    # Interleaved chunks balance big and small pages across the workers.
    chunks = [rels[i::WORKERS * 2] for i in range(WORKERS * 2)]
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=get_context("fork")) as pool:
        results = pool.map(_read_chunk, [(site_dir, chunk, site, want_external, known) for chunk in chunks])
        return [page for chunk in results for page in chunk]


def target_file(rel: str, files: set[str]) -> str | None:
    """The built file a site-relative URL path serves, as GitHub Pages would serve it."""
    if rel == "" or rel.endswith("/"):
        candidate = rel + "index.html"
        return candidate if candidate in files else None
    if rel in files:
        return rel
    if rel + "/index.html" in files:  # GitHub Pages redirects /dir to /dir/
        return rel + "/index.html"
    return None
