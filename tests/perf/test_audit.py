"""`invoke audit`'s page-weight measurement (the Lighthouse and axe figures come from the real tools and
are reported, not asserted: see the README)."""
from __future__ import annotations

import gzip
from pathlib import Path

import yaml

from scripts.perf.audit import page_weight
from tests.conftest import ROOT

BASE = "http://127.0.0.1:8000/sub/"


def test_weight_counts_the_page_and_its_first_party_css_and_js_gzipped(tmp_path: Path):
    site = tmp_path / "site"
    (site / "post").mkdir(parents=True)
    (site / "css").mkdir()
    (site / "js").mkdir()
    (site / "css" / "site.css").write_text("body { color: #222; }\n" * 50)
    for name in ("deferred.js", "blocking.js", "module.js", "late.js"):
        (site / "js" / name).write_text(f"console.log('{name}');\n" * 20)
    (site / "post" / "index.html").write_text(
        "<!doctype html><html lang=en><head><title>t</title>"
        "<link rel=stylesheet href=/sub/css/site.css>"
        "<script src=../js/deferred.js defer></script>"
        "<script src=/sub/js/blocking.js></script>"
        "<script type=module src=/sub/js/module.js></script>"
        "<script src=https://cdn.example.com/lib.js></script>"
        "</head><body><p>text</p><script src=/sub/js/late.js></script></body></html>")
    files, blocking = page_weight(site, BASE, "post/")
    weighed = {f.path: f for f in files}
    assert set(weighed) == {"post/index.html", "css/site.css", "js/deferred.js", "js/blocking.js",
                            "js/module.js", "js/late.js"}, "the remote script is not ours to weigh"
    css = weighed["css/site.css"]
    assert css.kind == "css" and css.size == len((site / "css" / "site.css").read_bytes())
    assert css.gzipped == len(gzip.compress((site / "css" / "site.css").read_bytes(), 9, mtime=0)) < css.size
    # In <head>, a classic script without defer/async blocks rendering; the remote one does too.
    assert blocking == ("/sub/js/blocking.js", "https://cdn.example.com/lib.js")


def test_the_announcement_loads_no_render_blocking_script(built_site: Path):
    base_url = yaml.safe_load((ROOT / "hugo.yaml").read_text(encoding="utf-8"))["baseURL"]
    files, blocking = page_weight(built_site, base_url, "zh/blog/qwen2.5-max/")
    assert blocking == ()
    kinds = {f.kind for f in files}
    assert kinds >= {"html", "css"}, files
