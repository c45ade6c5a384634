"""What a reader does on a post page, in Chromium, at a phone and a desktop viewport, in both languages."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from playwright.sync_api import expect

from tests.browser.conftest import EXTRA_POSTS, FIGURE_SIZE, only_at
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

POST = {"en": "blog/qwen2.5-max/", "zh": "zh/blog/qwen2.5-max/"}
SOURCE = {"en": ROOT / "content/blog/qwen2.5-max/index.md", "zh": ROOT / "content/blog/qwen2.5-max/index.zh.md"}
HTML_LANG = {"en": "en", "zh": "zh-CN"}
OTHER = {"en": "zh", "zh": "en"}
LANGS = pytest.mark.parametrize("lang", ["en", "zh"])


def ui_string(lang: str, key: str) -> str:
    return yaml.safe_load((ROOT / "i18n" / f"{lang}.yaml").read_text(encoding="utf-8"))[key]


def first_code_block(markdown: Path) -> str:
    """The first fenced code block of a post, as its author wrote it."""
    match = re.search(r"^```[^\n]*\n(.*?)^```", markdown.read_text(encoding="utf-8"), re.S | re.M)
    assert match, f"no code block in {markdown}"
    return match.group(1).rstrip("\n")


@only_at("phone")
@LANGS
def test_copy_button_puts_the_code_on_the_clipboard_and_says_so(site, new_context, lang):
    page = new_context(permissions=["clipboard-read", "clipboard-write"]).new_page()
    page.goto(site.url(POST[lang]))
    block = page.locator(".code-block").first
    button = block.locator("button.copy-code")
    expect(button).to_be_visible()
    before = button.inner_text()
    button.click()
    expect(button).to_have_text(ui_string(lang, "copied"))
    expect(button).to_have_accessible_name(ui_string(lang, "copied"))  # said to screen readers too
    assert page.evaluate("navigator.clipboard.readText()") == first_code_block(SOURCE[lang])
    assert before != ui_string(lang, "copied")


@LANGS
def test_toc_links_scroll_to_their_headings(site, page, lang):
    page.goto(site.url(POST[lang]))
    toc = page.locator("details.toc")
    toc.locator("summary").click()
    links = toc.locator("a[href^='#']")
    assert links.count() >= 3
    for i in range(links.count()):
        link = links.nth(i)
        fragment = unquote(link.get_attribute("href")[1:])  # Chinese ids arrive percent-encoded
        if i:  # each click starts from the TOC, as a reader would scroll back
            toc.scroll_into_view_if_needed()
        link.click()
        heading = page.locator(f"[id='{fragment}']")
        expect(heading).to_be_in_viewport()
        assert page.evaluate("decodeURIComponent(location.hash)") == f"#{fragment}"


@only_at("phone")
@pytest.mark.parametrize("slug", sorted(EXTRA_POSTS))
def test_toc_open_decides_whether_the_toc_starts_open(blog_site, page, slug):
    page.goto(blog_site.url(f"blog/{slug}/"))
    toc = page.locator("details.toc")
    expected = EXTRA_POSTS[slug]["toc_open"]
    assert toc.evaluate("d => d.open") is expected
    first_link = toc.locator("a").first
    if expected:
        expect(first_link).to_be_visible()
    else:
        expect(first_link).to_be_hidden()


@only_at("phone")
@LANGS
def test_breadcrumbs_go_where_they_say(site, page, lang):
    page.goto(site.url(POST[lang]))
    crumbs = page.locator("nav.breadcrumbs a")
    targets = [(crumbs.nth(i).inner_text().strip(), crumbs.nth(i).get_attribute("href")) for i in range(crumbs.count())]
    assert targets, "no breadcrumbs on the post"
    home = site.url("" if lang == "en" else "zh/")
    assert targets[0] == (ui_string(lang, "home"), targets[0][1])
    for label, _href in targets:
        page.goto(site.url(POST[lang]))
        with page.expect_navigation():
            page.locator("nav.breadcrumbs a", has_text=label).first.click()
        if label == ui_string(lang, "home"):
            assert page.url == home
        else:
            expect(page.locator("h1")).to_have_text(re.compile(re.escape(label)))
        assert page.evaluate("document.documentElement.lang") == HTML_LANG[lang]


@only_at("desktop")
def test_previous_and_next_links_go_where_they_say(blog_site, page):
    visited = 0
    for slug in sorted(EXTRA_POSTS):
        page.goto(blog_site.url(f"blog/{slug}/"))
        nav_links = page.locator("nav.post-nav a")
        hrefs = [(nav_links.nth(i).locator(".post-nav-title").inner_text(), nav_links.nth(i).get_attribute("href"))
                 for i in range(nav_links.count())]
        assert hrefs, f"no previous/next links on {slug}"
        for title, href in hrefs:
            page.goto(blog_site.url(f"blog/{slug}/"))
            page.locator(f"nav.post-nav a[href='{href}']").click()
            page.wait_for_url(lambda url: url.endswith(href))
            expect(page.locator("h1")).to_have_text(title)
            visited += 1
    assert visited >= 2


@only_at("phone")
@LANGS
def test_external_buttons_open_a_new_tab_without_an_opener(site, new_context, lang):
    context = new_context()
    page = context.new_page()
    page.goto(site.url(POST[lang]))
    button = page.locator("a.button[target='_blank']").first
    href = button.get_attribute("href")
    # There is no network: the new tab gets a stand-in page from the test instead of the real site.
    context.route(href, lambda route: route.fulfill(status=200, content_type="text/html",
                                                     body="<!doctype html><title>stand-in</title>"))
    with context.expect_page() as popup_info:
        button.click()
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url.rstrip("/") == href.rstrip("/")
    assert popup.evaluate("window.opener") is None  # rel=noopener: the new tab cannot reach back
    assert page.url == site.url(POST[lang]), "the post itself stays open"


@only_at("phone")
@LANGS
def test_video_plays_inline_muted_and_looping(site, page, lang):
    page.goto(site.url(POST[lang]))
    video = page.locator("video").first
    state = video.evaluate("v => ({autoplay: v.autoplay, muted: v.muted || v.defaultMuted, loop: v.loop,"
                           " inline: v.playsInline, controls: v.controls})")
    assert state["autoplay"] and state["muted"] and state["loop"] and state["inline"], state


def test_bundle_figures_keep_their_aspect_ratio_without_layout_shift(blog_site, page, viewport):
    page.goto(blog_site.url("blog/toc-closed/"))
    img = page.locator("figure img").first
    assert img.get_attribute("width") and img.get_attribute("height")
    follower = page.locator("figure").first.locator("xpath=following-sibling::*[1]")
    box_before = img.bounding_box()
    after_before = follower.bounding_box()
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    box_after = img.bounding_box()
    ratio = FIGURE_SIZE[0] / FIGURE_SIZE[1]
    assert box_before["height"] > 0, "no room reserved before the image loads"
    assert abs(box_before["width"] / box_before["height"] - ratio) < 0.02
    assert (box_after["width"], box_after["height"]) == pytest.approx((box_before["width"], box_before["height"]), abs=0.5)
    assert follower.bounding_box()["y"] - box_after["y"] == pytest.approx(after_before["y"] - box_before["y"], abs=0.5)
    assert box_after["width"] <= page.viewport_size["width"]


@LANGS
def test_language_switch_and_translation_link_reach_the_other_language(site, page, lang):
    other = OTHER[lang]
    for selector in ("header .lang-switch a", "p.translations a"):
        page.goto(site.url(POST[lang]))
        link = page.locator(selector).first
        if not link.is_visible():  # a phone layout may fold the menu
            pytest.fail(f"{selector} is not visible at this viewport")
        link.click()
        page.wait_for_url(site.url(POST[other]))
        assert page.evaluate("document.documentElement.lang") == HTML_LANG[other]


def _luminance(rgb: tuple[float, ...]) -> float:
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (channel(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[float, ...], bg: tuple[float, ...]) -> float:
    light, dark = sorted((_luminance(fg), _luminance(bg)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


COLORS_JS = """el => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  let node = el, bg = null;
  while (node) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length < 4 || c[3] > 0) { bg = c; break; }
    node = node.parentElement;
  }
  return {fg: rgb(getComputedStyle(el).color), bg: bg || [255, 255, 255, 1]};
}"""


@pytest.mark.parametrize("viewport,lang", [("phone", "zh"), ("desktop", "en")], indirect=["viewport"])
def test_dark_mode_follows_the_system_with_readable_contrast(site, new_context, lang):
    seen = {}
    for scheme in ("light", "dark"):
        page = new_context(color_scheme=scheme).new_page()
        page.goto(site.url(POST[lang]))
        for selector in (".post-content p", ".post-content a", "h1", "header.site-header a"):
            colors = page.locator(selector).first.evaluate(COLORS_JS)
            ratio = contrast(tuple(colors["fg"]), tuple(colors["bg"]))
            assert ratio >= 4.5, f"{scheme}: {selector} contrast {ratio:.2f} ({colors})"
            seen.setdefault(selector, {})[scheme] = (tuple(colors["fg"]), tuple(colors["bg"]))
    body = seen[".post-content p"]
    assert body["light"] != body["dark"], "dark mode changes nothing"
    assert _luminance(body["dark"][1]) < _luminance(body["light"][1]), "the dark background is not darker"
