"""Example transcripts in Chromium: a set of five is stepped through with Previous and Next, by keyboard
alone, with the position announced; without JavaScript every example shows."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import EXAMPLES, only_at

pytestmark = pytest.mark.browser

POST = {"en": "blog/examples/", "zh": "zh/blog/examples/"}
POSITION = {"en": "{n} of 5", "zh": "第 {n} 个，共 5 个"}
NEXT = {"en": "Next", "zh": "下一个"}


def shown(page) -> list[str]:
    """Titles of the examples a reader sees."""
    return page.eval_on_selector_all("figure.example", "fs => fs.filter(f => f.getClientRects().length)"
                                                       ".map(f => f.querySelector('figcaption').textContent)")


def tab_to(page, name: str, limit: int = 60) -> None:
    """Press Tab until the focused element's accessible name (its text) is `name`."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == name:
            return
    raise AssertionError(f"{name!r} not reached by Tab")


@pytest.mark.parametrize("lang", sorted(POST))
def test_keyboard_steps_through_the_set_and_the_position_is_announced(archive_site, page, lang):
    page.goto(archive_site.url(POST[lang]))
    status = page.locator(".example-nav .example-status")
    expect(status).to_have_attribute("aria-live", "polite")
    expect(status).to_have_text(POSITION[lang].format(n=1))
    assert shown(page) == ["Question 1"]
    tab_to(page, NEXT[lang])
    page.keyboard.press("Enter")
    expect(status).to_have_text(POSITION[lang].format(n=2))
    assert shown(page) == ["Question 2"]
    page.keyboard.press("Space")
    expect(status).to_have_text(POSITION[lang].format(n=3))
    page.keyboard.press("ArrowLeft")
    expect(status).to_have_text(POSITION[lang].format(n=2))
    page.keyboard.press("Shift+Tab")  # Previous
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    expect(status).to_have_text(POSITION[lang].format(n=EXAMPLES))
    assert shown(page) == [f"Question {EXAMPLES}"], "Previous from the first goes round to the last"


@only_at("desktop")
def test_the_buttons_are_a_named_group_before_the_set(archive_site, page):
    page.goto(archive_site.url(POST["en"]))
    nav = page.locator(".example-nav")
    expect(nav).to_have_attribute("role", "group")
    expect(nav).to_have_accessible_name("Examples")
    assert page.evaluate("document.querySelector('.example-nav').nextElementSibling.matches('figure.example')")
    expect(nav.get_by_role("button")).to_have_count(2)


@only_at("phone")
def test_a_long_example_scrolls_in_a_box_reached_by_keyboard(archive_site, page):
    page.goto(archive_site.url(POST["en"]))
    page.locator(".example-next").click()
    box = page.locator(".example-scroll")
    expect(box).to_be_visible()
    assert box.evaluate("b => b.scrollHeight > b.clientHeight"), "the long answer scrolls"
    box.focus()
    page.keyboard.press("End")  # the keyboard scrolls the box (an animated scroll: wait for its end)
    page.wait_for_function("(b => b.scrollTop + b.clientHeight >= b.scrollHeight - 1)"
                           "(document.querySelector('.example-scroll'))")


@pytest.mark.parametrize("lang", sorted(POST))
def test_without_javascript_every_example_shows(archive_site, new_context, lang):
    page = new_context(java_script_enabled=False).new_page()
    page.goto(archive_site.url(POST[lang]))
    assert shown(page) == [f"Question {n}" for n in range(1, EXAMPLES + 1)]
    assert page.locator(".example-nav").count() == 0
