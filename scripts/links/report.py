"""The report of an internal link check, in-process or by LinkChecker's crawl."""
from __future__ import annotations

from dataclasses import dataclass, field

# What Go's html/template writes in place of a URL it will not put in an href: a scheme other than http,
# https and mailto (javascript:), or one it cannot parse. The URL itself is gone from the page.
REFUSED_URL_FRAGMENT = "ZgotmplZ"
REFUSED_URL = ("a URL the templates refused: only http:, https:, mailto: and relative URLs are "
               "kept; fix the link's URL in the source")


def anchor_reason(fragment: str, where: str) -> str:
    """Why a link to `#fragment` is broken, `where` naming the page it points to ("on this page")."""
    if fragment == REFUSED_URL_FRAGMENT:
        return REFUSED_URL
    return f"missing anchor #{fragment} {where}"


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
