"""Where the site lives: the absolute base URL it was built for, against which links are internal."""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from scripts.errors import UsageError
from scripts.site.config import read_site_config


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
    return configured_site_url(project_root)


def configured_site_url(project_root: Path) -> SiteURL:
    """The site's URL as hugo.yaml's baseURL gives it."""
    config = read_site_config(project_root)
    if config.base_url is None:
        raise UsageError("baseURL is missing", path=config.path)
    return SiteURL.parse(config.base_url)
