"""Extracting what a page links to, and the ids it can be linked at, from built HTML, feeds and sitemaps."""
from __future__ import annotations

import html
import re

from selectolax.lexbor import LexborHTMLParser

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


# In RSS feeds and sitemaps: element text that is a URL, and href attributes (atom:link, xhtml:link).
XML_URL_TEXT = re.compile(r"<(loc|link|guid|comments)(?:\s[^>]*)?>\s*([^<\s]+)\s*</\1>")


XML_HREF = re.compile(r"<(?:atom:link|xhtml:link|link)\s[^>]*?href=\"([^\"]+)\"")


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
