"""Pagefind indexing, read back from the bundle it writes (the browser tests run real queries)."""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from xml.etree import ElementTree
from pathlib import Path

import pytest

from scripts.errors import CheckFailed, UsageError
from scripts.site.search import index_site, pagefind_binary
from scripts.site.search_bundle import merge_outputs
from scripts.site.search_cache import LOCK_FILE, group_cache
from scripts.site.search_pages import lean_page
from scripts.site.build import build_site
from tests.conftest import write_wombat_posts

ANNOUNCEMENT = {"en": "/blog/qwen2.5-max/", "zh-cn": "/zh/blog/qwen2.5-max/"}


def indexed_pages(bundle: Path) -> dict[str, dict[str, str]]:
    """language -> {url: indexed text}, decoded from Pagefind's fragment files (gzip, then a
    `pagefind_dcd` signature, then JSON); the file name starts with the language key."""
    pages: dict[str, dict[str, str]] = {}
    for fragment in sorted((bundle / "fragment").iterdir()):
        data = gzip.decompress(fragment.read_bytes())
        assert data.startswith(b"pagefind_dcd")
        record = json.loads(data[len(b"pagefind_dcd"):])
        language = fragment.name.split("_", 1)[0]
        pages.setdefault(language, {})[record["url"]] = record["content"]
    return pages


def test_build_indexes_the_announcement_in_both_languages_and_only_posts(built_site: Path):
    pages = indexed_pages(built_site / "pagefind")
    assert set(pages) == {"en", "zh-cn"}
    for language, url in ANNOUNCEMENT.items():
        assert url in pages[language], f"{url} not indexed for {language}: {sorted(pages[language])}"
    # Lists and the home page repeat posts' summaries: only pages marked data-pagefind-body count.
    assert "/" not in pages["en"] and "/zh/" not in pages["zh-cn"]
    assert (built_site / "pagefind" / "pagefind.js").is_file()


def test_chinese_text_is_segmented_into_words(built_site: Path):
    """The extended Pagefind segments Chinese into words; the plain one keeps each run of Chinese between
    spaces or punctuation as one word, so a query for a word inside it finds nothing. On the announcement
    the plain build records about 180 words, the extended one about 880."""
    fragment_words = {}
    for fragment in (built_site / "pagefind" / "fragment").iterdir():
        record = json.loads(gzip.decompress(fragment.read_bytes())[len(b"pagefind_dcd"):])
        fragment_words[record["url"]] = record["word_count"]
    assert fragment_words[ANNOUNCEMENT["zh-cn"]] > 500


def test_search_hidden_keeps_a_page_out(project: Path, tmp_path: Path):
    bundle_dir = project / "content" / "blog" / "hidden-note"
    bundle_dir.mkdir()
    for name, title, body in (("index.md", "A hidden note", "Zanzibar marmalade appears only here."),
                              ("index.zh.md", "隐藏的笔记", "桑给巴尔果酱只出现在这里。")):
        (bundle_dir / name).write_text(
            f"---\ntitle: \"{title}\"\ndate: 2025-01-01T00:00:00+08:00\nsearch_hidden: true\n---\n\n{body}\n",
            encoding="utf-8")
    result = build_site(project, destination=tmp_path / "site")
    pages = indexed_pages(result.search.bundle)
    assert (tmp_path / "site" / "blog" / "hidden-note" / "index.html").is_file(), "the page itself is still built"
    assert "/blog/hidden-note/" not in pages["en"]
    assert "/zh/blog/hidden-note/" not in pages["zh-cn"]
    assert ANNOUNCEMENT["en"] in pages["en"] and ANNOUNCEMENT["zh-cn"] in pages["zh-cn"]
    assert not any("Zanzibar" in text for text in pages["en"].values())


def test_indexing_twice_gives_identical_bytes(built_site: Path, tmp_path: Path):
    """Pagefind orders its entry file's language map at random; index_site must undo that."""
    first, second = tmp_path / "a", tmp_path / "b"
    for copy in (first, second):
        shutil.copytree(built_site, copy)
        assert index_site(copy).indexed == 2, "no cache: every language indexed again"
    files = sorted(p.relative_to(first) for p in (first / "pagefind").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in (second / "pagefind").rglob("*") if p.is_file())
    for rel in files:
        assert (first / rel).read_bytes() == (second / rel).read_bytes(), rel


def test_build_can_skip_search(project: Path, tmp_path: Path):
    result = build_site(project, destination=tmp_path / "site", search=False)
    assert result.search is None
    assert not (tmp_path / "site" / "pagefind").exists()


def test_missing_pagefind_is_a_one_line_usage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PAGEFIND", str(tmp_path / "no-such-pagefind"))
    with pytest.raises(UsageError, match=r"pip install -r requirements.txt") as caught:
        pagefind_binary()
    assert "\n" not in str(caught.value)


def test_indexing_a_missing_site_is_a_usage_error(tmp_path: Path):
    with pytest.raises(UsageError, match="invoke build"):
        index_site(tmp_path / "site")


def test_search_page_is_in_the_header_menu_but_not_in_feeds_or_the_index(built_site: Path):
    from tests.conftest import parse

    for home, search_path in (("index.html", "/search/"), ("zh/index.html", "/zh/search/")):
        menu = [a.attributes.get("href") for a in parse(built_site / home).css("header nav a")]
        assert search_path in menu, f"{home}: no link to {search_path} in {menu}"
        assert (built_site / search_path.strip("/") / "index.html").is_file()
    for feed in ("index.xml", "zh/index.xml"):
        links = [item.findtext("link") for item in ElementTree.parse(built_site / feed).iter("item")]
        assert links and not any(link.endswith("/search/") for link in links), f"{feed}: {links}"
    pages = indexed_pages(built_site / "pagefind")
    assert "/search/" not in pages["en"] and "/zh/search/" not in pages["zh-cn"]


def all_indexed_pages(bundle: Path) -> dict[str, list[str]]:
    """language -> URLs indexed in the first bundle and in every part, in that order (repeats kept)."""
    urls: dict[str, list[str]] = {}
    for each in [bundle, *sorted((bundle / "parts").glob("*"), key=lambda p: int(p.name))]:
        for language, pages in indexed_pages(each).items():
            urls.setdefault(language, []).extend(sorted(pages))
    return urls


def test_a_large_site_is_indexed_in_bundles_that_together_hold_every_page_once(project: Path, tmp_path: Path):
    write_wombat_posts(project, 6)
    site = build_site(project, destination=tmp_path / "site", search=False).destination
    whole = {lang: sorted(urls) for lang, urls in all_indexed_pages(index_site(site).bundle).items()}
    assert json.loads((site / "pagefind" / "parts.json").read_text(encoding="utf-8")) == {}, "one bundle: no parts"

    # 7 pages a language (the announcement and 6 posts), at most 3 a group: 3 groups a language.
    split = index_site(site, pages_per_bundle=3)
    assert (split.bundles, split.groups) == (3, 6) and split.pages_by_language == {"en": 7, "zh-cn": 7}
    parts = json.loads((site / "pagefind" / "parts.json").read_text(encoding="utf-8"))
    assert parts == {lang: ["parts/1/", "parts/2/"] for lang in ("en", "zh-cn")}
    assert {lang: sorted(urls) for lang, urls in all_indexed_pages(split.bundle).items()} == whole, \
        "every page in exactly one bundle"
    for bundle in (site / "pagefind", *(site / "pagefind" / "parts").iterdir()):
        assert (bundle / "pagefind-entry.json").is_file() and (bundle / "pagefind.js").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "staging and outputs removed"


def test_search_excerpts_hold_no_button_labels(built_site: Path):
    """The announcement opens with buttons (QWEN CHAT ↗, API ↗…): what search shows around a hit is the
    post's prose, never those."""
    pages = indexed_pages(built_site / "pagefind")
    for language, url in ANNOUNCEMENT.items():
        content = pages[language][url]
        assert "↗" not in content and "QWEN CHAT" not in content, content[:200]


def bundle_inodes(site: Path) -> dict[Path, int]:
    """Every file of the site's search bundle and its inode: the same inode as a file of the cache means the
    file was taken from the cache, not written again by Pagefind."""
    bundle = site / "pagefind"
    return {p.relative_to(bundle): p.stat().st_ino for p in bundle.rglob("*") if p.is_file()}


def language_files(site: Path, language: str) -> dict[Path, int]:
    """The bundle's files of one language (Pagefind names them by it: en_….pf_fragment, pagefind.en_….pf_meta,
    wasm.en.pagefind) and their inodes."""
    own = re.compile(rf"(pagefind\.|wasm\.)?{re.escape(language)}[._]")
    return {rel: ino for rel, ino in bundle_inodes(site).items() if own.match(rel.name)}


def cache_inodes(cache: Path) -> set[int]:
    return {p.stat().st_ino for p in cache.rglob("*") if p.is_file()}


def cache_entry(cache: Path, language: str) -> Path:
    """The cache's entry holding `language`'s index."""
    found = [entry for entry in cache.iterdir() if list(entry.glob(f"pagefind.{language}_*.pf_meta"))]
    assert len(found) == 1, sorted(cache.iterdir())
    return found[0]


@pytest.fixture
def pagefind_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[], int]:
    """Pagefind behind a script that counts its runs (PAGEFIND names it); returns the count so far."""
    log, probe = tmp_path / "pagefind-runs.log", tmp_path / "pagefind-probe"
    probe.write_text(f'#!/bin/sh\necho run >> "{log}"\nexec "{pagefind_binary()}" "$@"\n', encoding="utf-8")
    probe.chmod(0o755)
    monkeypatch.setenv("PAGEFIND", str(probe))
    return lambda: len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def test_a_build_from_an_empty_site_with_unchanged_text_takes_the_index_from_the_cache(
        project: Path, tmp_path: Path, pagefind_runs: Callable[[], int]):
    site, cache = tmp_path / "site", tmp_path / "cache"
    first = build_site(project, destination=site, search_cache=cache)
    assert (first.search.groups, first.search.indexed) == (2, 2) and pagefind_runs() == 2, "a run per language"
    shutil.rmtree(site)
    # Outside the indexed text: the stylesheet, linked from every page's head.
    stylesheet = next((project / "assets").rglob("*.css"))
    stylesheet.write_text(stylesheet.read_text(encoding="utf-8") + "\nbody { letter-spacing: 0; }\n",
                          encoding="utf-8")
    second = build_site(project, destination=site, search_cache=cache)
    assert second.search.reused and pagefind_runs() == 2, "Pagefind ran again although no indexed text changed"
    cached = cache_inodes(cache)
    written = sorted(str(rel) for rel, inode in bundle_inodes(site).items() if inode not in cached)
    assert written == ["pagefind-entry.json", "parts.json"], "every file of Pagefind's taken from the cache"
    assert second.search.pages_by_language == first.search.pages_by_language
    pages = indexed_pages(site / "pagefind")
    assert ANNOUNCEMENT["en"] in pages["en"] and ANNOUNCEMENT["zh-cn"] in pages["zh-cn"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == [], "no staging left"


@pytest.mark.parametrize("edit", ["english", "chinese", "new english post"])
def test_a_change_to_indexed_text_indexes_its_language_again(project: Path, tmp_path: Path, edit: str,
                                                              pagefind_runs: Callable[[], int]):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build_site(project, destination=site, search_cache=cache)
    before = bundle_inodes(site)
    post = project / "content" / "blog" / "qwen2.5-max"
    if edit == "new english post":
        (project / "content" / "blog" / "numbat").mkdir()
        (project / "content" / "blog" / "numbat" / "index.md").write_text(
            '---\ntitle: "Numbat notes"\ndate: 2024-03-01T10:00:00+08:00\n---\n\nThe numbat eats termites.\n',
            encoding="utf-8")
        word, language, url = "termites", "en", "/blog/numbat/"
    else:
        name, language, url = (("index.md", "en", ANNOUNCEMENT["en"]) if edit == "english"
                               else ("index.zh.md", "zh-cn", ANNOUNCEMENT["zh-cn"]))
        word = "Quokkapalooza"
        (post / name).write_text((post / name).read_text(encoding="utf-8") + f"\n\n{word}\n", encoding="utf-8")
    rebuilt = build_site(project, destination=site, search_cache=cache)
    assert (rebuilt.search.groups, rebuilt.search.indexed) == (2, 1) and pagefind_runs() == 3
    other = "zh-cn" if language == "en" else "en"
    kept, changed = language_files(site, other), language_files(site, language)
    assert kept and kept == {rel: before.get(rel) for rel in kept}, f"{other} was indexed again"
    assert changed and not [rel for rel, inode in changed.items() if before.get(rel) == inode]
    assert word in indexed_pages(site / "pagefind")[language][url]


@pytest.mark.parametrize("damage", ["truncated fragment", "no entry file", "no manifest"])
def test_a_damaged_cache_entry_is_indexed_again(project: Path, tmp_path: Path, damage: str,
                                                pagefind_runs: Callable[[], int]):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build_site(project, destination=site, search_cache=cache)
    expected = indexed_pages(site / "pagefind")
    entry = cache_entry(cache, "en")
    if damage == "truncated fragment":
        fragment = next((entry / "fragment").iterdir())
        os.truncate(fragment, fragment.stat().st_size // 2)
    else:
        (entry / ("pagefind-entry.json" if damage == "no entry file" else "cache-manifest.json")).unlink()
    shutil.rmtree(site)
    rebuilt = build_site(project, destination=site, search_cache=cache)
    assert rebuilt.search.indexed == 1 and pagefind_runs() == 3, "the damaged entry was trusted"
    assert indexed_pages(site / "pagefind") == expected
    shutil.rmtree(site)
    assert build_site(project, destination=site, search_cache=cache).search.reused, "the new entry is kept"


def test_what_a_killed_build_was_writing_into_the_cache_is_never_taken(project: Path, tmp_path: Path,
                                                                       pagefind_runs: Callable[[], int]):
    site, cache = tmp_path / "site", tmp_path / "cache"
    build_site(project, destination=site, search_cache=cache)
    # A build killed just before it renamed its finished English output into place.
    entry = cache_entry(cache, "en")
    (cache / ".new-killed" / "stage").mkdir(parents=True)
    entry.rename(cache / ".new-killed" / "output")
    leftover = cache_inodes(cache / ".new-killed")
    shutil.rmtree(site)
    rebuilt = build_site(project, destination=site, search_cache=cache)
    assert rebuilt.search.indexed == 1 and pagefind_runs() == 3
    assert not [rel for rel, inode in language_files(site, "en").items() if inode in leftover]
    assert sorted(p.name for p in cache.iterdir() if p.name.startswith(".")) == [], "the leftover is removed"
    assert ANNOUNCEMENT["en"] in indexed_pages(site / "pagefind")["en"]


def test_a_second_build_waits_for_the_cache_rather_than_remove_what_the_first_is_writing(tmp_path: Path):
    cache, digest, seen = tmp_path / "cache", "ab" * 32, []

    def second_build() -> None:
        with group_cache(cache, temp_parent=tmp_path) as store:
            seen.append(sorted(p.name for p in cache.iterdir()))
            store.keep_only({digest})

    with group_cache(cache, temp_parent=tmp_path) as first:
        with first.writing(digest) as (_, output):
            (output / "pagefind-entry.json").write_text("{}", encoding="utf-8")
            second = threading.Thread(target=second_build)
            second.start()
            second.join(1.0)
            assert second.is_alive() and not seen, "the second build waits while the first writes"
        first.keep_only({digest})
    second.join(30)
    assert seen == [[digest, LOCK_FILE]], "it then finds the first build's entry, complete"
    assert first.entry(digest) is not None


def test_a_site_with_no_marked_page_is_indexed_whole_in_one_run(project: Path, tmp_path: Path,
                                                                pagefind_runs: Callable[[], int]):
    layout = project / "layouts" / "single.html"
    layout.write_text(layout.read_text(encoding="utf-8").replace("data-pagefind-body", ""), encoding="utf-8")
    site, cache = tmp_path / "site", tmp_path / "cache"
    first = build_site(project, destination=site, search_cache=cache)
    assert (first.search.groups, first.search.indexed) == (1, 1) and pagefind_runs() == 1
    pages = indexed_pages(site / "pagefind")
    assert "/" in pages["en"] and ANNOUNCEMENT["zh-cn"] in pages["zh-cn"], "every page, in both languages"
    shutil.rmtree(site)
    assert build_site(project, destination=site, search_cache=cache).search.reused and pagefind_runs() == 1


def test_a_cache_that_cannot_be_a_folder_is_a_one_line_usage_error(project: Path, tmp_path: Path):
    (tmp_path / ".cache").write_text("a file where the cache folder should be\n", encoding="utf-8")
    with pytest.raises(UsageError, match=r"cannot keep the search index's cache in .*search") as caught:
        build_site(project, destination=tmp_path / "site", search_cache=tmp_path / ".cache" / "search")
    assert "\n" not in str(caught.value)
    assert (tmp_path / ".cache").read_text(encoding="utf-8") == "a file where the cache folder should be\n"


def test_outputs_that_disagree_are_not_merged(project: Path, tmp_path: Path):
    """The languages' outputs share pagefind.js and the other files that are not a language's: they must be
    the same bytes in each, and no language may be in two."""
    cache = tmp_path / "cache"
    build_site(project, destination=tmp_path / "site", search_cache=cache)
    english, chinese = (shutil.copytree(cache_entry(cache, lang), tmp_path / lang) for lang in ("en", "zh-cn"))
    merge_outputs([english, chinese], tmp_path / "merged")  # as they are: they agree
    with pytest.raises(CheckFailed, match="indexed by two Pagefind runs"):
        merge_outputs([english, english], tmp_path / "twice")
    script = chinese / "pagefind.js"
    script.unlink()  # a hard link to the cache: written anew, not in place
    script.write_text("// another Pagefind\n", encoding="utf-8")
    with pytest.raises(CheckFailed, match="two different pagefind.js"):
        merge_outputs([english, chinese], tmp_path / "differ")


def bundle_files(bundle: Path) -> dict[str, bytes]:
    """Every file Pagefind wrote, by path; its entry file with the language map sorted (its order is random)."""
    files = {}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        rel = str(path.relative_to(bundle))
        if rel == "parts.json":
            continue  # ours, not Pagefind's
        data = path.read_bytes()
        if rel == "pagefind-entry.json":
            entry = json.loads(data)
            data = json.dumps(entry | {"languages": dict(sorted(entry["languages"].items()))}).encode()
        files[rel] = data
    return files


def test_the_merged_bundle_is_what_one_pagefind_run_over_the_lean_pages_writes(built_site: Path, tmp_path: Path):
    """index_site runs Pagefind once per language and merges the outputs, and tells a change from its digest
    of the lean pages (search_pages.lean_page): one Pagefind run over every lean page must write the same
    index, byte for byte."""
    lean_site = tmp_path / "lean"
    for page in built_site.rglob("*.html"):
        html = page.read_bytes()
        if b"data-pagefind-body" in html and "pagefind" not in page.relative_to(built_site).parts:
            (lean_site / page.relative_to(built_site)).parent.mkdir(parents=True, exist_ok=True)
            (lean_site / page.relative_to(built_site)).write_bytes(lean_page(html))
    whole = tmp_path / "whole"
    subprocess.run([str(pagefind_binary()), "--site", str(lean_site), "--output-path", str(whole), "--silent"],
                   check=True, capture_output=True)
    assert indexed_pages(built_site / "pagefind") == indexed_pages(whole), "the same pages and text per language"
    ours, theirs = bundle_files(built_site / "pagefind"), bundle_files(whole)
    assert ours.keys() == theirs.keys()
    assert [rel for rel in ours if ours[rel] != theirs[rel]] == []


def test_a_lean_page_keeps_what_pagefind_reads(built_site: Path):
    page = (built_site / "blog" / "qwen2.5-max" / "index.html").read_bytes()
    lean = lean_page(page)
    assert len(lean) < len(page) * 0.8 and b"<span" not in lean and b"stylesheet" not in lean, "a real post is cut"
    head = (b'<!doctype html><html lang=en><head><title>T</title><link rel=stylesheet href=/s.css></head><body>'
            b'<header data-pagefind-ignore=all>Site</header>')
    article = (b'<nav>Home</nav><article class=post data-pagefind-body><h1>Title</h1>'
               b'<pre><code><span class=n>client</span><span class=o>.</span><span class=n>chat</span></code></pre>'
               b'<p>Text <code>data-pagefind-body</code></p></article><script>var x = 1;</script></body></html>')
    lean = lean_page(head + article)
    assert lean.startswith(b"<!doctype html><html lang=en><head><meta charset=utf-8></head><body><article")
    assert b"client.chat" in lean and b"<span" not in lean and b"<script" not in lean and b"<nav>" not in lean
    # Pagefind attributes anywhere but the marked element: the page is given whole, or keeps its spans.
    with_meta = head.replace(b"<title>", b'<meta data-pagefind-meta="author:A"><title>') + article
    assert lean_page(with_meta) == with_meta
    ignored = article.replace(b"<span class=o>", b"<span class=o data-pagefind-ignore>")
    assert b"data-pagefind-ignore>.</span>" in lean_page(head + ignored)
    # Words about Pagefind in a page that is not marked do not mark it.
    unmarked = head + b"<article><p>Text <code>data-pagefind-body</code></p></article></body></html>"
    assert lean_page(unmarked) == unmarked
