"""Check that every link, image and #fragment in the built site that points into the site resolves.

The check reads the HTML files Hugo wrote (no server, no network): each page is parsed once with
lexbor (selectolax), its element ids are collected, and every href/src/srcset that points into the site
is resolved the way a browser would, against the page's URL under the site's base URL. RSS feeds and
sitemaps are checked too. A broken link is reported once per page, with the content file the page was
rendered from (`hugo list all`, which also knows drafts and future pages, so "a link to a draft" can be
told apart from "a missing page").
"""
from __future__ import annotations

import csv
import html
import io
import os
import re
import subprocess
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urljoin, urlsplit

import yaml
from selectolax.lexbor import LexborHTMLParser

from scripts.errors import UsageError

# Elements and attributes that load or navigate to a URL. Meta refresh is how Hugo's alias pages redirect.
LINK_SELECTOR = (
    "a[href], area[href], link[href], img[src], img[srcset], source[src], source[srcset], video[src], "
    "video[poster], audio[src], track[src], script[src], iframe[src], embed[src], object[data], "
    "meta[http-equiv], meta[property], meta[name]"
)
URL_ATTRIBUTES = ("href", "src", "poster", "data")
# <meta> tags whose content is a URL a reader's browser or a share preview fetches.
META_URL_PROPERTIES = frozenset({"og:image", "og:url", "og:video", "og:audio", "twitter:image"})
# Hints that name an origin, not a resource: fetching them proves nothing.
ORIGIN_ONLY_RELS = frozenset({"preconnect", "dns-prefetch"})
REFRESH_URL = re.compile(r"url\s*=\s*['\"]?([^'\"]+)", re.IGNORECASE)
SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
# In RSS feeds and sitemaps: element text that is a URL, and href attributes (atom:link, xhtml:link).
XML_URL_TEXT = re.compile(r"<(loc|link|guid|comments)(?:\s[^>]*)?>\s*([^<\s]+)\s*</\1>")
XML_HREF = re.compile(r"<(?:atom:link|xhtml:link|link)\s[^>]*?href=\"([^\"]+)\"")
# Below this many files a process pool costs more than it saves.
POOL_THRESHOLD = 200
WORKERS = 2


# ---------------------------------------------------------------- where the site lives


@dataclass(frozen=True)
class SiteURL:
    """The absolute URL the site was built for: links to it are internal."""

    scheme: str
    netloc: str  # lower-case host[:port]
    path: str  # the base path, always starting and ending with "/"

    @classmethod
    def parse(cls, url: str) -> SiteURL:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise UsageError(f"base URL must be an absolute http(s) URL, got {url!r}")
        path = unquote(parts.path) or "/"
        if not path.endswith("/"):
            path += "/"
        return cls(parts.scheme, parts.netloc.lower(), path)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    def page_url(self, rel_file: str) -> str:
        """The URL a browser shows for a file of the built site (`blog/x/index.html` -> `.../blog/x/`)."""
        if rel_file == "index.html":
            rel_file = ""
        elif rel_file.endswith("/index.html"):
            rel_file = rel_file[: -len("index.html")]
        return f"{self.scheme}://{self.netloc}{self.path}{rel_file}"

    def site_path(self, rel_file: str) -> str:
        """The URL path of a built file, as the report shows it (`/zh/blog/x/`)."""
        return urlsplit(self.page_url(rel_file)).path


def configured_base_url(project_root: Path) -> str:
    config_path = project_root / "hugo.yaml"
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise UsageError("no hugo.yaml", path=config_path) from None
    except yaml.YAMLError as err:
        line = getattr(getattr(err, "problem_mark", None), "line", None)
        raise UsageError(f"invalid YAML: {getattr(err, 'problem', err)}", path=config_path,
                         line=None if line is None else line + 1) from None
    base = config.get("baseURL")
    if not isinstance(base, str):
        raise UsageError("baseURL is missing", path=config_path)
    return base


def built_base_url(site_dir: Path, project_root: Path) -> SiteURL:
    """The base URL the site in `site_dir` was built with.

    `invoke build --base-url` can build for another URL than hugo.yaml's, so the built site is asked first:
    the home page's RSS feed names the home page's URL in its channel <link>.
    """
    feed = site_dir / "index.xml"
    if feed.is_file():
        head = feed.read_text(encoding="utf-8", errors="replace")[:4096]
        found = re.search(r"<channel>.*?<link>\s*([^<\s]+)\s*</link>", head, re.DOTALL)
        if found:
            try:
                return SiteURL.parse(html.unescape(found.group(1)))
            except UsageError:
                pass
    return SiteURL.parse(configured_base_url(project_root))


# ---------------------------------------------------------------- reading pages


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset attribute (`a.png 1x, b.png 2x`); a URL may itself contain commas."""
    urls, pos, end = [], 0, len(value)
    while pos < end:
        while pos < end and (value[pos].isspace() or value[pos] == ","):
            pos += 1
        start = pos
        while pos < end and not value[pos].isspace():
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            while pos < end and value[pos] != ",":  # skip the width/density descriptor
                pos += 1
        if url:
            urls.append(url)
    return urls


def html_links(tree: LexborHTMLParser) -> list[str]:
    """Every URL a page links to or loads, as written, in document order.

    Only attributes are read: a URL written as text (in prose or a code block) is not a link.
    """
    links: list[str] = []
    for node in tree.css(LINK_SELECTOR):
        attrs = node.attributes
        tag = node.tag
        if tag == "meta":
            if (attrs.get("http-equiv") or "").lower() == "refresh":
                found = REFRESH_URL.search(attrs.get("content") or "")
                if found:
                    links.append(found.group(1).strip())
            elif (attrs.get("property") or attrs.get("name") or "").lower() in META_URL_PROPERTIES:
                if attrs.get("content"):
                    links.append(attrs["content"])
            continue
        if tag == "link" and ORIGIN_ONLY_RELS.intersection((attrs.get("rel") or "").lower().split()):
            continue
        for name in URL_ATTRIBUTES:
            value = attrs.get(name)
            if value is not None:
                links.append(value)
        srcset = attrs.get("srcset")
        if srcset:
            links.extend(srcset_urls(srcset))
    return links


def html_ids(tree: LexborHTMLParser) -> set[str]:
    """Fragment targets of a page: element ids, and the names of <a name> anchors."""
    ids = {node.id for node in tree.css("[id]")}
    ids.update(node.attributes.get("name") or "" for node in tree.css("a[name]"))
    ids.discard("")
    ids.discard(None)
    return ids


def xml_links(text: str) -> list[str]:
    links = [html.unescape(m.group(2)) for m in XML_URL_TEXT.finditer(text)]
    links.extend(html.unescape(m.group(1)) for m in XML_HREF.finditer(text))
    return links


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
                built = _target_file(target.rel, files)
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


# ---------------------------------------------------------------- where pages come from


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
    from scripts.site.hugo import hugo_binary

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
        base_path = SiteURL.parse(configured_base_url(project_root)).path
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


def describe_source(page: PageLinks, sources: dict[str, ContentPage]) -> str:
    known = sources.get(page_key(page.rel))
    if known is not None:
        return known.source
    if page.alias_of is not None:
        return f"alias of {page.alias_of}"
    if page.rel.endswith("sitemap.xml"):
        return "sitemap"
    if page.rel.endswith(".xml"):
        return "RSS feed"
    return "generated by Hugo"


# ---------------------------------------------------------------- the check


@dataclass(frozen=True, order=True)
class BrokenLink:
    page: str  # the page's URL path, e.g. /zh/blog/x/
    source: str  # the content file it was rendered from, or what generated it
    link: str  # as written in the page
    reason: str

    def __str__(self) -> str:
        return f"{self.page} ({self.source}) -> {self.link}: {self.reason}"


@dataclass
class LinkReport:
    base_url: str
    pages: int  # pages, feeds and sitemaps read
    links: int  # internal links checked
    broken: list[BrokenLink] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.broken

    def render(self) -> str:
        lines = [str(link) for link in self.broken]
        checked = f"{self.links} internal links on {self.pages} pages under {self.base_url}"
        if self.broken:
            pages = len({link.page for link in self.broken})
            noun = "link" if len(self.broken) == 1 else "links"
            lines.append(f"{len(self.broken)} broken {noun} on {pages} page{'s' if pages != 1 else ''} "
                         f"(checked {checked})")
        else:
            lines.append(f"no broken links (checked {checked})")
        return "\n".join(lines)


def _target_file(rel: str, files: set[str]) -> str | None:
    """The built file a site-relative URL path serves, as GitHub Pages would serve it."""
    if rel == "" or rel.endswith("/"):
        candidate = rel + "index.html"
        return candidate if candidate in files else None
    if rel in files:
        return rel
    if rel + "/index.html" in files:  # GitHub Pages redirects /dir to /dir/
        return rel + "/index.html"
    return None


IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "ico", "bmp"})
FILE_EXTENSIONS = frozenset({"css", "js", "mjs", "json", "xml", "txt", "pdf", "mp4", "webm", "mp3", "ogg", "woff",
                             "woff2", "ttf", "zip", "gz", "csv", "wasm", "pagefind", "pf_meta", "pf_index"})


def _missing_reason(target: Target, sources: dict[str, ContentPage]) -> str:
    rel = target.rel or ""
    page = sources.get(rel) or (sources.get(rel + "/") if not rel.endswith("/") else None)
    if page is not None and page.unpublished_reason:
        return f"links to a page that is not published: {page.source} is {page.unpublished_reason}"
    extension = rel.rsplit("/", 1)[-1].rpartition(".")[2].lower() if "." in rel.rsplit("/", 1)[-1] else ""
    if extension in IMAGE_EXTENSIONS:
        return "missing image"
    if extension in FILE_EXTENSIONS:
        return "missing file"
    return "missing page"


def check_internal(site_dir: Path, *, project_root: Path, base_url: str | None = None) -> LinkReport:
    """Check every internal link, image and fragment of the site built into `site_dir`."""
    if not site_dir.is_dir():
        raise UsageError(f"no built site at {site_dir}: run `invoke build` first")
    site = SiteURL.parse(base_url) if base_url else built_base_url(site_dir, project_root)
    files = site_files(site_dir)
    pages = read_site(site_dir, site, files, prefilter=True)
    ids = {page.rel: page.ids for page in pages}

    problems: list[tuple[PageLinks, str, Target, str | None]] = []  # reason None: ask Hugo why it is missing
    links = 0
    for page in pages:
        links += page.checked
        for raw, target in page.internal:
            if target.rel is None:
                problems.append((page, raw, target, f"outside the site's base path {site.path}"))
                continue
            built = _target_file(target.rel, files)
            if built is None:
                problems.append((page, raw, target, None))
            elif target.fragment and built.endswith(".html") and target.fragment not in ids.get(built, ()) \
                    and target.fragment.lower() != "top":  # "#top" scrolls to the top without an element
                where = "on this page" if built == page.rel else f"on {site.site_path(built)}"
                problems.append((page, raw, target, f"missing anchor #{target.fragment} {where}"))

    report = LinkReport(base_url=str(site), pages=len(pages), links=links)
    if problems:
        sources = content_pages(project_root)  # only paid for when there is something to explain
        for page, raw, target, reason in problems:
            report.broken.append(BrokenLink(
                page=site.site_path(page.rel),
                source=describe_source(page, sources),
                link=raw,
                reason=reason or _missing_reason(target, sources),
            ))
        report.broken.sort()
    return report


def check_links(project_root: Path, *, build: bool = True, crawl: bool = False) -> LinkReport:
    """What `invoke check-links` does: build (unless told not to), then check in-process or crawl."""
    from scripts.site.build import build_site

    site_dir = project_root / "site"
    if crawl:
        from scripts.links.crawl import crawl_site

        # A crawl builds its own copy for the loopback URL; --no-build crawls site/ as it is.
        return crawl_site(project_root, site_dir=None if build else site_dir)
    if build:
        site_dir = build_site(project_root).destination
    return check_internal(site_dir, project_root=project_root)
