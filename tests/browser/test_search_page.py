"""Search, as a reader without a mouse: reach the search page, type, reach the announcement."""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from scripts.site.static_server import StaticServer
from tests.browser.conftest import SUB_PATH, Site, only_at
from tests.conftest import copy_project, write_wombat_posts

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


@pytest.fixture(scope="module")
def split_index_site(chromium_executable: Path):
    """The project plus six wombat posts a language, its search index split into 4 bundles (7 pages a
    language, at most 2 of them in each), served under the sub-path."""
    from scripts.site.search import index_site
    from scripts.site.build import build_site

    work = Path(tempfile.mkdtemp(prefix="browser-split-"))
    project = copy_project(work / "project")
    write_wombat_posts(project, 6)
    server = StaticServer(work / "site", SUB_PATH)
    try:
        build_site(project, destination=work / "site", base_url=server.base_url, search=False)
        assert index_site(work / "site", pages_per_bundle=2).bundles == 4
        with server:
            yield Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


@only_at("desktop")
@pytest.mark.parametrize("home, word", [("", "wombat"), ("zh/", "袋熊")])
def test_a_split_index_is_searched_whole(split_index_site, page, traffic, home, word):
    site = split_index_site
    page.goto(site.url(f"{home}search/?q={word}"))
    results = page.locator("#search-results li a")
    expect(results).to_have_count(6)  # the six posts, spread over all four bundles
    hrefs = sorted(results.evaluate_all("links => links.map(a => a.href)"))
    assert hrefs == sorted(site.url(f"{home}blog/wombat-{n}/") for n in range(6))
    page.locator("#search-input").fill("fossa")  # wombat-5's own word
    expect(results).to_have_count(1)
    assert results.first.evaluate("a => a.href") == site.url(f"{home}blog/wombat-5/")
    assert traffic.third_party == [] and traffic.page_errors == []


@pytest.fixture(scope="module")
def rebuilt_site(chromium_executable: Path):
    """The project built twice: the rebuild takes the index from the search cache (nothing indexed changed),
    then the test changes a post in both languages and builds again, which indexes the changed text."""
    from scripts.site.build import build_site

    work = Path(tempfile.mkdtemp(prefix="browser-rebuilt-"))
    project = copy_project(work / "project")
    write_wombat_posts(project, 1)
    server = StaticServer(work / "site", SUB_PATH)
    try:
        for _ in range(2):
            built = build_site(project, destination=work / "site", base_url=server.base_url,
                               search_cache=work / "search-cache")
        assert built.search.reused
        with server:
            yield project, Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


@only_at("desktop")
def test_a_kept_index_finds_what_it_found_and_a_new_index_what_changed(rebuilt_site, page, traffic):
    from scripts.site.build import build_site

    project, site = rebuilt_site
    for lang, (home, query, post) in sorted(CASES.items()):
        page.goto(site.url(f"{home}search/?q={query}"))
        expect(page.locator(f"#search-results a[href$='{post}']")).to_have_count(1)
    for name, word in (("index.md", "pangolin"), ("index.zh.md", "穿山甲")):
        post = project / "content" / "blog" / "wombat-0" / name
        post.write_text(post.read_text(encoding="utf-8") + f"\n{word}\n", encoding="utf-8")
    rebuilt = build_site(project, destination=site.dir, base_url=site.server.base_url,
                         search_cache=site.dir.parent / "search-cache")
    assert rebuilt.search.indexed == 2, "both languages changed"
    for home, word in (("", "pangolin"), ("zh/", "穿山甲")):
        page.goto(site.url(f"{home}search/?q={word}"))
        results = page.locator("#search-results li a")
        expect(results).to_have_count(1)
        assert results.first.evaluate("a => a.href") == site.url(f"{home}blog/wombat-0/")
    assert traffic.third_party == [] and traffic.page_errors == []
