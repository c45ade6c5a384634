"""RSS feeds (layouts/rss.xml), built by real Hugo: posts only, so the archives and search pages are in
none (the archives keep their menu entry and sitemap place); an item's description is the page's
`description`, else a plain summary; and a post's content is not rendered for a feed when it has one."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site.hugo import BuildOptions, build
from tests.conftest import copy_project, parse

ATOM = "{http://www.w3.org/2005/Atom}"
BASE = "https://qwenlm.github.io/"


def feeds(site: Path) -> dict[str, ET.Element]:
    """Every RSS feed of a built site: site path -> <channel>."""
    found = {}
    for path in sorted(site.rglob("index.xml")):
        root = ET.parse(path).getroot()
        assert root.tag == "rss" and root.get("version") == "2.0", path
        found[path.relative_to(site).as_posix()] = root.find("channel")
    return found


def items(channel: ET.Element) -> list[dict[str, str]]:
    return [{child.tag: (child.text or "") for child in item} | {"categories": [c.text for c in item.iter("category")]}
            for item in channel.iter("item")]


# ---- the real site ----

def test_no_feed_carries_the_archives_or_the_search_page(built_site: Path):
    found = feeds(built_site)
    assert {"index.xml", "zh/index.xml", "blog/index.xml", "zh/blog/index.xml"} <= set(found)
    for path, channel in found.items():
        links = [item["link"] for item in items(channel)]
        assert links, f"{path}: no items"
        for link in links:
            assert re.fullmatch(re.escape(BASE) + r"(zh/)?blog/[^/]+/", link), f"{path}: {link} is not a post"
    assert [item["link"] for item in items(found["zh/index.xml"])] == [BASE + "zh/blog/qwen2.5-max/"]


def test_the_archives_keep_their_menu_entry_and_sitemap_place(built_site: Path):
    for lang, prefix in (("en", ""), ("zh", "zh/")):
        assert f"<loc>{BASE}{prefix}archives/</loc>" in (built_site / lang / "sitemap.xml").read_text()
        menu = parse(built_site / prefix / "index.html").css("header nav .menu-item a")
        assert f"/{prefix}archives/" in [a.attributes["href"] for a in menu]


def test_the_announcements_item_is_a_plain_summary_without_figure_or_button_markup(built_site: Path):
    for path, starts in (("index.xml", "It is widely held that"), ("zh/index.xml", "过去有一种观点认为")):
        (item,) = items(feeds(built_site)[path])
        assert item["description"].startswith(starts), item["description"]
        assert "<" not in item["description"] and "QWEN CHAT" not in item["description"]


def test_the_channel_names_its_language_its_own_address_and_its_newest_date(built_site: Path):
    channel = feeds(built_site)["zh/blog/index.xml"]
    assert channel.findtext("language") == "zh-CN"
    assert channel.findtext("title") == "博客 · Qwen"
    assert channel.findtext("description") == "通义千问团队的研究进展。"
    assert channel.find(f"{ATOM}link").get("href") == BASE + "zh/blog/index.xml"
    assert channel.findtext("lastBuildDate") == items(channel)[0]["pubDate"] == "Tue, 28 Jan 2025 23:00:04 +0800"


# ---- a project with more pages ----

DESCRIBED = """---
title: "Described & <noted>"
date: 2024-05-02T10:00:00+08:00
description: "Scores & <b>claims</b>, in one line."
tags: ["Notes"]
---

{{< probe >}}

The body says something else entirely.
"""

PLAIN = """---
title: Plain
date: 2024-05-01T10:00:00+08:00
tags: ["Notes"]
---

{{< figure src="https://example.org/banner.png" width="100%" >}}

{{< button href="https://example.org/chat" label="CHAT" external=true >}}

Plain words come first. Then more words.
"""

ABOUT = """---
title: About
tags: ["Notes"]
---

Not a post, though tagged like one.
"""


def feeds_project(root: Path, *, described: str = DESCRIBED) -> Path:
    """The project with a post that has a description, one without, and a tagged page that is not a
    post. The `probe` shortcode fails the build if it is rendered for a feed (its RSS template)."""
    copy_project(root)
    for slug, text in (("described", described), ("plain", PLAIN)):
        (root / "content" / "blog" / slug).mkdir(parents=True)
        (root / "content" / "blog" / slug / "index.md").write_text(text, encoding="utf-8")
    (root / "content" / "about.md").write_text(ABOUT, encoding="utf-8")
    (root / "layouts" / "_shortcodes" / "probe.html").write_text("<p>probe</p>", encoding="utf-8")
    (root / "layouts" / "_shortcodes" / "probe.rss.xml").write_text(
        '{{ errorf "probe: %s rendered for a feed" .Page.RelPermalink }}', encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = feeds_project(tmp_path_factory.mktemp("feeds") / "project")
    build(BuildOptions(source=root, destination=root / "public"))
    return root / "public"


def test_an_item_carries_the_description_when_set_else_a_plain_summary(site: Path):
    by_title = {item["title"]: item for item in items(feeds(site)["index.xml"])}
    # As plain text, like the page's meta description: escaped for XML, its markup dropped.
    assert by_title["Described & <noted>"]["description"] == "Scores & claims, in one line."
    assert by_title["Plain"]["description"] == "Plain words come first. Then more words."
    assert by_title["Plain"]["categories"] == ["Notes"]


def test_a_page_that_is_not_a_post_is_in_no_feed_even_when_tagged(site: Path):
    found = feeds(site)
    assert "tags/notes/index.xml" in found
    for path, channel in found.items():
        assert BASE + "about/" not in [item["link"] for item in items(channel)], path
    assert [item["title"] for item in items(found["tags/notes/index.xml"])] == ["Described & <noted>", "Plain"]
    assert (site / "about" / "index.html").is_file()
    assert f"<loc>{BASE}about/</loc>" in (site / "en" / "sitemap.xml").read_text()


def test_a_described_posts_content_is_not_rendered_for_feeds(site: Path, tmp_path: Path):
    # The module's build succeeded, with the probe in the described post: its content was not rendered
    # for any feed. The probe does fail a build when that post has no description:
    root = feeds_project(tmp_path / "project", described=DESCRIBED.replace('description: "Scores & <b>claims</b>, in one line."\n', ""))
    with pytest.raises(CheckFailed) as err:
        build(BuildOptions(source=root, destination=root / "public"))
    assert "probe: /blog/described/ rendered for a feed" in str(err.value)
