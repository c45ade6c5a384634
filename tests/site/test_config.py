"""The real site as a reader meets it: URLs, languages, counts, lists, archives, 404, accessibility
structure; and `invoke build` as a user runs it (reproducible output, Hugo's errors, missing Hugo,
a sub-path base URL)."""
from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, HTMLParser, copy_project, parse

EN_POST = "blog/qwen2.5-max/index.html"
ZH_POST = "zh/blog/qwen2.5-max/index.html"


def text(node) -> str:
    return " ".join(node.text().split())


# ---- URLs and languages ----

def test_posts_at_the_original_blogs_paths(built_site: Path):
    for path in (EN_POST, ZH_POST, "index.html", "zh/index.html", "archives/index.html", "zh/archives/index.html",
                 "tags/index.html", "zh/tags/index.html", "404.html", "blog/index.html", "zh/blog/index.html"):
        assert (built_site / path).is_file(), path


def test_rss_sitemap_and_robots(built_site: Path):
    assert "<rss" in (built_site / "index.xml").read_text()
    assert "qwen2.5-max" in (built_site / "zh" / "index.xml").read_text()
    sitemap = (built_site / "sitemap.xml").read_text()
    assert "<sitemapindex" in sitemap and "/zh/sitemap.xml" in sitemap
    robots = (built_site / "robots.txt").read_text().splitlines()
    assert "User-agent: *" in robots
    assert "Sitemap: https://qwenlm.github.io/sitemap.xml" in robots


def test_translation_links_both_ways(built_site: Path):
    en, zh = parse(built_site / EN_POST), parse(built_site / ZH_POST)
    assert [a.attributes["href"] for a in en.css(".translations a")] == ["/zh/blog/qwen2.5-max/"]
    assert en.css_first(".translations a").attributes["lang"] == "zh-CN"
    assert text(en.css_first(".translations a")) == "简体中文"
    assert [a.attributes["href"] for a in zh.css(".translations a")] == ["/blog/qwen2.5-max/"]
    assert text(zh.css_first(".translations a")) == "English"


def test_language_switch_goes_to_the_translation_or_the_other_home(built_site: Path):
    switch = parse(built_site / EN_POST).css_first("header .lang-switch a")
    assert switch.attributes["href"] == "/zh/blog/qwen2.5-max/" and switch.attributes["hreflang"] == "zh-CN"
    back = parse(built_site / ZH_POST).css_first("header .lang-switch a")
    assert back.attributes["href"] == "/blog/qwen2.5-max/"
    from_404 = parse(built_site / "404.html").css_first("header .lang-switch a")
    assert from_404.attributes["href"] == "/zh/"


def test_ui_strings_are_translated(built_site: Path):
    zh = parse(built_site / ZH_POST)
    assert text(zh.css_first(".skip-link")) == "跳到正文"
    assert text(zh.css_first("details.toc summary")) == "目录"
    assert [text(a) for a in zh.css(".breadcrumbs a")] == ["首页", "博客"]
    en = parse(built_site / EN_POST)
    assert [text(a) for a in en.css(".breadcrumbs a")] == ["Home", "Blog"]


def test_i18n_files_have_the_same_keys_and_cover_the_templates():
    en = yaml.safe_load((ROOT / "i18n" / "en.yaml").read_text())
    zh = yaml.safe_load((ROOT / "i18n" / "zh.yaml").read_text())
    assert set(en) == set(zh)
    used = set()
    for template in (ROOT / "layouts").rglob("*.html"):
        used |= set(re.findall(r'\bT "([a-z_]+)"', template.read_text()))
    assert used and used <= set(en), f"missing strings: {used - set(en)}"


# ---- the announcement ----

def test_zh_post_counts_cjk_words_and_reading_time(built_site: Path):
    meta = parse(built_site / ZH_POST).css_first(".post-header .post-meta")
    assert text(meta.css_first("time")) == "2025年1月28日"
    assert text(meta.css_first(".reading-time")) == "3 分钟"
    words = text(meta.css_first(".word-count"))
    assert words.endswith(" 字")
    assert 1050 <= int(words.split()[0]) <= 1150, "about 1,100 字 (the original blog showed 162)"


def test_en_post_counts_english_words(built_site: Path):
    meta = parse(built_site / EN_POST).css_first(".post-header .post-meta")
    assert text(meta.css_first("time")) == "January 28, 2025"
    assert text(meta.css_first(".reading-time")) == "3 min read"
    words = text(meta.css_first(".word-count"))
    assert words.endswith(" words") and 450 <= int(words.split()[0]) <= 550


def test_announcement_content_reaches_the_page(built_site: Path):
    for path in (EN_POST, ZH_POST):
        page = parse(built_site / path)
        content = page.css_first("article.post .post-content")
        assert content.css_first("video source").attributes["src"].endswith("qwen-max.mp4"), "raw HTML kept"
        assert len(content.css("figure img")) == 3
        assert [text(a).rstrip("↗") for a in content.css("a.button")] == ["QWEN CHAT", "API", "DEMO", "DISCORD"]
        assert content.css_first(".code-block[data-lang=python] .code-lang") is not None
        assert content.css_first(".code-block .copy-code") is not None
        assert page.css_first("nav.breadcrumbs") is not None, "show_bread_crumbs: true"
        assert page.css_first("nav.post-nav") is None, "show_post_nav_links: false"
        assert "data-pagefind-body" in page.css_first("article.post").attributes


def test_home_lists_the_announcement_unpinned(built_site: Path):
    """Its `weight: 1` is the weight every post has, which pins nothing (func/is-pinned.html)."""
    for path, summary_start in (("index.html", "It is widely held"), ("zh/index.html", "过去有一种观点认为")):
        entries = parse(built_site / path).css("article.post-entry")
        assert entries, path
        first = entries[0]
        assert first.css_first(".entry-title a").attributes["href"].endswith("/blog/qwen2.5-max/")
        assert first.css_first(".pinned-badge") is None
        assert text(first.css_first(".entry-summary")).startswith(summary_start)


def test_section_taxonomy_archives_and_404(built_site: Path):
    section = parse(built_site / "zh/blog/index.html")
    assert text(section.css_first("h1")) == "博客"
    assert section.css_first("article.post-entry .entry-title a").attributes["href"] == "/zh/blog/qwen2.5-max/"
    tags = parse(built_site / "tags/index.html")
    assert text(tags.css_first("h1")) == "All tags"
    assert tags.css_first(".term-list") is None and text(tags.css_first("main p")) == "No tags yet."
    archives = parse(built_site / "zh/archives/index.html")
    year = archives.css_first(".archive-year")
    assert text(year.css_first("h2")).startswith("2025")
    assert year.css_first("a").attributes["href"] == "/zh/blog/qwen2.5-max/"
    assert text(year.css_first("time")) == "2025年1月28日"
    for path, heading in (("404.html", "Page not found"), ("zh/404.html", "页面不存在")):
        page = parse(built_site / path)
        assert text(page.css_first("h1")) == heading
        assert page.css_first('meta[name="robots"]').attributes["content"] == "noindex"


def test_main_menu_comes_from_config(built_site: Path):
    items = parse(built_site / "index.html").css("header nav .menu-item:not(.lang-switch) a")
    hrefs = [a.attributes["href"] for a in items]
    assert "/archives/" in hrefs and "/tags/" in hrefs
    zh_items = parse(built_site / "zh/index.html").css("header nav .menu-item:not(.lang-switch) a")
    assert "/zh/archives/" in [a.attributes["href"] for a in zh_items]
    assert "归档" in [text(a) for a in zh_items]


# ---- accessibility structure (axe in a browser checks the rest) ----

def all_pages(site: Path) -> list[Path]:
    return [p for p in sorted(site.rglob("*.html")) if "pagefind" not in p.parts
            and not parse(p).css_first('meta[http-equiv="refresh"]')]


def test_every_page_has_landmarks_skip_link_and_one_h1(built_site: Path):
    pages = all_pages(built_site)
    assert len(pages) >= 10
    for path in pages:
        page = parse(path)
        where = str(path.relative_to(built_site))
        first_link = page.css_first("body a")
        assert first_link.attributes["href"] == "#main" and "skip-link" in first_link.attributes["class"], where
        assert page.css_first("main#main") is not None, where
        assert page.css_first("body > header") is not None and page.css_first("body > footer") is not None, where
        assert page.css_first("header nav[aria-label]") is not None, where
        assert len(page.css("h1")) == 1, where
        assert page.css_first("html").attributes["lang"] in ("en", "zh-CN"), where


def test_headings_never_skip_a_level(built_site: Path):
    for path in all_pages(built_site):
        levels = [int(h.tag[1]) for h in parse(path).css("h1, h2, h3, h4, h5, h6")]
        for before, after in zip(levels, levels[1:]):
            assert after <= before + 1, f"{path.relative_to(built_site)}: h{before} then h{after}"


def test_focus_is_visible_and_both_schemes_are_styled(built_site: Path):
    href = parse(built_site / "index.html").css_first('link[rel="stylesheet"]').attributes["href"]
    css = (built_site / href.lstrip("/")).read_text().replace(" ", "")
    assert re.search(r":focus-visible\{outline:3pxsolid", css)
    dark = css.split("@media(prefers-color-scheme:dark){", 1)[1]
    assert "--bg:" in dark.split("}", 1)[0] and "--text:" in dark.split("}", 1)[0]


# ---- `invoke build` as a user runs it ----

def copy_with_tooling(dest: Path) -> Path:
    """A project copy that `invoke` can run in: the Hugo parts plus tasks.py and scripts/."""
    copy_project(dest)
    shutil.copy2(ROOT / "tasks.py", dest / "tasks.py")
    shutil.copytree(ROOT / "scripts", dest / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def invoke(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=300)


def tree_differences(left: Path, right: Path) -> list[str]:
    cmp = filecmp.dircmp(left, right)
    found = [str(Path(cmp.left).relative_to(left) / n) for n in cmp.left_only + cmp.right_only]
    _, mismatch, errors = filecmp.cmpfiles(left, right, cmp.common_files, shallow=False)
    found += mismatch + errors
    for sub in cmp.common_dirs:
        found += [f"{sub}/{d}" for d in tree_differences(left / sub, right / sub)]
    return found


def test_two_builds_are_byte_identical(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    first = invoke(project, "build")
    assert first.returncode == 0, first.stderr
    shutil.move(project / "site", tmp_path / "first")
    second = invoke(project, "build")
    assert second.returncode == 0, second.stderr
    assert (project / "site" / EN_POST).is_file()
    assert tree_differences(tmp_path / "first", project / "site") == []


def test_a_build_says_what_it_took_from_the_search_cache(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    first = invoke(project, "build")
    shutil.rmtree(project / "site")  # the cache is beside it, in .cache/search
    second = invoke(project, "build")
    post = project / "content" / "blog" / "qwen2.5-max" / "index.md"
    post.write_text(post.read_text(encoding="utf-8") + "\n\nQuokkapalooza\n", encoding="utf-8")
    third = invoke(project, "build")
    assert [run.returncode for run in (first, second, third)] == [0, 0, 0], first.stderr + second.stderr + third.stderr
    said = [run.stdout.splitlines()[-1] for run in (first, second, third)]
    assert said[0] == "indexed 2 pages for search (en 1, zh-cn 1)"
    assert said[1] == "indexed 2 pages for search (en 1, zh-cn 1); kept: no indexed text changed"
    assert said[2] == "indexed 2 pages for search (en 1, zh-cn 1); 1 of 2 language groups re-indexed"


def test_template_error_shows_hugos_message_and_fails(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    footer = project / "layouts" / "_partials" / "site" / "footer.html"
    footer.write_text(footer.read_text() + "\n{{ .NoSuchMethod }}\n")
    result = invoke(project, "build")
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "ERROR" in output and "_partials/site/footer.html" in output and "NoSuchMethod" in output
    assert "Traceback" not in output


def test_content_error_names_the_file_and_line(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    post = project / "content" / "blog" / "qwen2.5-max" / "index.md"
    lines = post.read_text().splitlines()
    lines.insert(44, '{{< button label="no href" >}}')
    post.write_text("\n".join(lines) + "\n")
    result = invoke(project, "build")
    assert result.returncode == 1
    assert re.search(r"content/blog/qwen2\.5-max/index\.md:45:\d+", result.stderr), result.stderr
    assert "missing href" in result.stderr


def test_missing_hugo_is_one_line(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    result = invoke(project, "build", env={"HUGO": "/nonexistent/hugo"})
    assert result.returncode == 2
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert len(lines) == 1 and "pip install -r requirements.txt" in lines[0], lines


def test_sub_path_base_url_keeps_every_link_under_it(tmp_path: Path):
    project = copy_with_tooling(tmp_path / "project")
    result = invoke(project, "build", "--base-url", "https://example.github.io/qwen-sub/")
    assert result.returncode == 0, result.stderr
    site = project / "site"
    checked = 0
    for path in all_pages(site):
        page = parse(path)
        for node in page.css("a[href], link[href], script[src], img[src]"):
            url = node.attributes.get("href") or node.attributes.get("src")
            if url.startswith("/") and not url.startswith("//"):
                assert url.startswith("/qwen-sub/"), f"{path.relative_to(site)}: {url}"
                checked += 1
    assert checked > 50
    canonical = parse(site / EN_POST).css_first('link[rel="canonical"]').attributes["href"]
    assert canonical == "https://example.github.io/qwen-sub/blog/qwen2.5-max/"


def test_feeds_carry_the_newest_twenty_posts(tmp_path: Path):
    import xml.etree.ElementTree as ET

    from scripts.site.build import build_site

    project = copy_project(tmp_path / "project")
    for day in range(1, 23):
        bundle = project / "content" / "blog" / f"note-{day:02d}"
        bundle.mkdir()
        (bundle / "index.md").write_text(f'---\ntitle: "Note {day}"\ndate: 2024-03-{day:02d}T10:00:00+08:00\n'
                                         f'tags: ["Notes"]\n---\nNote number {day}.\n', encoding="utf-8")
    site = build_site(project, destination=tmp_path / "site", search=False).destination
    newest_first = [f"Note {day}" for day in range(22, 0, -1)]
    announcement = "Qwen2.5-Max: Exploring the Intelligence of Large-scale MoE Model"
    # A feed is its list's first 20 in the list's own order: pinned (weighted) posts first, then newest.
    for feed, expected in (("index.xml", [announcement] + newest_first[:19]),
                           ("blog/index.xml", [announcement] + newest_first[:19]),
                           ("tags/notes/index.xml", newest_first[:20])):
        titles = [item.findtext("title") for item in ET.parse(site / feed).getroot().iter("item")]
        assert titles == expected, feed


def test_hugo_runs_with_its_memory_limited_unless_the_user_set_the_limits(monkeypatch: pytest.MonkeyPatch):
    from scripts.site.hugo import hugo_environment

    for name in ("HUGO_MEMORYLIMIT", "GOMEMLIMIT", "GOGC"):
        monkeypatch.delenv(name, raising=False)
    env = hugo_environment()
    assert (env["HUGO_MEMORYLIMIT"], env["GOMEMLIMIT"]) == ("1", "1700MiB")
    assert "GOGC" not in env, "Go's default collector pacing: GOGC=200 holds more memory than bare Hugo"
    monkeypatch.setenv("HUGO_MEMORYLIMIT", "4")
    monkeypatch.setenv("GOMEMLIMIT", "6GiB")
    monkeypatch.setenv("GOGC", "100")
    env = hugo_environment()
    assert (env["HUGO_MEMORYLIMIT"], env["GOMEMLIMIT"], env["GOGC"]) == ("4", "6GiB", "100")
