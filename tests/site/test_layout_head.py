"""The <head> of the real site's pages: title, description, canonical, hreflang alternates, OpenGraph,
Twitter card, JSON-LD, <html lang>, and the one fingerprinted stylesheet."""
from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from scripts.site.hugo import BuildOptions, build
from tests.conftest import copy_project, parse

POSTS = {
    "en": ("blog/qwen2.5-max/index.html", "Qwen2.5-Max: Exploring the Intelligence of Large-scale MoE Model",
           "https://qwenlm.github.io/blog/qwen2.5-max/", "en"),
    "zh": ("zh/blog/qwen2.5-max/index.html", "Qwen2.5-Max：探索大规模 MoE 模型的智能",
           "https://qwenlm.github.io/zh/blog/qwen2.5-max/", "zh-CN"),
}


def meta(page, attr: str, name: str) -> str | None:
    node = page.css_first(f'meta[{attr}="{name}"]')
    return None if node is None else node.attributes["content"]


@pytest.mark.parametrize("lang", sorted(POSTS))
def test_post_title_description_canonical_and_lang(built_site: Path, lang: str):
    path, title, url, locale = POSTS[lang]
    page = parse(built_site / path)
    assert page.css_first("html").attributes["lang"] == locale
    assert page.css_first("title").text() == f"{title} | Qwen"
    assert page.css_first('link[rel="canonical"]').attributes["href"] == url
    description = meta(page, "name", "description")
    # No description in front matter: the opening prose, not the buttons' labels.
    assert description.startswith("It is widely held" if lang == "en" else "过去有一种观点认为")
    assert "QWEN CHAT" not in description and len(description) <= 161


@pytest.mark.parametrize("lang", sorted(POSTS))
def test_hreflang_alternates_point_both_ways(built_site: Path, lang: str):
    page = parse(built_site / POSTS[lang][0])
    alternates = {link.attributes["hreflang"]: link.attributes["href"]
                  for link in page.css('link[rel="alternate"][hreflang]')}
    assert alternates == {
        "en": POSTS["en"][2],
        "zh-CN": POSTS["zh"][2],
        "x-default": POSTS["en"][2],
    }


@pytest.mark.parametrize("lang", sorted(POSTS))
def test_opengraph_and_twitter_card(built_site: Path, lang: str):
    path, title, url, locale = POSTS[lang]
    page = parse(built_site / path)
    assert meta(page, "property", "og:title") == f"{title} | Qwen"
    assert meta(page, "property", "og:type") == "article"
    assert meta(page, "property", "og:url") == url
    assert meta(page, "property", "og:locale") == locale.replace("-", "_")
    assert meta(page, "property", "og:site_name") == "Qwen"
    assert meta(page, "property", "article:published_time") == "2025-01-28T23:00:04+08:00"
    assert meta(page, "property", "og:description") == meta(page, "name", "description")
    # No cover: the banner that opens the post is the preview image.
    banner = "https://qianwen-res.oss-cn-beijing.aliyuncs.com/Qwen2.5-max-banner.png"
    assert meta(page, "property", "og:image") == banner
    assert meta(page, "name", "twitter:card") == "summary_large_image"
    assert meta(page, "name", "twitter:image") == banner
    assert meta(page, "name", "twitter:title") == f"{title} | Qwen"


@pytest.mark.parametrize("lang", sorted(POSTS))
def test_jsonld_blogposting(built_site: Path, lang: str):
    path, title, url, locale = POSTS[lang]
    scripts = parse(built_site / path).css('script[type="application/ld+json"]')
    assert len(scripts) == 1
    data = json.loads(scripts[0].text())
    assert data["@context"] == "https://schema.org" and data["@type"] == "BlogPosting"
    assert data["headline"] == title
    assert data["url"] == url and data["mainEntityOfPage"]["@id"] == url
    assert data["datePublished"] == "2025-01-28T23:00:04+08:00"
    assert data["inLanguage"] == locale
    assert data["author"]["name"] == "Qwen"
    assert isinstance(data["wordCount"], int) and data["wordCount"] > 400


def test_home_pages_have_website_jsonld_and_own_lang(built_site: Path):
    for path, locale in (("index.html", "en"), ("zh/index.html", "zh-CN")):
        page = parse(built_site / path)
        assert page.css_first("html").attributes["lang"] == locale
        assert page.css_first("title").text() == "Qwen"
        assert meta(page, "property", "og:type") == "website"
        data = json.loads(page.css_first('script[type="application/ld+json"]').text())
        assert data["@type"] == "WebSite" and data["inLanguage"] == locale
    zh_home = parse(built_site / "zh/index.html")
    assert meta(zh_home, "name", "description") == "通义千问团队的研究进展。"


def test_one_fingerprinted_stylesheet_with_matching_integrity(built_site: Path):
    for path in ("index.html", "zh/blog/qwen2.5-max/index.html", "404.html", "tags/index.html"):
        links = parse(built_site / path).css('link[rel="stylesheet"]')
        assert len(links) == 1, path
    link = parse(built_site / "index.html").css_first('link[rel="stylesheet"]')
    href, integrity = link.attributes["href"], link.attributes["integrity"]
    css = (built_site / href.lstrip("/")).read_bytes()
    digest = base64.b64encode(hashlib.sha384(css).digest()).decode()
    assert integrity == f"sha384-{digest}"
    assert digest_in_name(href, css)
    text = css.decode()
    assert "prefers-color-scheme:dark" in text.replace(" ", ""), "a dark theme"
    assert ".chroma" in text, "Chroma's palette is part of the one stylesheet"
    assert "\n" not in text.strip(), "minified"


def digest_in_name(href: str, css: bytes) -> bool:
    return hashlib.sha384(css).hexdigest() in href


def test_no_request_to_a_third_party_host_except_content_media(built_site: Path):
    """Stylesheets, scripts, icons, fonts come from the site; only the posts' own images and video
    (in .post-content) may live elsewhere."""
    for html in built_site.rglob("*.html"):
        page = parse(html)
        for node in page.css("link[href], script[src], img[src], source[src], video[src], iframe[src]"):
            url = node.attributes.get("href") or node.attributes.get("src")
            if node.tag == "link" and node.attributes.get("rel") in ("canonical", "alternate"):
                continue
            if url.startswith(("http://", "https://", "//")):
                in_content = any(p.attributes.get("class") and "post-content" in p.attributes["class"].split()
                                 for p in ancestors(node))
                assert in_content, f"{html.relative_to(built_site)}: third-party request {url}"


def ancestors(node):
    parent = node.parent
    while parent is not None:
        yield parent
        parent = parent.parent


def test_pages_that_are_not_posts_are_not_articles(built_site: Path):
    for path in ("archives/index.html", "zh/archives/index.html", "tags/index.html"):
        page = parse(built_site / path)
        assert meta(page, "property", "og:type") == "website", path
        assert meta(page, "property", "article:published_time") is None, path
        for script in page.css('script[type="application/ld+json"]'):
            assert json.loads(script.text())["@type"] != "BlogPosting", path


def test_every_local_stylesheet_script_and_icon_exists(built_site: Path):
    checked = set()
    for html in built_site.rglob("*.html"):
        for node in parse(html).css("link[href], script[src]"):
            url = node.attributes.get("href") or node.attributes.get("src")
            if url.startswith("/") and not url.startswith("//") and url not in checked:
                target = built_site / url.lstrip("/").split("#")[0]
                assert target.is_file() or (target / "index.html").is_file() or target.suffix == ".xml" and target.is_file(), \
                    f"{html.relative_to(built_site)}: {url} is not in the site"
                checked.add(url)
    assert "/favicon.svg" in checked


MARKED_UP = """---
title: "Marked up"
date: 2025-02-01T10:00:00+08:00
tags: ["Notes"]
description: 'Scores & "quotes" <b>bold</b>, 5 < 6, &lt;script&gt;x&lt;/script&gt;'
cover:
  image: "https://cdn.example.org/cover.png?w=1200&h=630"
---

See [the announcement](/blog/qwen2.5-max/?from=a&to=b#top) and [elsewhere](https://example.org/?a=1&b=2).
"""


@pytest.fixture(scope="module")
def marked_up(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("head") / "project")
    (root / "content" / "blog" / "marked-up").mkdir()
    (root / "content" / "blog" / "marked-up" / "index.md").write_text(MARKED_UP, encoding="utf-8")
    build(BuildOptions(source=root, destination=root / "public"))
    return root / "public"


def test_text_and_urls_with_markup_characters_are_escaped_once_wherever_they_are_shown(marked_up: Path):
    # The description is plain text in every place: its tags dropped, its entities decoded, and what they
    # spell shown as text, never parsed as markup. The cover URL keeps its query.
    text = 'Scores & "quotes" bold, 5 < 6, <script>x</script>'
    image = "https://cdn.example.org/cover.png?w=1200&h=630"
    page = parse(marked_up / "blog/marked-up/index.html")
    for attr, name in (("name", "description"), ("property", "og:description"), ("name", "twitter:description")):
        assert meta(page, attr, name) == text, name
    assert meta(page, "property", "og:image") == image and meta(page, "name", "twitter:image") == image
    data = json.loads(page.css_first('script[type="application/ld+json"]').text())
    assert (data["description"], data["image"]) == (text, image)
    links = {a.text(): a.attributes["href"] for a in page.css(".post-content a")}
    assert links == {"the announcement": "/blog/qwen2.5-max/?from=a&to=b#top",
                     "elsewhere": "https://example.org/?a=1&b=2"}
    entry = next(e for e in parse(marked_up / "blog/index.html").css("article.post-entry")
                 if e.css_first("h2 a").attributes["href"] == "/blog/marked-up/")
    assert entry.css_first(".entry-summary").text() == text


# ---- icons, web manifest and theme colours (site params) ----

def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("path", ["index.html", "zh/blog/qwen2.5-max/index.html"])
def test_icons_manifest_and_theme_colours_on_every_page(built_site: Path, path: str):
    page = parse(built_site / path)
    links = {(n.attributes["rel"], n.attributes.get("type", "")): n.attributes["href"] for n in page.css("link[rel]")}
    assert links[("icon", "image/svg+xml")] == "/favicon.svg"
    assert png_size((built_site / links[("icon", "image/png")].lstrip("/")).read_bytes()) == (32, 32)
    assert png_size((built_site / links[("apple-touch-icon", "")].lstrip("/")).read_bytes()) == (180, 180)
    manifest = json.loads((built_site / links[("manifest", "")].lstrip("/")).read_text(encoding="utf-8"))
    assert (manifest["name"], manifest["start_url"], manifest["lang"]) == ("Qwen", "/", "en")
    sizes = {}
    for icon in manifest["icons"]:
        data = (built_site / icon["src"].lstrip("/")).read_bytes()
        sizes[icon["sizes"]] = png_size(data) if icon["type"] == "image/png" else "svg"
    assert sizes == {"192x192": (192, 192), "512x512": (512, 512), "any": "svg"}
    colours = {n.attributes["media"]: n.attributes["content"] for n in page.css('meta[name="theme-color"]')}
    assert colours == {"(prefers-color-scheme: light)": "#ffffff", "(prefers-color-scheme: dark)": "#16161d"}
    assert manifest["theme_color"] == "#ffffff"


def test_icons_and_colours_come_from_site_params(tmp_path: Path):
    root = copy_project(tmp_path / "project")
    config = root / "hugo.yaml"
    text = config.read_text(encoding="utf-8")
    for old, new in (('themeColor: "#ffffff"', 'themeColor: "#615ced"'), ("appleTouchIcon: apple-touch-icon.png",
                     "appleTouchIcon: touch.png"), ("manifestIcons: [icon-192.png, icon-512.png]", "manifestIcons: [icon-192.png]")):
        assert old in text
        text = text.replace(old, new)
    config.write_text(text, encoding="utf-8")
    (root / "static" / "touch.png").write_bytes((root / "static" / "apple-touch-icon.png").read_bytes())
    build(BuildOptions(source=root, destination=root / "public"))
    page = parse(root / "public" / "index.html")
    assert page.css_first('link[rel="apple-touch-icon"]').attributes["href"] == "/touch.png"
    assert meta(page, "media", "(prefers-color-scheme: light)") == "#615ced"
    manifest = json.loads((root / "public" / "site.webmanifest").read_text(encoding="utf-8"))
    assert manifest["theme_color"] == "#615ced"
    assert [i["src"] for i in manifest["icons"]] == ["/icon-192.png", "/favicon.svg"]
