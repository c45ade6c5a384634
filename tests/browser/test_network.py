"""Only 127.0.0.1 is asked for (and the content's own media host), and our own assets log no error."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PAGES = ("", "zh/", "blog/qwen2.5-max/", "zh/blog/qwen2.5-max/", "blog/", "tags/", "archives/",
         "search/", "zh/search/", "404.html")


def test_no_third_party_request_and_no_console_error(site, page, traffic):
    for path in PAGES:
        response = page.goto(site.url(path), wait_until="load")
        assert response.ok, f"{path}: HTTP {response.status}"
        page.mouse.wheel(0, 20000)  # bring lazy images into view, so they are requested too
        page.wait_for_timeout(200)
    assert traffic.third_party == []
    assert traffic.first_party_console_errors() == []
    assert traffic.page_errors == []
    # The announcement's banner, figures and video were asked for, from their own host only.
    assert any(url.endswith(".mp4") for url in traffic.content_media)
    assert any(url.endswith((".png", ".jpg", ".jpeg")) for url in traffic.content_media)


def test_a_missing_page_gets_the_404_page(site, page):
    response = page.goto(site.url("no/such/page/"))
    assert response.status == 404
    assert page.locator("main a[href]").count() >= 1, "the 404 page offers a way back"
