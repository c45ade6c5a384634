"""The old blog's shortcodes, called as its posts call them (video, fullwidth, example, example_audio,
rawhtml), on posts of our own built by real Hugo; and the mistakes in them that must stop a build with the
file and line."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site.hugo import BuildOptions, build
from tests.conftest import HTMLParser, copy_project
from tests.images import write_png

# Three examples in one fullwidth block make a set (next=true); the first shows first (hide=false).
POST = r"""---
title: "Reading the night sky"
date: 2024-06-01T10:00:00+08:00
math: true
---

An opening paragraph about counting stars with a small telescope.

{{< fullwidth class="example-container" >}}
{{< example data="cases/stars.json" hide=false next=true >}}
{{< example data="cases/moons.json" hide=true next=true scroll=true >}}
{{< example data="cases/tides.json" hide=true next=true >}}
{{< /fullwidth >}}

{{< example_audio data="cases/voice.json" hide=false next=false >}}

{{< video src="https://media.example.org/orbit.mp4" autoplay=true loop=true controls=false class="gallery" width="100%" alt="An orbit, animated" >}}

{{<video src="comet.mp4" controls="1" poster="poster.png" title="A comet <passing>">}}

{{< video "https://media.example.org/plain.mp4" >}}

{{< video src="javascript:alert(1)" autoplay="false" >}}

{{< rawhtml >}}
<div class="keep-me"><p>Ratio $$ \frac{a}{b_{&lt;t}} $$ and <code>$x$</code> stay.</p></div>
{{< /rawhtml >}}
"""

STARS = {
    "title": "Counting <b>stars</b> & planets",
    "messages": [
        {"role": "Stargazer", "content": "How many stars are in this picture?\n![A field of stars](cases/field.png)"},
        {"role": "Model", "content": "## Answer\n\nThere are $ n^2 $ stars, grouped as $\\\\{y_i\\\\}\\_{i=1}^G$.\n\n"
                                     "$$\n\\frac{1}{2}\n$$\n\n{{< video src=\"https://media.example.org/sky.mp4\" "
                                     "controls=\"1\" >}}"},
    ],
}
MOONS = {
    "title": "Moons",
    "messages": [
        {"role": "Stargazer", "content": "<p class=\"note\">Moon number ${ }^{2}$ of Jupiter</p>"},
        {"role": "Model", "content": "A ticket costs $5 and a guide $10."},
    ],
}
TIDES = {"title": "Tides", "messages": [{"role": "Stargazer", "content": "Why are there tides?"}]}
VOICE = {"messages": [{"role": "Stargazer", "content": "[audio](https://media.example.org/a question.wav)"},
                      {"role": "Model", "content": "[audio](cases/answer.wav) It is the Moon."}]}

# A page whose only example stands alone: it needs no script.
SINGLE = """---
title: "A single example"
date: 2024-05-01T10:00:00+08:00
---

{{< example data="one.json" >}}

{{< rawhtml >}}<p>Not a formula here: $x$.</p>{{< /rawhtml >}}
"""


@pytest.fixture(scope="module")
def public(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("old-shortcodes") / "project")
    bundle = root / "content" / "blog" / "night-sky"
    (bundle / "cases").mkdir(parents=True)
    for lang in ("md", "zh.md"):
        (bundle / f"index.{lang}").write_text(POST, encoding="utf-8")
    for name, data in (("stars", STARS), ("moons", MOONS), ("tides", TIDES), ("voice", VOICE)):
        (bundle / "cases" / f"{name}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    write_png(bundle / "cases" / "field.png", 300, 200)
    write_png(bundle / "poster.png", 64, 36)
    (bundle / "cases" / "answer.wav").write_bytes(b"RIFF")
    (bundle / "comet.mp4").write_bytes(b"\x00")
    single = root / "content" / "blog" / "single"
    single.mkdir()
    (single / "index.md").write_text(SINGLE, encoding="utf-8")
    (single / "one.json").write_text(json.dumps(TIDES), encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    return root / "public"


@pytest.fixture(scope="module")
def page(public: Path) -> HTMLParser:
    return HTMLParser((public / "blog" / "night-sky" / "index.html").read_text(encoding="utf-8"))


def examples(page: HTMLParser) -> list:
    return page.css(".post-content figure.example")


# ---- fullwidth and example ----

def test_fullwidth_holds_the_set_of_examples(page):
    block = page.css_first(".post-content div.fullwidth")
    assert block.attributes["class"] == "fullwidth example-container"
    assert [f.css_first("figcaption").text() for f in block.css("figure.example")] == [
        "Counting <b>stars</b> & planets", "Moons", "Tides"]


def test_example_title_and_roles_are_text_and_messages_markdown(page):
    stars = examples(page)[0]
    assert stars.css_first("figcaption b") is None, "the title is text, not markup"
    assert [dt.text() for dt in stars.css("dt.example-role")] == ["Stargazer", "Model"]
    img = stars.css_first("dd img")
    assert img.attributes["alt"] == "A field of stars"
    assert img.attributes["src"].startswith("/blog/night-sky/cases/") and img.attributes["srcset"]
    assert (img.attributes["width"], img.attributes["height"]) == ("300", "200")
    assert stars.css_first("dd figure.video video").attributes["src"] == "https://media.example.org/sky.mp4"


def test_example_math_is_mathml_with_markdown_escapes_understood(page):
    stars = examples(page)[0]
    tex = [a.text().strip() for a in stars.css("dd math annotation")]
    assert tex == ["n^2", r"\{y_i\}_{i=1}^G", r"\frac{1}{2}"]
    assert stars.css("dd math")[2].attributes["display"] == "block"


def test_headings_in_a_message_have_no_id_and_no_anchor(page):
    heading = examples(page)[0].css_first("dd h2")
    assert heading.text() == "Answer" and "id" not in heading.attributes
    assert examples(page)[0].css_first(".heading-anchor") is None
    toc = [a.attributes["href"] for a in page.css("details.toc a")]
    assert "#answer" not in toc


def test_math_in_raw_html_of_a_message_and_prices_stay_text(page):
    moons = examples(page)[1]
    note = moons.css_first("dd p.note")
    assert note.css_first("math annotation").text().strip() == "{ }^{2}"
    assert moons.css_first("dd p:not(.note)").text() == "A ticket costs $5 and a guide $10."


def test_set_flags_and_a_scrolling_box_reachable_by_keyboard(page):
    figures = examples(page)
    assert all("data-example-next" in f.attributes for f in figures[:3])
    assert ["data-example-hide" in f.attributes for f in figures[:3]] == [False, True, True]
    box = figures[1].css_first(".example-scroll")
    assert (box.attributes["tabindex"], box.attributes["role"], box.attributes["aria-label"]) == ("0", "region", "Moons")
    assert figures[0].css_first(".example-scroll") is None


def test_the_examples_script_is_loaded_with_its_strings_in_each_language(public, page):
    script = page.css_first('script[src*="/js/examples"]')
    assert script.attributes["integrity"].startswith("sha384-") and "defer" in script.attributes
    assert (script.attributes["data-prev"], script.attributes["data-next"]) == ("Previous", "Next")
    assert script.attributes["data-position"] == "{current} of {total}"
    js = (public / script.attributes["src"].lstrip("/")).read_text(encoding="utf-8")
    assert "aria-live" in js and len(js) < 2500, "a few lines of our own JavaScript"
    zh = HTMLParser((public / "zh" / "blog" / "night-sky" / "index.html").read_text(encoding="utf-8"))
    zh_script = zh.css_first('script[src*="/js/examples"]')
    assert zh_script.attributes["data-next"] == "下一个"
    assert zh_script.attributes["data-position"] == "第 {current} 个，共 {total} 个"


def test_no_examples_script_without_a_set(public):
    single = HTMLParser((public / "blog" / "single" / "index.html").read_text(encoding="utf-8"))
    assert single.css_first("figure.example figcaption").text() == "Tides"
    assert single.css_first('script[src*="/js/examples"]') is None


# ---- example_audio ----

def test_audio_links_become_players_with_a_fallback_link(page):
    voice = page.css(".post-content figure.example")[3]
    assert voice.css_first("figcaption").text() == "Example", "no title: the old theme's default"
    players = voice.css("audio[controls]")
    assert [a.attributes["src"] for a in players] == ["https://media.example.org/a%20question.wav",
                                                       "/blog/night-sky/cases/answer.wav"]
    assert players[0].css_first("a").attributes["href"] == players[0].attributes["src"]
    assert "It is the Moon." in voice.css("dd")[1].text()


# ---- video ----

def videos(page: HTMLParser) -> list:
    return [v for v in page.css(".post-content > figure.video video")]


def test_autoplay_video_is_muted_inline_without_controls(page):
    video = videos(page)[0]
    assert {"autoplay", "loop", "muted", "playsinline"} <= set(video.attributes)
    assert "controls" not in video.attributes
    assert video.attributes["aria-label"] == "An orbit, animated"
    assert video.attributes["style"].replace(" ", "") == "width:100%"
    assert video.parent.attributes["class"] == "video gallery"


def test_video_from_the_bundle_with_poster_controls_and_caption(page):
    video = videos(page)[1]
    assert video.attributes["src"] == "/blog/night-sky/comet.mp4"
    assert video.attributes["poster"] == "/blog/night-sky/poster.png"
    assert "controls" in video.attributes and "autoplay" not in video.attributes and "muted" not in video.attributes
    assert video.parent.css_first("figcaption").text() == "A comet <passing>"
    assert video.css_first("a").attributes["href"] == "/blog/night-sky/comet.mp4"


def test_positional_src_and_no_script_urls(page):
    assert videos(page)[2].attributes["src"] == "https://media.example.org/plain.mp4"
    unsafe = videos(page)[3]
    assert not unsafe.attributes["src"].lower().startswith("javascript"), unsafe.attributes["src"]
    assert "autoplay" not in unsafe.attributes, 'autoplay="false" is false'


# ---- rawhtml ----

def test_rawhtml_passes_html_through_and_renders_its_math(page, public):
    kept = page.css_first(".post-content div.keep-me")
    assert kept is not None
    annotation = kept.css_first("math[display=block] annotation").text().strip()
    assert annotation == r"\frac{a}{b_{<t}}", "entities decoded before TeX"
    assert kept.css_first("code").text() == "$x$", "code is left alone"
    single = HTMLParser((public / "blog" / "single" / "index.html").read_text(encoding="utf-8"))
    assert single.css(".post-content > p")[-1].text() == "Not a formula here: $x$.", "math: false"


# ---- mistakes stop the build, naming the file and line ----

BAD = {
    "missing data": ('{{< example hide=true >}}', r"content/blog/bad/index\.md:7:\d+.*missing data"),
    "missing file": ('{{< example data="cases/nope.json" >}}', r"content/blog/bad/index\.md:7:\d+.*cases/nope\.json"),
    "malformed JSON": ('{{< example data="broken.json" >}}',
                       r"content/blog/bad/broken\.json:4:3: invalid character '\]'.*content/blog/bad/index\.md:7"),
    "TeX error in a message": ('{{< example_audio data="tex.json" >}}',
                               r"content/blog/bad/tex\.json:3: messages\[1\]\.content: math: KaTeX parse error"
                               r".*content/blog/bad/index\.md:7"),
    "TeX error in rawhtml": ('{{< rawhtml >}}\n<p>fine $x$</p>\n<p>$$\\frac{1}{$$</p>\n{{< /rawhtml >}}',
                             r"content/blog/bad/index\.md:9: math: KaTeX parse error"),
    "video without src": ('{{< video controls=true >}}', r"content/blog/bad/index\.md:7:\d+\"?: video: missing src"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_mistakes_fail_the_build_with_file_and_line(tmp_path: Path, name: str):
    snippet, pattern = BAD[name]
    root = copy_project(tmp_path / "project", with_content=False)
    bundle = root / "content" / "blog" / "bad"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text("---\ntitle: Bad\ndate: 2024-01-01T00:00:00Z\nmath: true\n---\n\n" + snippet + "\n",
                                     encoding="utf-8")
    (bundle / "broken.json").write_text('{\n  "title": "x",\n  "messages": [{"role": "a", "content": "b"},\n  ]\n}\n',
                                        encoding="utf-8")
    (bundle / "tex.json").write_text('{"messages": [\n  {"role": "a", "content": "fine $x$"},\n'
                                     '  {"role": "b", "content": "broken $\\\\frac{1}{$ here"}]}\n', encoding="utf-8")
    with pytest.raises(CheckFailed) as err:
        build(BuildOptions(source=root, destination=root / "public"))
    assert re.search(pattern, str(err.value)), str(err.value)
