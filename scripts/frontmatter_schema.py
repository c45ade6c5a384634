"""The front-matter keys this site understands, and their types: the one list that the linter,
the scaffold and the layout tests all read.

The order of POST_KEYS is the order of the announcement's front matter, which `invoke new-post`
reproduces. `commented` marks the keys that the announcement (and so a new post) lists commented out.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # "string" | "int" | "bool" | "date" | "string-list" | "map"
    commented: bool = False  # commented out in the announcement's front matter
    children: tuple["Key", ...] = field(default=())
    doc: str = ""


def _k(name: str, type_: str, commented: bool = False, doc: str = "", children: tuple[Key, ...] = ()) -> Key:
    return Key(name=name, type=type_, commented=commented, doc=doc, children=children)


COVER_KEYS: tuple[Key, ...] = (
    _k("image", "string", doc="cover image: a page-bundle file (with relative: true) or a URL"),
    _k("alt", "string", doc="cover alt text"),
    _k("caption", "string", doc="caption under the cover"),
    _k("relative", "bool", doc="image is relative to the page bundle"),
    _k("responsive_images", "bool", doc="emit a WebP srcset for a bundle image"),
    _k("hidden", "bool", doc="hide the cover on the post page (lists still show it)"),
)

HEADER_KEYS: tuple[Key, ...] = (
    _k("background", "string", doc="CSS background of the post header"),
    _k("background_image", "string", doc="image URL or bundle file behind the post header"),
    _k("gradient", "bool", doc="darken the header image with a gradient"),
    _k("blur", "bool", doc="blur the header image"),
)

# The announcement's keys, in its order.
POST_KEYS: tuple[Key, ...] = (
    _k("title", "string", doc="page title"),
    _k("date", "date", doc="publication date, ISO 8601 with offset"),
    _k("weight", "int", doc="lower weights are pinned first in lists"),
    _k("aliases", "string-list", commented=True, doc="old URLs that redirect here"),
    _k("tags", "string-list", commented=True, doc="tag names"),
    _k("draft", "bool", commented=True, doc="left out of production builds"),
    _k("comments", "bool", commented=True, doc="show the comments section"),
    _k("description", "string", commented=True, doc="meta description and list summary"),
    _k("disable_share", "bool", commented=True, doc="hide the share links"),
    _k("hide_meta", "bool", commented=True, doc="hide date, reading time and word count"),
    _k("hide_summary", "bool", commented=True, doc="hide the summary in lists"),
    _k("hide_footer", "bool", commented=True, doc="hide the post footer (tags, navigation, share)"),
    _k("math", "bool", doc="render $…$ and $$…$$ as MathML at build time"),
    _k("search_hidden", "bool", commented=True, doc="keep the page out of search"),
    _k("show_reading_time", "bool", doc="show the reading time"),
    _k("show_bread_crumbs", "bool", doc="show breadcrumbs above the title"),
    _k("show_post_nav_links", "bool", doc="previous/next links after the content"),
    _k("show_code_copy_buttons", "bool", doc="a copy button on each code block"),
    _k("show_word_count", "bool", doc="show the word count"),
    _k("use_hugo_toc", "bool", commented=True, doc="use Hugo's TableOfContents rather than our own list"),
    _k("show_toc", "bool", commented=True, doc="show the table of contents"),
    _k("toc_open", "bool", commented=True, doc="the table of contents starts open"),
    _k("cover", "map", commented=True, children=COVER_KEYS, doc="cover image"),
    _k("header", "map", commented=True, children=HEADER_KEYS, doc="post header background"),
)

# Hugo's own front-matter fields, accepted anywhere (https://gohugo.io/content-management/front-matter/).
HUGO_KEYS: tuple[Key, ...] = (
    _k("aliases", "string-list"), _k("build", "map"), _k("cascade", "any"), _k("date", "date"),
    _k("description", "string"), _k("draft", "bool"), _k("expiryDate", "date"), _k("headless", "bool"),
    _k("isCJKLanguage", "bool"), _k("keywords", "string-list"), _k("lastmod", "date"), _k("layout", "string"),
    _k("linkTitle", "string"), _k("markup", "string"), _k("menus", "any"), _k("outputs", "string-list"),
    _k("params", "map"), _k("publishDate", "date"), _k("resources", "any"), _k("sitemap", "map"),
    _k("slug", "string"), _k("summary", "string"), _k("tags", "string-list"), _k("title", "string"),
    _k("translationKey", "string"), _k("type", "string"), _k("url", "string"), _k("weight", "int"),
    _k("sites", "any"),
)

REQUIRED_KEYS: tuple[str, ...] = ("title", "date")


def known_keys() -> dict[str, Key]:
    """Every accepted top-level key; our post keys win over Hugo's where both name one."""
    keys = {k.name: k for k in HUGO_KEYS}
    keys.update({k.name: k for k in POST_KEYS})
    return keys


def type_matches(key: Key, value: Any) -> bool:
    """Whether a parsed YAML/TOML value has the key's type."""
    if key.type == "any":
        return True
    if key.type == "string":
        return isinstance(value, str)
    if key.type == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if key.type == "bool":
        return isinstance(value, bool)
    if key.type == "date":
        if isinstance(value, (_dt.date, _dt.datetime)):
            return True
        if isinstance(value, str):
            try:
                _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
                return True
            except ValueError:
                return False
        return False
    if key.type == "string-list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if key.type == "map":
        return isinstance(value, dict)
    raise ValueError(f"unknown schema type {key.type!r}")


# Our shortcodes and the named parameters each takes (layouts/_shortcodes/<name>.html). The linter
# checks every call against this; the shortcodes' own tests read it too.
@dataclass(frozen=True)
class Shortcode:
    name: str
    params: tuple[str, ...]
    required: tuple[str, ...] = ()


SHORTCODES: dict[str, Shortcode] = {
    sc.name: sc
    for sc in (
        Shortcode("figure", params=("src", "alt", "caption", "title", "link", "target", "width", "height", "class"),
                  required=("src",)),
        Shortcode("button", params=("href", "label", "external"), required=("href", "label")),
        # The old blog's shortcodes, with its parameters (video also takes src as its one positional one).
        Shortcode("video", params=("src", "controls", "loop", "autoplay", "muted", "playsinline", "poster",
                                   "title", "alt", "width", "class")),
        Shortcode("fullwidth", params=("class",)),
        Shortcode("example", params=("data", "next", "hide", "scroll"), required=("data",)),
        Shortcode("example_audio", params=("data", "next", "hide", "scroll"), required=("data",)),
        Shortcode("rawhtml", params=()),
    )
}
