"""Browser fixtures: the real site built once per session, served on 127.0.0.1 under a sub-path, and
Debian's Chromium headless shell driven by Playwright, with every request off 127.0.0.1 aborted and recorded.

The browser comes from Debian (`apt-get install chromium-headless-shell`, or Chromium itself): Playwright's
own browser download cannot work here. Without one the browser tests skip locally; in CI (CI=true) a
missing browser fails them.
"""
from __future__ import annotations

import functools
import json
import os
import shutil
import struct
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts.perf.browser import (AXE_HINT, AXE_SCRIPT, CHROMIUM_FLAGS, CONTENT_MEDIA_HOST, HEADLESS_SHELL_HINT,
                                  headless_shell_path)
from scripts.site.static_server import StaticServer
from tests.conftest import ROOT, copy_project

SUB_PATH = "/qwen-blog/"  # served under a sub-path, as a GitHub project page is: catches root-relative links
VIEWPORTS = {
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 3},
    "desktop": {"viewport": {"width": 1280, "height": 800}},
}


@dataclass
class Site:
    dir: Path
    server: StaticServer

    def url(self, path: str = "") -> str:
        return self.server.url(path)


@pytest.fixture(scope="session")
def chromium_executable() -> Path:
    found = headless_shell_path()
    if found is None:
        _missing(HEADLESS_SHELL_HINT)
    return found


def _missing(message: str) -> None:
    """Skip locally; in CI (CI=true) what the browser tests need must be there, so fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(message + "; in CI a missing browser or tool is a failure", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from node_modules (`npm ci`), which the accessibility tests inject into pages."""
    if not AXE_SCRIPT.is_file():
        _missing(AXE_HINT)
    return AXE_SCRIPT


@pytest.fixture(scope="session")
def site(chromium_executable: Path):
    """The real project, built by `build_site` (Hugo, then Pagefind) for the address it is served at."""
    from scripts.site.build import build_site

    work = Path(tempfile.mkdtemp(prefix="browser-site-"))
    server = StaticServer(work / "site", SUB_PATH)
    try:
        build_site(ROOT, destination=work / "site", base_url=server.base_url)
        with server:
            yield Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


# Extra posts for what the announcement alone cannot show: a TOC that starts open and one that does not,
# previous/next links between posts, a tag page, and a figure from the page bundle (known dimensions).
EXTRA_POSTS = {
    "toc-open": dict(title="A post whose contents start open", date="2025-01-10T10:00:00+08:00", toc_open=True),
    "toc-closed": dict(title="A post whose contents start closed", date="2025-01-20T10:00:00+08:00", toc_open=False),
}
FIGURE_SIZE = (800, 500)


def _encode_png(width: int, height: int, rows: bytes) -> bytes:
    """An 8-bit RGB PNG of `rows` (each a filter byte, then its pixels), written by hand so the tests need
    no imaging library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def _png(width: int, height: int) -> bytes:
    """A plain grey PNG."""
    return _encode_png(width, height, b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height)))


def _write_extra_posts(project: Path) -> None:
    for slug, meta in EXTRA_POSTS.items():
        bundle = project / "content" / "blog" / slug
        bundle.mkdir()
        (bundle / "chart.png").write_bytes(_png(*FIGURE_SIZE))
        sections = "\n\n".join(
            f"## Section {n}\n\n" + " ".join(["Words that take up room so that headings are far apart."] * 40)
            for n in range(1, 5))
        (bundle / "index.md").write_text(f"""---
title: "{meta['title']}"
date: {meta['date']}
tags: ["Testing"]
show_toc: true
toc_open: {str(meta['toc_open']).lower()}
show_post_nav_links: true
show_bread_crumbs: true
---

An introduction before the first heading.

{{{{< figure src="chart.png" alt="A grey chart" caption="A bundle image" >}}}}

{sections}
""", encoding="utf-8")


def _served_copy(prefix: str, write_posts):
    """A copy of the project with `write_posts(project)` added, built and served like `site`."""
    from scripts.site.build import build_site

    work = Path(tempfile.mkdtemp(prefix=prefix))
    project = copy_project(work / "project")
    write_posts(project)
    server = StaticServer(work / "site", SUB_PATH)
    try:
        build_site(project, destination=work / "site", base_url=server.base_url)
        with server:
            yield Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def blog_site(chromium_executable: Path):
    """The project with EXTRA_POSTS added."""
    yield from _served_copy("browser-blog-", _write_extra_posts)


# Posts for what the old blog's posts use: a set of five example transcripts (the example shortcodes,
# stepped through by assets/js/examples.js), a long post with headings, and a chart PNG (CHART_SIZE) whose
# pixels must survive encoding (tests/browser/test_charts.py).
CHART_SIZE = (640, 320)
EXAMPLES = 5


def chart_png(width: int, height: int) -> bytes:
    """A chart-like PNG: flat bars on white, one-pixel grid lines and a one-pixel diagonal, the edges and
    flat colours that lossy encoding blurs."""
    white, ink, bars = (255, 255, 255), (17, 17, 17), ((67, 56, 202), (220, 38, 38), (22, 163, 74))
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter: none
        for x in range(width):
            bar = x // 40
            if y % 32 == 0 or x % 64 == 0 or x == 2 * y:
                rows.extend(ink)
            elif height - y < (bar * 53) % height:
                rows.extend(bars[bar % 3])
            else:
                rows.extend(white)
    return _encode_png(width, height, bytes(rows))


def _write_archive_posts(project: Path) -> None:
    blog = project / "content" / "blog"
    examples = blog / "examples"
    (examples / "cases").mkdir(parents=True)
    calls = []
    for n in range(1, EXAMPLES + 1):
        data = {"title": f"Question {n}", "messages": [
            {"role": "Reader", "content": f"What is {n} squared, as $n^2$?"},
            {"role": "Model", "content": f"It is **{n * n}**." + ("\n\nMore.\n" * 40 if n == 2 else "")}]}
        (examples / "cases" / f"q{n}.json").write_text(json.dumps(data), encoding="utf-8")
        calls.append(f'{{{{< example data="cases/q{n}.json" hide={str(n > 1).lower()} next=true'
                     f'{" scroll=true" if n == 2 else ""} >}}}}')
    body = "\n".join(calls)
    for name, title in (("index.md", "Five questions"), ("index.zh.md", "五个问题")):
        (examples / name).write_text(f"""---
title: "{title}"
date: 2025-02-01T10:00:00+08:00
math: true
---

Questions and answers, one at a time.

{{{{< fullwidth class="example-container" >}}}}
{body}
{{{{< /fullwidth >}}}}

## After the examples

The end.
""", encoding="utf-8")
    chart = blog / "chart"
    chart.mkdir()
    (chart / "chart.png").write_bytes(chart_png(*CHART_SIZE))
    sections = "\n\n".join(f"## Part {n}\n\n" + " ".join(["A sentence that fills the page with words."] * 60)
                             for n in range(1, 5))
    (chart / "index.md").write_text(f"""---
title: "A chart and a long read"
date: 2025-02-02T10:00:00+08:00
---

An opening paragraph.

{{{{< figure src="chart.png" alt="Bars and lines" >}}}}

{sections}
""", encoding="utf-8")


@pytest.fixture(scope="session")
def archive_site(chromium_executable: Path):
    """The project with the posts of _write_archive_posts added."""
    yield from _served_copy("browser-archive-", _write_archive_posts)


@pytest.fixture(scope="session")
def browser(chromium_executable: Path):
    """One Chromium for the whole session (per xdist worker); each test gets fresh contexts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives the browser a new, empty profile directory and removes it on close.
        # --disable-checker-imaging: a loaded image is drawn in the next frame, not left blank until a
        # background decode ends (large decoding="async" images), which no page event would tell a test.
        browser = pw.chromium.launch(executable_path=str(chromium_executable), headless=True,
                                     args=[*CHROMIUM_FLAGS, "--disable-checker-imaging"])
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Traffic:
    """What the test's browser contexts asked for beyond 127.0.0.1, and the errors their pages logged."""

    third_party: list[str] = field(default_factory=list)  # aborted: not allowed at all
    content_media: list[str] = field(default_factory=list)  # aborted too (no network), but allowed
    console_errors: list[str] = field(default_factory=list)  # "text (source URL)"
    page_errors: list[str] = field(default_factory=list)  # uncaught exceptions

    def first_party_console_errors(self) -> list[str]:
        """Console errors not caused by the content's remote media failing to load offline."""
        return [e for e in self.console_errors if CONTENT_MEDIA_HOST not in e]


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request) -> str:
    """Every page test runs at both viewports, unless pinned to one with `only_at` (where the viewport
    cannot change the outcome, a second run would only cost time)."""
    return request.param


def only_at(*viewports: str):
    return pytest.mark.parametrize("viewport", viewports, indirect=True)


@pytest.fixture
def traffic() -> Traffic:
    return Traffic()


@pytest.fixture
def new_context(browser, traffic: Traffic, viewport: str):
    """A factory of fresh browser contexts at the test's viewport (options are passed to Playwright);
    every request off 127.0.0.1 is aborted (there is no network) and recorded in `traffic`."""
    contexts = []

    def make(**options):
        ctx = browser.new_context(**{**VIEWPORTS[viewport], **options})
        ctx.route("**/*", functools.partial(_route, traffic))
        ctx.on("console", functools.partial(_console, traffic))
        ctx.on("weberror", lambda err: traffic.page_errors.append(str(err.error)))
        contexts.append(ctx)
        return ctx

    yield make
    for ctx in contexts:
        ctx.close()


def _route(traffic: Traffic, route) -> None:
    url = route.request.url
    if urlsplit(url).hostname == "127.0.0.1":
        route.continue_()
        return
    (traffic.content_media if urlsplit(url).hostname == CONTENT_MEDIA_HOST else traffic.third_party).append(url)
    route.abort("internetdisconnected")


def _console(traffic: Traffic, message) -> None:
    if message.type == "error":
        traffic.console_errors.append(f"{message.text} ({message.location.get('url', '')})")


@pytest.fixture
def page(new_context):
    """A page in a fresh context at the test's viewport."""
    return new_context().new_page()

