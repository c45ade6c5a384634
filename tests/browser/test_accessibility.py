"""Accessibility in Chromium: axe-core finds nothing, and the things axe cannot judge are checked by hand:
the skip link, landmarks, heading order, a visible focus, alt text and the page language."""
from __future__ import annotations

import pytest

from scripts.perf.browser import axe_violations
from tests.browser.conftest import only_at

pytestmark = pytest.mark.browser

# Home, post (both languages), list, tag and 404 pages; the search page too.
# (The Chinese list and search pages come from the same templates as the English ones checked here.)
AXE_PAGES = {
    "home-en": "", "home-zh": "zh/", "post-en": "blog/qwen2.5-max/", "post-zh": "zh/blog/qwen2.5-max/",
    "list-en": "blog/", "tags-en": "tags/", "tag-en": "tags/testing/", "404": "404.html",
    "search-en": "search/", "archives-en": "archives/",
}
LANG_OF = {"": "en", "zh/": "zh-CN", "blog/qwen2.5-max/": "en", "zh/blog/qwen2.5-max/": "zh-CN"}


@pytest.mark.parametrize("path", AXE_PAGES.values(), ids=AXE_PAGES.keys())
# Both viewports and both colour schemes, in two runs rather than four.
@pytest.mark.parametrize("viewport,scheme", [("phone", "light"), ("desktop", "dark")], indirect=["viewport"])
def test_axe_finds_no_violation(blog_site, new_context, axe_script, path, scheme):
    """blog_site is the real project plus posts with tags, so the tag page exists too."""
    page = new_context(color_scheme=scheme).new_page()
    response = page.goto(blog_site.url(path))
    assert response.ok, f"{path}: HTTP {response.status}"
    violations = axe_violations(page)
    assert not violations, "\n".join(map(str, violations))


@only_at("phone")
@pytest.mark.parametrize("path", LANG_OF)
def test_page_language_heading_order_landmarks_and_alt_text(site, page, path):
    page.goto(site.url(path))
    assert page.evaluate("document.documentElement.lang") == LANG_OF[path]
    levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3,h4,h5,h6')]"
                           ".filter(h => h.getClientRects().length).map(h => Number(h.tagName[1]))")
    assert levels and levels[0] == 1 and levels.count(1) == 1, levels
    jumps = [(a, b) for a, b in zip(levels, levels[1:]) if b > a + 1]
    assert not jumps, f"heading levels skip: {jumps} in {levels}"
    for role, selector in (("banner", "body > header"), ("main", "main"), ("contentinfo", "body > footer")):
        assert page.locator(selector).count() == 1, f"expected one {role} landmark ({selector})"
    assert page.locator("nav[aria-label]").count() >= 1
    images = page.locator("img")
    for i in range(images.count()):
        assert images.nth(i).get_attribute("alt") is not None, images.nth(i).evaluate("e => e.outerHTML")


def _focus_ring(page) -> dict:
    return page.evaluate("""() => {
      const el = document.activeElement, s = getComputedStyle(el);
      return {tag: el.tagName, cls: el.className, outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
              shadow: s.boxShadow, rect: el.getBoundingClientRect().toJSON()};
    }""")


@pytest.mark.parametrize("path", ["blog/qwen2.5-max/", "zh/blog/qwen2.5-max/"])
def test_skip_link_comes_first_is_visible_when_focused_and_reaches_main(site, page, path):
    page.goto(site.url(path))
    page.keyboard.press("Tab")
    ring = _focus_ring(page)
    assert "skip-link" in ring["cls"], ring
    rect = ring["rect"]
    assert rect["width"] > 1 and rect["height"] > 1 and rect["top"] >= 0, f"skip link not on screen: {rect}"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


@pytest.mark.parametrize("path", ["blog/qwen2.5-max/", "zh/"])
def test_keyboard_focus_is_visible_on_every_stop(site, page, path):
    """Tab through the first stops of the page: each focused element shows an outline or a ring."""
    page.goto(site.url(path))
    for _ in range(12):
        page.keyboard.press("Tab")
        ring = _focus_ring(page)
        if ring["tag"] == "BODY":
            break
        visible = (ring["outline"] not in ("none", "") and ring["width"] > 0) or ring["shadow"] not in ("none", "")
        assert visible, f"no visible focus on {ring}"


# The old blog's features: an example set (enhanced by its script, after a step), a chart with a long read
# scrolled so that the way back to the top shows; and each page as it is without our scripts (axe itself
# needs JavaScript, so our scripts are not loaded rather than JavaScript switched off).
ARCHIVE_PAGES = {"examples-en": "blog/examples/", "examples-zh": "zh/blog/examples/", "chart": "blog/chart/"}


@pytest.mark.parametrize("path", ARCHIVE_PAGES.values(), ids=ARCHIVE_PAGES.keys())
@pytest.mark.parametrize("viewport,scheme", [("phone", "light"), ("desktop", "dark")], indirect=["viewport"])
@pytest.mark.parametrize("script", [True, False], ids=["scripts", "no-scripts"])
def test_axe_finds_no_violation_on_the_old_blogs_features(archive_site, new_context, axe_script, path, scheme, script):
    context = new_context(color_scheme=scheme)
    if not script:
        context.route("**/js/*.js", lambda route: route.abort())
    page = context.new_page()
    response = page.goto(archive_site.url(path))
    assert response.ok, f"{path}: HTTP {response.status}"
    if script and page.locator(".example-next").count():
        page.locator(".example-next").press("Enter")
    page.keyboard.press("End")
    violations = axe_violations(page)
    assert not violations, "\n".join(map(str, violations))
