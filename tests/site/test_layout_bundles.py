"""A page bundle's own files, built by real Hugo: published and found in a bundle that has only a Chinese
(or only an English) page, and bundle PNGs served losslessly in every srcset size."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.site.hugo import BuildOptions, build
from scripts.links.extract import srcset_urls
from scripts.links.internal import check_internal
from tests.conftest import HTMLParser, copy_project
from tests.images import write_png

# What `invoke new-post --lang zh` makes, with a figure, a Markdown image, a link to a file and an example.
ONLY_ZH = """---
title: "只有中文"
date: 2024-08-01T10:00:00+08:00
---

只有中文的文章，也有自己的图片和数据。

{{< figure src="chart.png" alt="图表" >}}

![另一张图](chart.png)

[数据文件](notes.txt)

{{< example data="cases/talk.json" >}}
"""

ONLY_EN = """---
title: "Only English"
date: 2024-08-02T10:00:00+08:00
---

{{< figure src="chart.png" alt="A chart" >}}

{{< example data="cases/talk.json" >}}
"""

# Both languages, and the image kinds: a PNG chart, a JPEG photo and a GIF.
BOTH = """---
title: "{title}"
date: 2024-08-03T10:00:00+08:00
---

{{{{< figure src="chart.png" alt="chart" >}}}}

{{{{< figure src="photo.jpg" alt="photo" >}}}}

{{{{< figure src="spinner.gif" alt="spinner" >}}}}
"""

TALK = {"title": "对话", "messages": [{"role": "用户", "content": "你好 ![图](chart.png)"}]}


def hugo_made_images(png: Path, work: Path) -> dict[str, bytes]:
    """A JPEG and a GIF made from a PNG by Hugo (the tests have no imaging library): a throw-away site
    whose home page template publishes both."""
    (work / "assets").mkdir(parents=True)
    (work / "layouts").mkdir()
    (work / "assets" / "source.png").write_bytes(png.read_bytes())
    (work / "hugo.yaml").write_text("disableKinds: [rss, sitemap, taxonomy, term, page, section, 404]\n",
                                    encoding="utf-8")
    (work / "layouts" / "home.html").write_text(
        '{{ with resources.Get "source.png" }}{{ (.Process "jpeg q90").Publish }}{{ (.Process "gif").Publish }}'
        '{{ end }}', encoding="utf-8")
    build(BuildOptions(source=work, destination=work / "public"))
    return {kind: next((work / "public").glob(f"source_*.{kind}")).read_bytes() for kind in ("jpg", "gif")}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = copy_project(tmp_path_factory.mktemp("bundles") / "project")
    blog = root / "content" / "blog"
    for slug, files in (("only-zh", {"index.zh.md": ONLY_ZH}), ("only-en", {"index.md": ONLY_EN}),
                        ("both", {"index.md": BOTH.format(title="Both"), "index.zh.md": BOTH.format(title="双语")})):
        (blog / slug / "cases").mkdir(parents=True)
        for name, text in files.items():
            (blog / slug / name).write_text(text, encoding="utf-8")
        write_png(blog / slug / "chart.png", 900, 300)
        (blog / slug / "cases" / "talk.json").write_text(json.dumps(TALK, ensure_ascii=False), encoding="utf-8")
        (blog / slug / "notes.txt").write_text("notes\n", encoding="utf-8")
    made = hugo_made_images(blog / "both" / "chart.png", root.parent / "images")
    (blog / "both" / "spinner.gif").write_bytes(made["gif"])
    (blog / "both" / "photo.jpg").write_bytes(made["jpg"])
    build(BuildOptions(source=root, destination=root / "public"))
    return root, root / "public"


def page(public: Path, path: str) -> HTMLParser:
    return HTMLParser((public / path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", ["zh/blog/only-zh/", "blog/only-en/", "blog/both/", "zh/blog/both/"])
def test_a_bundle_image_is_found_and_published_in_any_language(site, path):
    _, public = site
    figure = page(public, path + "index.html").css_first(".post-content figure img")
    assert figure.attributes["srcset"], f"{path}: chart.png taken for a remote image"
    assert (figure.attributes["width"], figure.attributes["height"]) == ("900", "300")
    for url in srcset_urls(figure.attributes["srcset"]):
        assert url.startswith("/" + path) and (public / url.lstrip("/")).is_file(), url


def test_a_chinese_only_bundle_keeps_its_markdown_image_link_and_json(site):
    _, public = site
    post = page(public, "zh/blog/only-zh/index.html")
    image = post.css_first('.post-content p img[alt="另一张图"]')
    assert image.attributes["src"].startswith("/zh/blog/only-zh/") and image.attributes["srcset"]
    link = next(a for a in post.css(".post-content a") if a.text() == "数据文件")
    assert link.attributes["href"] == "/zh/blog/only-zh/notes.txt"
    assert (public / "zh/blog/only-zh/notes.txt").read_text() == "notes\n"
    example = post.css_first("figure.example")
    assert example.css_first("figcaption").text() == "对话"
    assert example.css_first("dd img").attributes["src"].startswith("/zh/blog/only-zh/")


def test_check_links_finds_nothing_broken_in_single_language_bundles(site):
    root, public = site
    report = check_internal(public, project_root=root)
    assert report.ok, report.render()


def test_bundle_png_is_lossless_webp_in_every_size_and_gif_is_the_original(site):
    root, public = site
    images = {img.attributes["alt"]: img for img in page(public, "blog/both/index.html").css(".post-content figure img")}
    chart = srcset_urls(images["chart"].attributes["srcset"])
    assert [u.rsplit(" ", 1)[-1] for u in images["chart"].attributes["srcset"].split(", ")] == ["480w", "720w", "900w"]
    for url in chart:
        data = (public / url.lstrip("/")).read_bytes()
        assert data[8:12] == b"WEBP" and data[12:16] == b"VP8L", f"{url}: not lossless WebP ({data[12:16]!r})"
    for url in srcset_urls(images["photo"].attributes["srcset"]):
        assert (public / url.lstrip("/")).read_bytes()[12:16] == b"VP8 ", "a photo stays lossy"
    gif = images["spinner"]
    assert gif.attributes["src"] == "/blog/both/spinner.gif" and "srcset" not in gif.attributes
    assert (public / "blog/both/spinner.gif").read_bytes() == (root / "content/blog/both/spinner.gif").read_bytes()
