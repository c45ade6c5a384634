"""Summaries and list order, built by real Hugo from posts of our own shaped like the old blog's: a post
that opens with a heading, one that opens with buttons, a figure and code, one with front matter
`summary`; and weights as the old posts set them (nearly all `weight: 1`)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project

HEADING_FIRST = """---
title: "Wombat burrows"
date: 2024-03-01T10:00:00+08:00
weight: 1
---

## Introduction

The advent of burrow mapping changed how we count wombats.

## Method

We walked.
"""

HEADING_FIRST_ZH = """---
title: "袋熊的洞穴"
date: 2024-03-01T10:00:00+08:00
weight: 1
---

## 简介

洞穴测绘的出现改变了我们统计袋熊的方式。
"""

BUTTONS_FIRST = """---
title: "Tools for counting"
date: 2024-03-02T10:00:00+08:00
weight: 1
math: true
---

{{< button href="https://example.org/code" label="GITHUB" external=true >}}
{{< button href="https://example.org/demo" label="DEMO" external=true >}}

{{< figure src="https://media.example.org/banner.png" caption="A banner caption" >}}

```python
from counting import tally
```

## Overview

Counting needs patience[^1] and a formula, $n^2$, now and then.

[^1]: And coffee.
"""

OWN_SUMMARY = """---
title: "A summary of our own"
date: 2024-03-03T10:00:00+08:00
weight: 1
summary: "Written by hand for the lists."
---

The body says something else entirely.
"""

# The newest post has no weight: Hugo still sorts it after the weighted ones.
UNWEIGHTED = """---
title: "Unweighted"
date: 2024-03-04T10:00:00+08:00
---

A post without a weight.
"""

# In Chinese most posts have no weight, so the one weighted post is pinned there.
ZH_PLAIN = """---
title: "{title}"
date: 2024-03-0{day}T10:00:00+08:00
---

{title}的正文。
"""

SLUGS = {"heading-first": HEADING_FIRST, "buttons-first": BUTTONS_FIRST, "own-summary": OWN_SUMMARY,
         "unweighted": UNWEIGHTED}


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("summaries") / "project", with_content=False)
    blog = root / "content" / "blog"
    for slug, text in SLUGS.items():
        (blog / slug).mkdir(parents=True)
        (blog / slug / "index.md").write_text(text, encoding="utf-8")
    (blog / "heading-first" / "index.zh.md").write_text(HEADING_FIRST_ZH, encoding="utf-8")
    for day, slug, title in ((5, "zh-a", "甲"), (6, "zh-b", "乙")):
        (blog / slug).mkdir()
        (blog / slug / "index.zh.md").write_text(ZH_PLAIN.format(title=title, day=day), encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    return root / "public"


def page(public: Path, path: str) -> HTMLParser:
    return HTMLParser((public / path).read_text(encoding="utf-8"))


def summaries(public: Path, lang_dir: str, slug: str) -> dict[str, str]:
    """Every place a post's summary is shown: its meta description, social cards, structured data, RSS
    item and list entry."""
    post = page(public, f"{lang_dir}blog/{slug}/index.html")
    found = {
        "description": post.css_first('meta[name="description"]').attributes["content"],
        "og": post.css_first('meta[property="og:description"]').attributes["content"],
        "twitter": post.css_first('meta[name="twitter:description"]').attributes["content"],
        "json-ld": json.loads(post.css_first('script[type="application/ld+json"]').text())["description"],
    }
    feed = ElementTree.parse(public / lang_dir / "index.xml").getroot()
    found["rss"] = next(i.findtext("description") for i in feed.iter("item")
                        if i.findtext("link").endswith(f"/blog/{slug}/"))
    entry = next(e for e in page(public, f"{lang_dir}index.html").css("article.post-entry")
                 if e.css_first(".entry-title a").attributes["href"].endswith(f"/blog/{slug}/"))
    found["list"] = entry.css_first(".entry-summary").text()
    return found


def test_a_heading_is_never_glued_to_the_first_paragraph(public):
    for where, text in summaries(public, "", "heading-first").items():
        assert text.startswith("The advent of burrow mapping"), (where, text)
        assert "Introduction" not in text and "Method" not in text, (where, text)


def test_a_chinese_heading_is_not_glued_either(public):
    for where, text in summaries(public, "zh/", "heading-first").items():
        assert text.startswith("洞穴测绘的出现"), (where, text)


def test_no_button_labels_code_labels_or_copy_in_a_summary(public):
    for where, text in summaries(public, "", "buttons-first").items():
        assert text == "Counting needs patience and a formula, n2, now and then.", (where, text)


def test_front_matter_summary_is_the_summary(public):
    for where, text in summaries(public, "", "own-summary").items():
        assert text == "Written by hand for the lists.", (where, text)


def entries(public: Path, path: str) -> list[tuple[str, bool]]:
    return [(e.css_first(".entry-title a").attributes["href"], e.css_first(".pinned-badge") is not None)
            for e in page(public, path).css("article.post-entry")]


def test_a_weight_most_posts_share_pins_nothing_and_hugos_order_holds(public):
    # Hugo's order: weighted posts (weight 1, newest first), then the unweighted one, although it is newest.
    assert entries(public, "index.html") == [("/blog/own-summary/", False), ("/blog/buttons-first/", False),
                                             ("/blog/heading-first/", False), ("/blog/unweighted/", False)]


def test_a_weight_that_lifts_a_post_above_the_rest_pins_it(public):
    # In Chinese two of three posts have no weight: the weighted one is first and marked.
    assert entries(public, "zh/index.html") == [("/zh/blog/heading-first/", True), ("/zh/blog/zh-b/", False),
                                                ("/zh/blog/zh-a/", False)]
    assert page(public, "zh/index.html").css_first(".pinned-badge").text() == "置顶"
