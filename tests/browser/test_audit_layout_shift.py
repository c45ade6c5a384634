"""`invoke audit`'s layout-shift measurement, in Chromium: it sees the shift of a late remote image that
keeps no room, and none when the room is kept."""
from __future__ import annotations

from pathlib import Path

import pytest

from scripts.perf.audit import _figure_layout_shift
from scripts.perf.browser import CONTENT_MEDIA_HOST
from scripts.site.static_server import StaticServer

pytestmark = pytest.mark.browser

BANNER = f"https://{CONTENT_MEDIA_HOST}/Qwen2.5-max-banner.png"


def test_audit_measures_the_shift_of_an_image_without_room(browser, tmp_path: Path):
    """The stand-in measurement on a page whose remote image keeps no room, and on one whose image keeps it
    as the figure stylesheet does. The phone emulation once hid the first shift (read as 0)."""
    text = "<p>" + "Words that fill the screen below the image. " * 60 + "</p>"
    pages = {
        "bare.html": f'<img src="{BANNER}" alt="" style="width:100%">',
        "kept.html": f'<img src="{BANNER}" alt="" style="width:100%;aspect-ratio:16/9;object-fit:scale-down">',
    }
    for name, img in pages.items():
        (tmp_path / name).write_text(f'<!doctype html><html lang="en"><meta name="viewport" '
                                     f'content="width=device-width"><title>t</title>{img}{text}</html>',
                                     encoding="utf-8")
    with StaticServer(tmp_path, "/") as server:
        bare, _ = _figure_layout_shift(browser, server.url("bare.html"))
        kept, unsized = _figure_layout_shift(browser, server.url("kept.html"))
    assert bare > 0.1
    assert kept == 0
    assert unsized == (BANNER,), "still reported as without width/height attributes"
