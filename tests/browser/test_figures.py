"""Remote figures arriving after the text move nothing, whatever their shape, and are drawn whole and
undistorted; a remote figure whose size data/remote_images.yaml gives keeps its real proportions."""
from __future__ import annotations

import shutil
import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest

from scripts.perf.browser import CONTENT_MEDIA_HOST
from scripts.site.static_server import StaticServer
from tests.browser.conftest import SUB_PATH, Site
from tests.conftest import copy_project

pytestmark = pytest.mark.browser

POST = "zh/blog/qwen2.5-max/"
BANNER = f"https://{CONTENT_MEDIA_HOST}/Qwen2.5-max-banner.png"
COLOUR = (200, 30, 60)  # the stand-ins' colour, found again in screenshots
# Stand-in shapes for the remote images, whose real sizes cannot be known here: none is 16:9, the
# shape of the box kept for them, so a box that only matched the stand-ins would be caught.
SHAPES = {"wide": (3000, 1000), "tall": (900, 1200), "small": (240, 80)}
REQUEST_WAIT_S = 30  # as long as Playwright's own waits: reached only by a page that never asks
# Sums every layout shift from the start of the page; SHIFT_TOTAL adds those not yet handed to it.
SHIFT_OBSERVER = """window.__shift = 0;
window.__shifts = new PerformanceObserver(l => { for (const e of l.getEntries()) window.__shift += e.value; });
__shifts.observe({type: "layout-shift", buffered: true});"""
SHIFT_TOTAL = "__shifts.takeRecords().reduce((sum, e) => sum + e.value, __shift)"
# Resolves once every figure image is loaded and decoded (rejects if one is broken) and one more frame
# is drawn, in which the layout shifts of their arrival are recorded.
FIGURES_DRAWN = """Promise.all([...document.querySelectorAll('figure img')].map(i => i.decode()))
  .then(() => new Promise(drawn => requestAnimationFrame(() => requestAnimationFrame(drawn))))"""


def solid_png(width: int, height: int, rgb: tuple[int, int, int] = COLOUR) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def colour_extent(png: bytes, rgb: tuple[int, int, int] = COLOUR) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) of the pixels of colour `rgb` in an 8-bit RGB(A) PNG, such as
    Chromium's screenshots; None when there are none."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(png):
        length, kind = struct.unpack(">I4s", png[pos:pos + 8])
        data = png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, colour_type, _, _, interlace = header
    assert depth == 8 and colour_type in (2, 6) and not interlace, header
    bpp = 3 if colour_type == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    prev, found = bytearray(stride), []
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):  # undo the row's PNG filter
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        for x in range(width):
            px = line[x * bpp:x * bpp + 3]
            if all(abs(px[k] - rgb[k]) <= 12 for k in range(3)):
                found.append((x, y))
        prev = line
    if not found:
        return None
    xs, ys = [x for x, _ in found], [y for _, y in found]
    return min(xs), min(ys), max(xs) + 1, max(ys) + 1


def _hold_remote_images(context) -> list:
    """Hold the content host's image requests (registered last, so ahead of the harness's abort)."""
    held = []
    context.route(f"https://{CONTENT_MEDIA_HOST}/**",
                  lambda route: held.append(route) if route.request.resource_type == "image" else route.fallback())
    return held


def _release(page, held: list, size: tuple[int, int]) -> None:
    body = solid_png(*size)
    while held:
        held.pop().fulfill(status=200, content_type="image/png", body=body)
    page.evaluate(FIGURES_DRAWN)


def _ask_for_every_figure(page, held: list) -> None:
    """Scroll to the end and back, and wait until the banner and both charts (lazy) are asked for. By
    script: a mouse wheel's scroll lands later, at a time nothing waits for, so it could undo the way back."""
    page.evaluate("scrollTo(0, document.documentElement.scrollHeight)")
    deadline = time.monotonic() + REQUEST_WAIT_S
    while len(held) < 3 and time.monotonic() < deadline:
        page.wait_for_timeout(20)  # Playwright hands the test the held routes only inside its own calls
    assert len(held) == 3, "the banner and both charts are asked for"
    page.evaluate("scrollTo(0, 0)")


def _open_holding_remote_images(new_context, url: str):
    """The page at `url`, its layout shifts counted, painted once, with its remote images held back."""
    context = new_context()
    held = _hold_remote_images(context)
    page = context.new_page()
    page.add_init_script(SHIFT_OBSERVER)
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_function("performance.getEntriesByName('first-contentful-paint').length > 0")
    return page, held


def _boxes(page) -> list[dict]:
    """Each figure image's box and the top of the element after its figure, in page coordinates."""
    return page.evaluate("""[...document.querySelectorAll('.post-content figure')].map(f => {
        const r = f.querySelector('img').getBoundingClientRect(), n = f.nextElementSibling.getBoundingClientRect();
        return {x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height, next: n.y + scrollY};
    })""")


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_remote_figures_move_nothing_and_are_drawn_whole(site, new_context, viewport, shape):
    page, held = _open_holding_remote_images(new_context, site.url(POST))
    _ask_for_every_figure(page, held)  # the shift counts wherever they are
    before = _boxes(page)
    assert len(before) == 3
    column = page.evaluate("document.querySelector('.post-content').clientWidth")
    for box in before:
        assert box["h"] > 0, "no room kept for the image before it arrives"
        assert box["w"] == pytest.approx(column, abs=1), "the column's width"
        assert box["w"] / box["h"] == pytest.approx(16 / 9, abs=0.02), "room kept before the image arrives"
    _release(page, held, SHAPES[shape])
    after = _boxes(page)
    for b, a in zip(before, after):
        assert a == pytest.approx(b, abs=0.5), "an arriving image moved the page"
    assert page.evaluate(SHIFT_TOTAL) == 0
    # The picture is drawn whole at its own proportions inside the kept box, never enlarged.
    first = after[0]
    page.evaluate("scrollTo(0, 0)")
    shot = page.screenshot(scale="css", clip={"x": first["x"], "y": first["y"], "width": first["w"], "height": first["h"]})
    left, top, right, bottom = colour_extent(shot)
    width, height = SHAPES[shape]
    scale = min(1, first["w"] / width, first["h"] / height)
    assert (right - left, bottom - top) == pytest.approx((width * scale, height * scale), abs=2)
    assert (left + right) / 2 == pytest.approx(first["w"] / 2, abs=2), "centred"
    assert (top + bottom) / 2 == pytest.approx(first["h"] / 2, abs=2), "centred"


@pytest.fixture(scope="module")
def sized_site(chromium_executable):
    """The project with the banner's size written in data/remote_images.yaml."""
    from scripts.site.build import build_site

    work = Path(tempfile.mkdtemp(prefix="browser-sized-"))
    project = copy_project(work / "project")
    (project / "data").mkdir(exist_ok=True)
    (project / "data" / "remote_images.yaml").write_text(f'"{BANNER}": {{width: 2000, height: 600}}\n',
                                                         encoding="utf-8")
    server = StaticServer(work / "site", SUB_PATH)
    try:
        build_site(project, destination=work / "site", base_url=server.base_url, search=False)
        with server:
            yield Site(dir=work / "site", server=server)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


def test_a_remote_figure_of_known_size_keeps_its_real_proportions(sized_site, new_context, viewport):
    page, held = _open_holding_remote_images(new_context, sized_site.url(POST))
    _ask_for_every_figure(page, held)
    before = _boxes(page)[0]
    assert before["h"] > 0, "no room kept for the image before it arrives"
    assert before["w"] / before["h"] == pytest.approx(2000 / 600, abs=0.02)
    _release(page, held, (2000, 600))
    after = _boxes(page)[0]
    assert after == pytest.approx(before, abs=0.5)
    assert page.evaluate(SHIFT_TOTAL) == 0
