"""Word counts and reading times (layouts/_partials/func/reading-stats.html), built by real Hugo: counted from
the Markdown source so that lists never render the posts they list; the same figure wherever a post is
shown; within 4% of Hugo's own .WordCount; markup is not counted."""
from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from scripts.errors import CheckFailed
from scripts.site.hugo import BuildOptions, build
from tests.conftest import copy_project, parse, served_project

EN_POST = "blog/qwen2.5-max/index.html"
ZH_POST = "zh/blog/qwen2.5-max/index.html"


def stats(node) -> tuple[str, str]:
    meta = node.css_first(".post-meta")
    return meta.css_first(".reading-time").text(strip=True), meta.css_first(".word-count").text(strip=True)


def entry_stats(page, href: str) -> tuple[str, str]:
    for entry in page.css("article.post-entry"):
        if entry.css_first("h2 a").attributes["href"] == href:
            return stats(entry)
    raise AssertionError(f"no list entry links to {href}")


def test_a_post_shows_the_same_counts_in_lists_as_on_its_page(built_site: Path):
    for post, lists, href in ((EN_POST, ("index.html", "blog/index.html"), "/blog/qwen2.5-max/"),
                              (ZH_POST, ("zh/index.html", "zh/blog/index.html"), "/zh/blog/qwen2.5-max/")):
        on_page = stats(parse(built_site / post).css_first(".post-header"))
        for listing in lists:
            assert entry_stats(parse(built_site / listing), href) == on_page, listing
        words = int(on_page[1].split()[0])
        ld = parse(built_site / post).css_first('script[type="application/ld+json"]').text()
        assert f'"wordCount":{words}' in ld, "structured data carries the same count"


# A post that is listed but never rendered as a page (build.render: link: it has an address, no file): its
# content holds a shortcode that fails the build the moment anything renders it. Lists must show its
# counts without rendering it.
UNRENDERED = """---
title: Listed only
date: 2024-05-01T10:00:00+08:00
description: "Shown in lists, never rendered."
tags: ["Notes"]
build:
  render: link
---

{{< figure src="https://example.org/banner.png" alt="a banner of many words here" width="100%" >}}

## Two words

Read [the docs](https://example.org/a/very/long/path/that/is/not/a/word "and its title") now.

<video src="/v.mp4" controls autoplay muted></video>

- one
- two

{{< probe >}}

```python
x = 1
```
"""


@pytest.fixture(scope="module")
def listed_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("stats") / "project")
    (root / "content" / "blog" / "listed-only").mkdir(parents=True)
    (root / "content" / "blog" / "listed-only" / "index.md").write_text(UNRENDERED, encoding="utf-8")
    (root / "layouts" / "_shortcodes" / "probe.html").write_text(
        '{{ errorf "probe: %s was rendered" .Page.RelPermalink }}', encoding="utf-8")
    return root


def test_lists_show_a_posts_counts_without_rendering_it(listed_only: Path):
    build(BuildOptions(source=listed_only, destination=listed_only / "public"))
    site = listed_only / "public"
    assert not (site / "blog" / "listed-only" / "index.html").exists()
    # Words: "Two words" (2), "Read the docs now." (4), "one", "two" (2), "x = 1" (3). Not words: the
    # shortcodes and their parameters, the link's target and title, the <video> tag, "##", "-", fences.
    assert entry_stats(parse(site / "index.html"), "/blog/listed-only/") == ("1 min read", "11 words")
    assert entry_stats(parse(site / "tags/notes/index.html"), "/blog/listed-only/") == ("1 min read", "11 words")


def test_the_probe_does_fail_a_build_that_renders_the_post(listed_only: Path, tmp_path: Path):
    # The control for the test above: the same post, rendered as a page, fails the build.
    root = tmp_path / "project"
    shutil.copytree(listed_only, root, ignore=shutil.ignore_patterns("public", "resources"))
    post = root / "content" / "blog" / "listed-only" / "index.md"
    post.write_text(post.read_text(encoding="utf-8").replace("build:\n  render: link\n", ""), encoding="utf-8")
    with pytest.raises(CheckFailed) as err:
        build(BuildOptions(source=root, destination=root / "public"))
    assert "probe: /blog/listed-only/ was rendered" in str(err.value)


def test_counts_stay_within_four_percent_of_hugos_word_count(tmp_path: Path):
    # Hugo's .WordCount counts the rendered text; ours counts the source. A test-only partial prints
    # Hugo's figures beside ours for the announcement in both languages.
    root = copy_project(tmp_path / "project")
    meta = root / "layouts" / "_partials" / "post" / "meta.html"
    meta.write_text(meta.read_text(encoding="utf-8").replace(
        '<p class="post-meta"', '<p data-hugo="{{ .WordCount }} {{ .ReadingTime }}" class="post-meta"', 1),
        encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    for post in (EN_POST, ZH_POST):
        header = parse(root / "public" / post).css_first(".post-header")
        hugo_words, hugo_minutes = map(int, header.css_first(".post-meta").attributes["data-hugo"].split())
        minutes, words = (int(re.match(r"\d+", s).group()) for s in stats(header))
        assert abs(words - hugo_words) <= 0.04 * hugo_words, (post, words, hugo_words)
        assert minutes == hugo_minutes, post


def test_a_post_edited_while_serving_shows_its_new_counts_in_lists(tmp_path: Path):
    # The counts are memoised in the page's Store under a fixed key: this holds only because Hugo's
    # server makes a new page, with an empty Store, when the post's file changes.
    root = copy_project(tmp_path / "project")

    def wait_for(get, predicate) -> tuple[str, str]:
        deadline, counts = time.monotonic() + 60, None
        while time.monotonic() < deadline:
            html = get("/")
            counts = entry_stats(HTMLParser(html), "/blog/qwen2.5-max/") if html is not None else None
            if counts is not None and predicate(counts):
                return counts
            time.sleep(0.3)
        raise AssertionError(f"the home page never showed the expected counts (last: {counts})")

    with served_project(root) as get:  # what `invoke serve` runs, on the copy
        before = wait_for(get, lambda counts: True)
        post = root / "content" / "blog" / "qwen2.5-max" / "index.md"
        post.write_text(post.read_text(encoding="utf-8") + "\n\n" + "wombat " * 500 + "\n", encoding="utf-8")
        words_before = int(re.match(r"\d+", before[1]).group())
        wait_for(get, lambda counts: int(re.match(r"\d+", counts[1]).group()) == words_before + 500)
