"""Browser fixtures: the real site built once per session, served on 127.0.0.1 under a sub-path, and
Debian's Chromium driven by Playwright, with every request off 127.0.0.1 aborted and recorded.

Chromium comes from Debian (`apt-get install chromium`): Playwright's own browser download cannot work
here. Without it the browser tests skip locally; in CI (CI=true) a missing browser fails them.
"""
from __future__ import annotations

import functools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scripts.browser import CHROMIUM_FLAGS, CONTENT_MEDIA_HOST, chromium_path
from scripts.static_server import StaticServer
from tests.conftest import ROOT

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
    found = chromium_path()
    if found is None:
        message = "Chromium not found: browser tests need Debian's Chromium (`apt-get install chromium`)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + "; in CI a missing browser is a failure", pytrace=False)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def site(chromium_executable: Path):
    """The real project, built by `build_site` (Hugo, then Pagefind) for the address it is served at."""
    from scripts.site import build_site

    work = Path(tempfile.mkdtemp(prefix="browser-site-"))
    server = StaticServer(work / "site", SUB_PATH)
    try:
        build_site(ROOT, destination=work / "site", base_url=server.base_url)
        with server:
            yield Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="session")
def browser(chromium_executable: Path):
    """One Chromium for the whole session (per xdist worker); each test gets fresh contexts."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        # launch() gives the browser a new, empty profile directory and removes it on close.
        browser = pw.chromium.launch(executable_path=str(chromium_executable), headless=True,
                                     args=list(CHROMIUM_FLAGS))
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
    return request.param


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

