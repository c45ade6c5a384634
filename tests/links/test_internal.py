"""`invoke check-links`: internal links, images and anchors of the site Hugo builds.

A copy of the project gets a post full of link mistakes (and links that only look risky), is built once by
the real Hugo, and the report is compared with what a reader would hit.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.links.extract import srcset_urls
from scripts.links.internal import check_internal
from scripts.links.report import REFUSED_URL
from scripts.site.build import build_site
from tests.conftest import ROOT, copy_project

SUB_PATH_BASE = "https://example.github.io/qwen-blog/"

BROKEN_POST_EN = """\
---
title: "Links, good and bad"
date: 2025-01-20T10:00:00+08:00
aliases: ["/old-links/"]
---

## Good links

[the announcement](/blog/qwen2.5-max/), [its results](/blog/qwen2.5-max/#performance),
[its Chinese results](/zh/blog/qwen2.5-max/#性能), [with a query string](/blog/qwen2.5-max/?utm_source=rss#citation),
[this post's old address](/old-links/), [a heading here](#good-links), [the top](#top),
![a figure in the bundle](figure.png)

## Bad links

[a missing page](/blog/no-such-post/), [a missing anchor](/blog/qwen2.5-max/#no-such-heading),
![a missing image](/images/no-such-figure.png), [a Chinese page that does not exist](/zh/blog/only-in-english/),
[a missing anchor in Chinese](/zh/blog/qwen2.5-max/#no-such-heading), [query on a missing page](/blog/gone/?page=2),
[a draft](/blog/unfinished/), [a missing anchor here](#nowhere), [a script](javascript:alert(1))
"""

BROKEN_POST_ZH = """\
---
title: "好链接与坏链接"
date: 2025-01-20T10:00:00+08:00
---

## 好链接

[英文版的好链接](https://qwenlm.github.io/blog/links/#good-links)

## 坏链接

[英文版没有这个锚点](https://qwenlm.github.io/blog/links/#坏链接)，
[链接里的链接]([https://example.com/a](https://example.com/b))
"""

DRAFT_POST = """\
---
title: "Unfinished"
date: 2025-01-21T10:00:00+08:00
draft: true
---

Not ready.
"""

# (page, link as written in the built page, reason)
EXPECTED_BROKEN = {
    ("/blog/links/", "/blog/no-such-post/", "missing page"),
    ("/blog/links/", "/blog/qwen2.5-max/#no-such-heading", "missing anchor #no-such-heading on /blog/qwen2.5-max/"),
    ("/blog/links/", "/images/no-such-figure.png", "missing image"),
    ("/blog/links/", "/zh/blog/only-in-english/", "missing page"),
    ("/blog/links/", "/zh/blog/qwen2.5-max/#no-such-heading",
     "missing anchor #no-such-heading on /zh/blog/qwen2.5-max/"),
    ("/blog/links/", "/blog/gone/?page=2", "missing page"),
    ("/blog/links/", "/blog/unfinished/",
     "links to a page that is not published: content/blog/unfinished/index.md is a draft"),
    ("/blog/links/", "#nowhere", "missing anchor #nowhere on this page"),
    ("/blog/links/", "#ZgotmplZ", REFUSED_URL),
    ("/zh/blog/links/", "#ZgotmplZ", REFUSED_URL),
    ("/zh/blog/links/", "https://qwenlm.github.io/blog/links/#%e5%9d%8f%e9%93%be%e6%8e%a5",
     "missing anchor #坏链接 on /blog/links/"),
}


def _add_link_posts(project: Path) -> None:
    bundle = project / "content" / "blog" / "links"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text(BROKEN_POST_EN, encoding="utf-8")
    (bundle / "index.zh.md").write_text(BROKEN_POST_ZH, encoding="utf-8")
    shutil.copy(_any_png(), bundle / "figure.png")
    draft = project / "content" / "blog" / "unfinished"
    draft.mkdir()
    (draft / "index.md").write_text(DRAFT_POST, encoding="utf-8")


def _any_png() -> Path:
    # A real PNG so Hugo's image render hook can read its size; written here to stay independent of assets.
    import struct
    import tempfile
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) \
        + chunk(b"IDAT", zlib.compress(b"\x00" + b"\xff\x00\x00" * 2 + b"\x00" + b"\xff\x00\x00" * 2)) \
        + chunk(b"IEND", b"")
    path = Path(tempfile.mkdtemp()) / "figure.png"
    path.write_bytes(png)
    return path


@pytest.fixture(scope="module")
def broken_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = copy_project(tmp_path_factory.mktemp("links") / "project")
    _add_link_posts(project)
    return project


@pytest.fixture(scope="module")
def broken_site(broken_project: Path) -> Path:
    return build_site(broken_project).destination


def _triples(report) -> set[tuple[str, str, str]]:
    return {(b.page, b.link, b.reason) for b in report.broken}


def _planted(report, built_site: Path) -> list:
    """The report without what is broken on the unmodified site too (the layouts' own links, checked
    by test_the_real_site_has_no_broken_internal_links)."""
    baseline = {b.link for b in check_internal(built_site, project_root=ROOT).broken}
    return [b for b in report.broken if b.link not in baseline]


def test_every_kind_of_broken_internal_link_is_reported_once_and_nothing_else(broken_site, broken_project,
                                                                             built_site):
    report = check_internal(broken_site, project_root=broken_project)
    assert not report.ok
    planted = _planted(report, built_site)
    assert {(b.page, b.link, b.reason) for b in planted} == EXPECTED_BROKEN
    assert len(planted) == len(EXPECTED_BROKEN)  # once per page
    sources = {b.page: b.source for b in planted}
    assert sources == {"/blog/links/": "content/blog/links/index.md",
                       "/zh/blog/links/": "content/blog/links/index.zh.md"}


def test_big_sites_are_read_by_two_processes_with_the_same_result(broken_site, broken_project, monkeypatch):
    import scripts.links.pages

    alone = check_internal(broken_site, project_root=broken_project)
    monkeypatch.setattr(scripts.links.pages, "POOL_THRESHOLD", 0)  # what a site of 200+ files gets
    pooled = check_internal(broken_site, project_root=broken_project)
    assert (pooled.broken, pooled.links, pooled.pages) == (alone.broken, alone.links, alone.pages)


def test_report_lines_are_sorted_and_end_with_a_count(broken_site, broken_project):
    report = check_internal(broken_site, project_root=broken_project)
    lines = report.render().splitlines()
    assert lines[:-1] == sorted(lines[:-1])
    assert "/blog/links/ (content/blog/links/index.md) -> /blog/no-such-post/: missing page" in lines
    pages = len({b.page for b in report.broken})
    assert lines[-1].startswith(f"{len(report.broken)} broken links on {pages} pages (checked ")


def test_the_alias_page_exists_and_redirects_to_a_real_page(broken_site, broken_project):
    alias = broken_site / "old-links" / "index.html"
    assert alias.is_file()
    report = check_internal(broken_site, project_root=broken_project)
    assert not any(b.page == "/old-links/" for b in report.broken)


def test_rss_sitemap_and_aliases_are_checked_too(broken_site, broken_project, tmp_path):
    site = tmp_path / "site"
    shutil.copytree(broken_site, site)
    # Losing the post's directory leaves the feed, the sitemap, the alias and the translation link dangling.
    shutil.rmtree(site / "blog" / "links")
    report = check_internal(site, project_root=broken_project)
    dangling = {(b.page, b.source) for b in report.broken if "blog/links/" in b.link}
    assert ("/en/sitemap.xml", "sitemap") in dangling
    assert ("/index.xml", "RSS feed") in dangling
    assert ("/blog/index.xml", "RSS feed") in dangling
    assert ("/old-links/", "alias of https://qwenlm.github.io/blog/links/") in dangling
    assert ("/zh/blog/links/", "content/blog/links/index.zh.md") in dangling


def test_the_real_site_has_no_broken_internal_links(built_site):
    report = check_internal(built_site, project_root=ROOT)
    assert report.ok, report.render()
    assert report.pages >= 10 and report.links >= 100


def test_a_site_built_under_a_sub_path_resolves_against_that_path(tmp_path):
    built = build_site(ROOT, destination=tmp_path / "site", base_url=SUB_PATH_BASE)
    report = check_internal(built.destination, project_root=ROOT)
    assert report.base_url == SUB_PATH_BASE  # read from the built site, not hugo.yaml
    assert report.ok, report.render()
    # A link that works at the domain root but not under the sub-path is the classic project-page bug.
    page = built.destination / "blog" / "qwen2.5-max" / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace("</main>", '<a href="/blog/">x</a></main>', 1),
                    encoding="utf-8")
    report = check_internal(built.destination, project_root=ROOT)
    assert [(b.page, b.link, b.reason) for b in report.broken] == [
        ("/qwen-blog/blog/qwen2.5-max/", "/blog/", "outside the site's base path /qwen-blog/")]


def test_srcset_candidates_are_split_like_a_browser_does():
    assert srcset_urls("a.png 1x, b.png 2x") == ["a.png", "b.png"]
    assert srcset_urls("/img/x,y.png 480w,/img/z.png 800w") == ["/img/x,y.png", "/img/z.png"]
    assert srcset_urls("  single.webp  ") == ["single.webp"]


@pytest.mark.slow
def test_crawl_with_linkchecker_finds_the_same_mistakes(broken_project):
    from scripts.links.crawl import crawl_site

    report = crawl_site(broken_project)
    found = {(b.page, b.link) for b in report.broken}
    assert report.base_url.startswith("http://127.0.0.1:")
    # LinkChecker reports HTTP results in its own words; the pages and links must match ours.
    for page, link in [("/blog/links/", "/blog/no-such-post/"), ("/blog/links/", "/images/no-such-figure.png"),
                       ("/blog/links/", "/blog/unfinished/")]:
        assert (page, link) in found, report.render()
    anchors = {(b.page, b.link) for b in report.broken if b.reason.startswith("missing anchor")}
    assert ("/blog/links/", "/blog/qwen2.5-max/#no-such-heading") in anchors, report.render()
    assert ("/blog/links/", "/zh/blog/qwen2.5-max/#no-such-heading") in anchors, report.render()
    assert all(b.source == "content/blog/links/index.md" for b in report.broken if b.page == "/blog/links/")


def _project_with_tasks(tmp_path: Path, broken: bool) -> Path:
    project = copy_project(tmp_path / "cli")
    for part in ("tasks.py", "links.yaml"):
        shutil.copy(ROOT / part, project / part)
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    if broken:
        _add_link_posts(project)
    return project


def _invoke(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=project, capture_output=True, text=True,
                          timeout=300)


def test_task_builds_then_exits_1_with_the_report(tmp_path):
    project = _project_with_tasks(tmp_path, broken=True)
    proc = _invoke(project, "check-links")
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert "/blog/links/ (content/blog/links/index.md) -> /blog/no-such-post/: missing page" in lines
    assert lines[-1].split()[1:3] == ["broken", "links"]
    assert (project / "site" / "blog" / "links" / "index.html").is_file()  # it built first


def test_task_without_a_built_site_is_a_usage_error(tmp_path):
    project = _project_with_tasks(tmp_path, broken=False)
    proc = _invoke(project, "check-links", "--no-build")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"error: no built site at {project / 'site'}: run `invoke build` first"]
