"""A chart from a page bundle stays sharp: the image Chromium shows, in the size that is the chart's own,
has exactly the pixels of the PNG the author wrote, decoded by Chromium itself; every smaller size of the
srcset is encoded losslessly too."""
from __future__ import annotations

import pytest

from scripts.links.extract import srcset_urls
from tests.browser.conftest import CHART_SIZE, only_at

pytestmark = pytest.mark.browser

# Decodes two images with no colour conversion and counts the pixels whose RGBA differ.
COMPARE = """async ([a, b]) => {
  const pixels = async url => {
    const blob = await (await fetch(url)).blob();
    const bitmap = await createImageBitmap(blob, {colorSpaceConversion: 'none', premultiplyAlpha: 'none'});
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const context = canvas.getContext('2d', {colorSpace: 'srgb'});
    context.drawImage(bitmap, 0, 0);
    return {w: bitmap.width, h: bitmap.height, data: context.getImageData(0, 0, bitmap.width, bitmap.height).data};
  };
  const [x, y] = [await pixels(a), await pixels(b)];
  if (x.w !== y.w || x.h !== y.h) return {size: [x.w, x.h, y.w, y.h], differ: -1};
  let differ = 0;
  for (let i = 0; i < x.data.length; i += 4)
    if (x.data[i] !== y.data[i] || x.data[i + 1] !== y.data[i + 1] || x.data[i + 2] !== y.data[i + 2]
        || x.data[i + 3] !== y.data[i + 3]) differ++;
  return {size: [x.w, x.h], differ};
}"""


@only_at("desktop")
def test_the_chart_is_shown_with_the_pixels_of_its_source(archive_site, page):
    page.goto(archive_site.url("blog/chart/"))
    img = page.locator(".post-content figure img")
    srcset = img.get_attribute("srcset")
    widths = [c.rsplit(" ", 1)[1] for c in srcset.split(", ")]
    assert widths == ["480w", f"{CHART_SIZE[0]}w"]
    own_size = srcset_urls(srcset)[-1]
    source = archive_site.url("blog/chart/chart.png")
    result = page.evaluate(COMPARE, [own_size, source])
    assert result == {"size": list(CHART_SIZE), "differ": 0}, result
    for url in srcset_urls(srcset):
        head = page.evaluate("async u => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()).slice(8, 16))",
                             url)
        assert bytes(head) == b"WEBPVP8L", f"{url} is not lossless WebP"
