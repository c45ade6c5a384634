"""Crawl the site over HTTP with LinkChecker, the engine the CI link job runs.

The site is served on 127.0.0.1 by a server in this process, under the same base path as the real site.
LinkChecker throttles its requests to a host whatever `maxrequestspersecond` says, unless the
server answers with a `LinkChecker` response header; our server sends it, so the configured rate applies.
Run as root, LinkChecker drops to user `nobody` (seteuid) before it loads its plugins, and then cannot list
its own plugin package when Python lives under /root (mode 0700): AnchorCheck would silently do nothing.
So its configuration and a one-line plugin module that re-exports AnchorCheck (already imported while
LinkChecker was still root) live in a world-readable temporary directory, found through $XDG_DATA_HOME,
and its report comes back on stdout.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator
from urllib.parse import unquote, urlsplit

from scripts.errors import UsageError
from scripts.links.report import BrokenLink, LinkReport
from scripts.links.site_url import SiteURL, configured_site_url
from scripts.links.sources import content_pages, page_key

LINKCHECKER_CONFIG = """\
[checking]
threads=8
timeout=30
# Only honoured above 10 because our server sends a LinkChecker header.
maxrequestspersecond=1000
[output]
status=0
[AnchorCheck]
"""

PLUGIN_SHIM = """\
# Loaded by LinkChecker from $XDG_DATA_HOME/linkchecker/plugins after it dropped root (see linkchecker_crawl.py).
from linkcheck.plugins.anchorcheck import AnchorCheck  # noqa: F401
"""


class _SiteHandler(SimpleHTTPRequestHandler):
    """Serves the built site under the base path, as GitHub Pages would, and lifts LinkChecker's rate limit."""

    base_path = "/"

    def translate_path(self, path: str) -> str:
        url_path = unquote(urlsplit(path).path)
        if not url_path.startswith(self.base_path):
            return os.path.join(self.directory, "\0outside-base-path")  # a 404
        return super().translate_path("/" + url_path[len(self.base_path):])

    def end_headers(self) -> None:
        self.send_header("LinkChecker", "rate limit lifted for this local crawl")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def serve_directory(directory: Path, base_path: str, server: ThreadingHTTPServer | None = None) -> Iterator[str]:
    """Serve `directory` at http://127.0.0.1:PORT{base_path} in a thread; yields that URL."""
    handler = type("Handler", (_SiteHandler,), {"base_path": base_path})
    if server is None:
        server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(directory)))
    else:
        server.RequestHandlerClass = partial(handler, directory=str(directory))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{base_path}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def linkchecker_command() -> list[str]:
    found = shutil.which("linkchecker")
    if found:
        return [found]
    return [sys.executable, "-m", "linkcheck"]


@dataclass(frozen=True)
class CrawlRow:
    """One problem row of LinkChecker's CSV output."""

    link: str  # as written in the page
    url: str  # absolute
    parent: str
    result: str
    warning: str
    valid: bool


def parse_csv(output: str) -> list[CrawlRow]:
    lines = [line for line in output.splitlines() if line and not line.startswith("#")]
    rows = []
    for row in csv.DictReader(lines, delimiter=";"):
        if not row.get("urlname"):
            continue
        rows.append(CrawlRow(link=row["urlname"], url=row.get("url") or "", parent=row.get("parentname") or "",
                             result=row.get("result") or "", warning=row.get("warningstring") or "",
                             valid=(row.get("valid") or "").strip() in ("True", "1")))
    return rows


def run_linkchecker(start_url: str, workdir: Path) -> str:
    """Crawl from `start_url` (external links are not followed); returns LinkChecker's CSV output."""
    config = workdir / "linkcheckerrc"
    config.write_text(LINKCHECKER_CONFIG, encoding="utf-8")
    plugins = workdir / "data" / "linkchecker" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "anchors_for_nobody.py").write_text(PLUGIN_SHIM, encoding="utf-8")
    for path in (workdir, workdir / "data", workdir / "data" / "linkchecker", plugins):
        path.chmod(0o755)
    for path in (config, plugins / "anchors_for_nobody.py"):
        path.chmod(0o644)
    # LinkChecker looks for ~/.linkchecker and $XDG_DATA_HOME/linkchecker/plugins: keep both in workdir.
    env = dict(os.environ, HOME=str(workdir), XDG_DATA_HOME=str(workdir / "data"))
    try:
        proc = subprocess.run(linkchecker_command() + ["--config", str(config), "--no-status", "--verbose",
                                                       "--output", "csv", start_url],
                              capture_output=True, text=True, env=env, cwd=workdir, timeout=1800)
    except FileNotFoundError:
        raise UsageError("linkchecker not found: install it with `pip install -r requirements.txt`") from None
    # 0: no problems, 1: problems found; anything else is LinkChecker failing.
    if proc.returncode not in (0, 1):
        raise UsageError(f"linkchecker failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return proc.stdout


def _report(rows: list[CrawlRow], start_url: str, project_root: Path, pages: int) -> LinkReport:
    site = SiteURL.parse(start_url)
    checked = sum(1 for row in rows if row.result != "filtered")  # "filtered": outside the crawl
    report = LinkReport(base_url=start_url, pages=pages, links=checked)
    sources = content_pages(project_root) if rows else {}
    seen = set()
    for row in rows:
        anchor_warning = "Anchor" in row.warning and "not found" in row.warning
        if row.valid and not anchor_warning:
            continue
        parent = urlsplit(row.parent)
        page = unquote(parent.path) or "/"
        rel = page[len(site.path):] if page.startswith(site.path) else page
        known = sources.get(page_key(rel)) or sources.get(rel)
        if anchor_warning:
            fragment = unquote(urlsplit(row.url).fragment)
            reason = f"missing anchor #{fragment}"
        else:
            reason = row.result or "broken"
        key = (page, row.link)
        if key in seen:
            continue
        seen.add(key)
        report.broken.append(BrokenLink(page=page, source=known.source if known else "generated by Hugo",
                                        link=row.link, reason=reason))
    report.broken.sort()
    return report


def crawl_site(project_root: Path, *, site_dir: Path | None = None) -> LinkReport:
    """Serve the site on 127.0.0.1 and crawl it with LinkChecker.

    With `site_dir`, that built site is served as it is (links written with its production URL are then
    outside the crawl). Without, the site is built afresh for the loopback URL into a temporary directory,
    so every link, absolute or relative, stays on the local server.
    """
    from scripts.site.build import build_site, count_html_files

    base_path = configured_site_url(project_root).path
    workdir = Path(tempfile.mkdtemp(prefix="qwen-crawl-", dir="/tmp"))
    try:
        workdir.chmod(0o755)
        server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
        start_url = f"http://127.0.0.1:{server.server_address[1]}{base_path}"
        if site_dir is None:
            site_dir = workdir / "site"
            build_site(project_root, destination=site_dir, base_url=start_url)
        elif not site_dir.is_dir():
            server.server_close()
            raise UsageError(f"no built site at {site_dir}: run `invoke build` first")
        with serve_directory(site_dir, base_path, server):
            output = run_linkchecker(start_url, workdir)
        pages = count_html_files(site_dir)
        return _report(parse_csv(output), start_url, project_root, pages)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
