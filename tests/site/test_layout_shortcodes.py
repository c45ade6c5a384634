"""Shortcodes (figure, button) and render hooks (code blocks, math, headings, links, images), on a post
built by real Hugo; and the content errors that must stop a build with the file and line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project
from tests.images import write_png

POST = r"""---
title: Shortcode showcase
date: 2024-05-01T10:00:00+08:00
math: true
---

{{< figure src="chart.png" alt="A bar chart" caption="Scores *by model*" title="Figure 1" link="https://example.org/full" target="_blank" class="wide" >}}

{{< figure src="https://example.org/remote.png" width="100%" >}}

{{< figure src="small.png" width="300" height="200" >}}

{{< figure src="chart.png" width="500" alt="Half size" >}}

{{< button href="https://example.org/chat?a=1&b=<2>" label="Chat <now> & \"here\"" external=true >}}
{{< button href="/blog/other/" label="Internal" >}}

```python
print("hi")
```

```
plain text block
```

# A top-level heading

Euler: $e^{i\pi} + 1 = 0$.

$$
\sum_{k=1}^{n} k = \frac{n(n+1)}{2}
$$

![Inline image](small.png "Small")

See [the other post](/blog/other/) and [its bundle file](small.png) and [a section](#a-top-level-heading).
"""

OTHER = """---
title: The other post
date: 2024-04-01T10:00:00+08:00
show_code_copy_buttons: false
---

```go
package main
```
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("shortcodes") / "project")
    bundle = root / "content" / "blog" / "showcase"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text(POST, encoding="utf-8")
    write_png(bundle / "chart.png", 1000, 500)
    write_png(bundle / "small.png", 400, 100)
    other = root / "content" / "blog" / "other"
    other.mkdir()
    (other / "index.md").write_text(OTHER, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def public(project: Path) -> Path:
    build(BuildOptions(source=project, destination=project / "public"))
    return project / "public"


@pytest.fixture(scope="module")
def page(public: Path) -> HTMLParser:
    return HTMLParser((public / "blog" / "showcase" / "index.html").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sub_path_page(project: Path) -> HTMLParser:
    """The same post built for a project page under a sub-path."""
    dest = project / "public-sub"
    build(BuildOptions(source=project, destination=dest, base_url="https://example.github.io/sub/"))
    return HTMLParser((dest / "blog" / "showcase" / "index.html").read_text(encoding="utf-8"))


def figures(page: HTMLParser) -> list:
    return page.css(".post-content figure")


# ---- figure ----

def test_every_figure_image_has_alt_lazy_loading_and_async_decoding(page):
    images = [f.css_first("img") for f in figures(page)]
    assert len(images) == 4
    for img in images:
        assert "alt" in img.attributes
        assert img.attributes["loading"] == "lazy"
        assert img.attributes["decoding"] == "async"
    assert not images[1].attributes["alt"], "no alt given: an empty one"


def test_figure_bundle_image_becomes_webp_srcset_with_intrinsic_size(page, public):
    img = figures(page)[0].css_first("img")
    assert img.attributes["alt"] == "A bar chart"
    candidates = [c.strip().split() for c in img.attributes["srcset"].split(",")]
    assert [w for _, w in candidates] == ["480w", "720w", "960w", "1000w"], "no upscaling past 1000px"
    for url, _ in candidates:
        assert url.startswith("/blog/showcase/") and url.endswith(".webp")
        assert (public / url.lstrip("/")).read_bytes()[8:12] == b"WEBP"
    assert (img.attributes["width"], img.attributes["height"]) == ("1000", "500")
    assert img.attributes["src"] == candidates[-1][0]
    assert "sizes" in img.attributes


def test_figure_caption_title_link_target_class(page):
    figure = figures(page)[0]
    assert figure.attributes["class"] == "wide"
    link = figure.css_first("a")
    assert link.attributes["href"] == "https://example.org/full"
    assert link.attributes["target"] == "_blank"
    assert link.attributes["rel"] == "noopener noreferrer"
    assert link.css_first("img") is not None
    caption = figure.css_first("figcaption")
    assert caption.css_first(".figure-title").text() == "Figure 1"
    assert caption.css_first("em").text() == "by model", "the caption is markdown"
    assert figure.css_first("img").attributes["title"] == "Figure 1"


def test_figure_remote_image_kept_and_css_width_as_style(page):
    img = figures(page)[1].css_first("img")
    assert img.attributes["src"] == "https://example.org/remote.png"
    assert "width" not in img.attributes and "srcset" not in img.attributes
    assert img.attributes["style"].replace(" ", "") == "width:100%"
    assert figures(page)[1].css_first("figcaption") is None


def test_figure_numeric_width_height_override_attributes(page):
    img = figures(page)[2].css_first("img")
    assert (img.attributes["width"], img.attributes["height"]) == ("300", "200")


def test_figure_width_alone_keeps_the_proportions(page):
    img = figures(page)[3].css_first("img")
    assert (img.attributes["width"], img.attributes["height"]) == ("500", "250")
    assert img.attributes["srcset"], "still responsive"


# ---- button ----

def test_external_button_opens_new_tab_with_mark_and_escaping(page):
    buttons = page.css(".post-content a.button")
    assert len(buttons) == 2
    external = buttons[0]
    assert external.attributes["href"] == "https://example.org/chat?a=1&b=%3c2%3e", "the URL is escaped"
    assert external.attributes["target"] == "_blank"
    assert external.attributes["rel"] == "noopener noreferrer"
    assert external.css_first(".external-mark").text() == "↗"
    assert external.text().startswith('Chat <now> & "here"'), "the label is text, not markup"
    assert external.css_first("now") is None
    assert "new tab" in external.attributes["aria-label"]


def test_internal_button_stays_in_the_tab(page, sub_path_page):
    internal = page.css(".post-content a.button")[1]
    assert internal.text() == "Internal"
    assert "target" not in internal.attributes and "rel" not in internal.attributes
    assert internal.css_first(".external-mark") is None


# ---- code blocks ----

def test_code_block_highlighted_with_language_label_and_copy_button(page):
    blocks = page.css(".post-content .code-block")
    assert len(blocks) == 2
    python = blocks[0]
    assert python.attributes["data-lang"] == "python"
    assert python.css_first(".code-lang").text() == "python"
    assert python.css_first("pre.chroma code.language-python") is not None
    assert python.css_first("pre.chroma span.nb") is not None, "Chroma token classes, not inline styles"
    assert python.css_first("pre[style]") is None
    button = python.css_first("button.copy-code")
    assert button.attributes["type"] == "button"
    assert blocks[1].css_first(".code-lang") is None, "no language, no label"
    assert blocks[1].css_first("button.copy-code") is not None
    script = page.css_first('script[src*="/js/code-copy"]')
    assert script.attributes["integrity"].startswith("sha384-") and "defer" in script.attributes


def test_copy_script_is_ours_and_served(page, public):
    src = page.css_first('script[src*="/js/code-copy"]').attributes["src"]
    js = (public / src.lstrip("/")).read_text()
    assert "clipboard" in js and len(js) < 2000, "a few lines of our own JavaScript"


def test_no_copy_button_or_script_when_switched_off(public):
    other = HTMLParser((public / "blog" / "other" / "index.html").read_text(encoding="utf-8"))
    assert other.css_first(".code-block .code-lang").text() == "go"
    assert other.css_first("button.copy-code") is None
    assert other.css_first('script[src*="code-copy"]') is None


# ---- math, headings, links, images ----

def test_math_is_mathml_at_build_time(page):
    maths = page.css(".post-content math")
    assert [m.attributes.get("display") for m in maths] == [None, "block"]
    assert maths[1].css_first("annotation").text().strip().startswith(r"\sum_{k=1}")
    assert not page.css("script[src]") or all("code-copy" in s.attributes["src"] for s in page.css("script[src]"))
    assert not page.css('link[href*="katex"]')


def test_content_h1_is_drawn_as_h2_so_the_title_is_the_only_h1(page):
    assert len(page.css("h1")) == 1 and page.css_first("h1").text() == "Shortcode showcase"
    heading = page.css_first(".post-content h2#a-top-level-heading")
    assert heading is not None and heading.text() == "A top-level heading"
    toc = [a.attributes["href"] for a in page.css("details.toc a")]
    assert toc == ["#a-top-level-heading"]


def test_each_heading_is_followed_by_a_named_link_to_itself(page):
    link = page.css_first(".post-content h2#a-top-level-heading").next
    assert link.tag == "a" and "heading-anchor" in link.attributes["class"]
    assert link.attributes["href"] == "#a-top-level-heading"
    assert link.attributes["aria-label"] == "Link to this section: A top-level heading"
    assert link.text() == "", "the # is drawn by the stylesheet: no words added to the page's text"
    assert link.attributes["data-pagefind-ignore"] == "all"


def test_markdown_image_gets_srcset_alt_and_lazy_loading(page):
    img = page.css_first('.post-content p img[alt="Inline image"]')
    assert img.attributes["title"] == "Small"
    assert img.attributes["srcset"].endswith(" 400w")
    assert (img.attributes["width"], img.attributes["height"]) == ("400", "100")
    assert img.attributes["loading"] == "lazy" and img.attributes["decoding"] == "async"


def test_links_resolve_pages_and_bundle_files(page):
    links = {a.text(): a.attributes["href"] for a in page.css(".post-content p a:not(.button)")}
    assert links["the other post"] == "/blog/other/"
    assert links["its bundle file"] == "/blog/showcase/small.png"
    assert links["a section"] == "#a-top-level-heading"


def test_links_and_images_follow_a_sub_path_base_url(sub_path_page):
    links = {a.text(): a.attributes["href"] for a in sub_path_page.css(".post-content p a:not(.button)")}
    assert links["the other post"] == "/sub/blog/other/"
    assert sub_path_page.css(".post-content a.button")[1].attributes["href"] == "/sub/blog/other/"
    img = figures(sub_path_page)[0].css_first("img")
    assert img.attributes["src"].startswith("/sub/blog/showcase/")


def test_first_content_image_is_the_preview_image_under_a_sub_path(page, sub_path_page):
    src = figures(page)[0].css_first("img").attributes["src"]
    og = page.css_first('meta[property="og:image"]').attributes["content"]
    assert og == "https://qwenlm.github.io" + src
    sub_src = figures(sub_path_page)[0].css_first("img").attributes["src"]
    sub_og = sub_path_page.css_first('meta[property="og:image"]').attributes["content"]
    assert sub_og == "https://example.github.io" + sub_src and sub_src.startswith("/sub/")
    assert sub_path_page.css_first('meta[name="twitter:card"]').attributes["content"] == "summary_large_image"


# ---- content errors stop the build with file:line ----

BAD_CONTENT = {
    "button without href": ('{{< button label="Go" >}}', "missing href"),
    "button with javascript: href": ('{{< button href="javascript:alert(1)" label="Go" >}}', "javascript:"),
    "button with obfuscated javascript: href": ('{{< button href=" JaVa\tScript:alert(1)" label="Go" >}}',
                                                "javascript:"),
    "button with data: href": ('{{< button href="data:text/html,<b>x</b>" label="Go" >}}', "data:"),
    "button with vbscript: href": ('{{< button href="vbscript:msgbox(1)" label="Go" >}}', "vbscript:"),
    "figure without src": ('{{< figure alt="Nothing" >}}', "missing src"),
    "broken TeX": ("Broken $\\frac{1}{$ formula.", "math"),
}


@pytest.mark.parametrize("name", sorted(BAD_CONTENT))
def test_bad_content_fails_the_build_with_file_and_line(tmp_path: Path, name: str):
    snippet, message = BAD_CONTENT[name]
    root = copy_project(tmp_path / "project", with_content=False)
    post = root / "content" / "blog" / "bad" / "index.md"
    post.parent.mkdir(parents=True)
    # The snippet is on line 7 of the file.
    post.write_text("---\ntitle: Bad\ndate: 2024-01-01T00:00:00Z\nmath: true\n---\n\n" + snippet + "\n",
                    encoding="utf-8")
    with pytest.raises(CheckFailed) as err:
        build(BuildOptions(source=root, destination=root / "public"))
    text = str(err.value)
    assert re.search(r"content/blog/bad/index\.md:7:\d+", text), text
    assert message in text


def test_no_table_of_contents_without_headings(public):
    other = HTMLParser((public / "blog" / "other" / "index.html").read_text(encoding="utf-8"))
    assert other.css_first("details.toc") is None
