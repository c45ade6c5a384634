"""Search, as a reader without a mouse: reach the search page, type, reach the announcement."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import only_at

pytestmark = pytest.mark.browser

CASES = {
    # language: (home, query, the announcement's URL path)
    "zh": ("zh/", "基座模型", "zh/blog/qwen2.5-max/"),
    "en": ("", "reinforcement learning", "blog/qwen2.5-max/"),
}


def tab_to(page, predicate_js: str, limit: int = 40) -> None:
    """Press Tab until the focused element satisfies `predicate_js` (a function of the element)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"({predicate_js})(document.activeElement)"):
            return
    raise AssertionError(f"Tab never reached an element matching {predicate_js}")


@pytest.mark.parametrize("lang", sorted(CASES))
def test_keyboard_only_search_reaches_the_announcement(site, page, traffic, lang):
    home, query, post = CASES[lang]
    page.goto(site.url(home))
    tab_to(page, "el => el.matches('.menu-search a')")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url(f"{home}search/"))
    tab_to(page, "el => el.id === 'search-input'")
    page.keyboard.type(query)
    page.keyboard.press("Enter")
    first = page.locator("#search-results li a").first
    expect(first).to_be_focused()
    expect(page.locator("#search-status")).not_to_be_empty()
    assert first.evaluate("a => a.href") == site.url(post)  # under the sub-path: results honour the base URL
    page.keyboard.press("Enter")
    page.wait_for_url(site.url(post))
    assert traffic.third_party == [] and traffic.page_errors == []


@only_at("phone")
@pytest.mark.parametrize("lang", sorted(CASES))
def test_a_query_in_the_address_is_searched_and_nonsense_finds_nothing(site, page, lang):
    home, query, post = CASES[lang]
    page.goto(site.url(f"{home}search/?q={query}"))
    expect(page.locator("#search-input")).to_have_value(query)
    expect(page.locator(f"#search-results a[href$='{post}']")).to_have_count(1)
    page.locator("#search-input").fill("zzqxjvkw")
    expect(page.locator("#search-results li")).to_have_count(0)
    expect(page.locator("#search-status")).not_to_be_empty()
