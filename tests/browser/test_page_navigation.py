"""Getting around a long post without a mouse: a link anchor after each heading, and a way back to the
top that appears once the page is scrolled."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LONG = "blog/chart/"


def focused(page) -> dict:
    return page.evaluate("""() => { const el = document.activeElement, s = getComputedStyle(el);
      return {cls: el.className, href: el.getAttribute('href'), name: el.getAttribute('aria-label'),
              outline: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }""")


def test_heading_anchor_is_reached_by_tab_and_takes_the_reader_to_its_section(archive_site, page):
    page.goto(archive_site.url(LONG))
    for _ in range(40):
        page.keyboard.press("Tab")
        if "heading-anchor" in focused(page)["cls"]:
            break
    ring = focused(page)
    assert ring["href"] == "#part-1" and ring["name"] == "Link to this section: Part 1", ring
    assert ring["outline"] != "none" and ring["width"] > 0, "a visible focus"
    expect(page.locator("a.heading-anchor").first).to_have_accessible_name("Link to this section: Part 1")
    assert page.locator("a.heading-anchor").first.evaluate("a => getComputedStyle(a, '::before').content") == '"#"'
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#part-1"
    top = page.locator("#part-1").evaluate("h => h.getBoundingClientRect().top")
    assert 0 <= top < 100, top


def test_back_to_top_appears_once_scrolled_and_works_from_the_keyboard(archive_site, page):
    page.goto(archive_site.url(LONG))
    to_top = page.locator("a.to-top")
    assert to_top.evaluate("a => getComputedStyle(a).visibility") == "hidden", "nothing to go back to yet"
    page.keyboard.press("End")  # keyboard scrolling is animated: wait until it has reached the end
    page.wait_for_function("Math.ceil(scrollY + innerHeight) >= document.documentElement.scrollHeight")
    assert to_top.evaluate("a => getComputedStyle(a).visibility") == "visible"
    expect(to_top).to_have_accessible_name("Back to top")
    page.keyboard.press("Shift+Tab")  # from the end of the page: the last link is the way back
    assert "to-top" in focused(page)["cls"]
    page.keyboard.press("Enter")
    page.wait_for_function("scrollY === 0")
    page.keyboard.press("Tab")
    assert "skip-link" in focused(page)["cls"], "the next stop is the page's first"
