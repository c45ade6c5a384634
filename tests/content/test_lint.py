"""`invoke lint`: every rule on small content trees (through `lint_content`, the API `invoke check` and
publish use), and the task itself through the real `invoke` CLI."""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import scripts.content.lint as lint_module
from scripts.content.schema import POST_KEYS
from scripts.content.lint import LintReport, lint_content
from tests.conftest import ROOT

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
GOOD = 'title: "A post"\ndate: 2025-01-28T23:00:04+08:00\n'
FINDING = re.compile(r"(?P<path>[^:]+):(?P<line>\d+): (?P<level>error|warning): (?P<message>.+)")


def write(site: Path, rel: str, text: str) -> Path:
    path = site / "content" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def post(site: Path, rel: str, front_matter: str = GOOD, body: str = "Text.\n") -> Path:
    return write(site, rel, f"---\n{front_matter}---\n\n{body}")


def lint(site: Path, **kwargs) -> LintReport:
    return lint_content(site / "content", now=kwargs.pop("now", NOW), **kwargs)


def found(report: LintReport) -> list[tuple[str, int, str, str]]:
    return [(f.path, f.line, f.level, f.message) for f in report.findings]


def only(report: LintReport) -> tuple[str, int, str, str]:
    assert len(report.findings) == 1, report.render()
    return found(report)[0]


# --- the real content -------------------------------------------------------------------------------

def test_the_real_content_lints_clean_even_when_strict():
    report = lint_content(ROOT / "content", strict=True)
    assert report.findings == [] and report.ok, report.render()


def invoke_lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "lint", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_invoke_lint_on_the_project_exits_0_even_when_strict():
    for args in ((), ("--strict",)):
        proc = invoke_lint(ROOT, *args)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert re.fullmatch(r"\d+ pages checked: 0 errors, 0 warnings", proc.stdout.strip()), proc.stdout
        assert proc.stderr == ""


def test_invoke_lint_exit_codes_and_sorted_output(tmp_path: Path):
    project = tmp_path / "project"
    (project / "content").mkdir(parents=True)
    for part in ("hugo.yaml", "tasks.py"):
        shutil.copy2(ROOT / part, project / part)
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    post(project, "blog/b/index.md", GOOD + "draft: true\n")
    post(project, "blog/a/index.md", GOOD, "```\ncode\n```\n")
    proc = invoke_lint(project)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # warnings alone
    lines = proc.stdout.strip().splitlines()
    assert lines[:-1] == [
        "content/blog/a/index.md:6: warning: code fence without a language (write ```python, ```text, …): "
        "it gets no highlighting or label",
        "content/blog/b/index.md:4: warning: draft: true, so the page is left out of the published site",
    ]
    assert lines[-1] == "2 pages checked: 0 errors, 2 warnings in 2 files"
    assert invoke_lint(project, "--strict").returncode == 1

    post(project, "blog/c/index.md", GOOD + "show_readingtime: true\n")
    proc = invoke_lint(project)
    assert proc.returncode == 1
    assert 'content/blog/c/index.md:4: error: unknown key "show_readingtime" (did you mean "show_reading_time"?)' \
        in proc.stdout.splitlines()
    assert proc.stdout.strip().splitlines()[-1] == "3 pages checked: 1 error, 2 warnings in 3 files"
    assert proc.stderr == ""


# --- syntax errors ----------------------------------------------------------------------------------

def test_yaml_syntax_error_names_the_file_line(site: Path):
    post(site, "blog/p/index.md", 'title: "A post"\ndate: 2025-01-28\ntags: [a, b\nmath: true\n')
    path, line, level, message = only(lint(site))
    assert (path, level) == ("content/blog/p/index.md", "error")
    assert message.startswith("invalid YAML")
    assert line in (4, 5)  # libyaml notices the unclosed list at the next key


def test_yaml_error_line_counts_from_the_top_of_the_file(site: Path):
    # Blank lines before the front matter shift every line; the message must still point at the bad one.
    write(site, "blog/p/index.md", '\n\n---\ntitle: "ok"\ndate: 2025-01-28\nbad: "unterminated\n---\n')
    assert only(lint(site))[1] == 6


def test_toml_syntax_error_names_the_file_line(site: Path):
    write(site, "blog/p/index.md", '+++\ntitle = "A post"\ndate = 2025-01-28\nweight = \n+++\nText\n')
    path, line, level, message = only(lint(site))
    assert (line, level) == (4, "error") and message.startswith("invalid TOML")


def test_toml_front_matter_is_checked_like_yaml(site: Path):
    write(site, "blog/p/index.md", '+++\ntitle = "A post"\ndate = 2025-01-28T23:00:04+08:00\nmath = "yes"\n'
                                   '[cover]\nimgae = "a.png"\n+++\nText\n')
    assert found(lint(site)) == [
        ("content/blog/p/index.md", 4, "error", '"math" must be true or false, not the string "yes"'),
        ("content/blog/p/index.md", 6, "error", 'unknown key in "cover" "imgae" (did you mean "image"?)'),
    ]


def test_unclosed_front_matter_is_an_error(site: Path):
    write(site, "blog/p/index.md", "---\ntitle: x\ndate: 2025-01-28\n\nText\n")
    assert only(lint(site))[1:3] == (1, "error")


def test_duplicate_keys_are_errors(site: Path):
    post(site, "blog/p/index.md", GOOD + 'title: "again"\n')
    assert only(lint(site)) == ("content/blog/p/index.md", 4, "error",
                                'key "title" is set twice (Hugo rejects the file)')


def test_unreadable_files_are_errors_not_crashes(site: Path):
    (site / "content" / "blog" / "gone").mkdir(parents=True)
    (site / "content" / "blog" / "gone" / "index.md").symlink_to(site / "nowhere.md")
    write(site, "blog/latin1/index.md", "")
    (site / "content" / "blog" / "latin1" / "index.md").write_bytes(b'---\ntitle: "caf\xe9"\n---\n')
    assert [(f.path, f.line, f.level, f.message.split(" (")[0]) for f in lint(site).findings] == [
        ("content/blog/gone/index.md", 1, "error", "cannot read: No such file or directory"),
        ("content/blog/latin1/index.md", 1, "error", "not UTF-8 text"),
    ]


# --- keys and types ---------------------------------------------------------------------------------

@pytest.mark.parametrize("line, message", [
    ("show_readingtime: true", 'unknown key "show_readingtime" (did you mean "show_reading_time"?)'),
    ("hide_sumary: true", 'unknown key "hide_sumary" (did you mean "hide_summary"?)'),
    ("xyzzy: 1", 'unknown key "xyzzy"'),
    ('math: "yes"', '"math" must be true or false, not the string "yes"'),
    # Hugo reads YAML 1.2: these are strings there (and truthy), not YAML 1.1 booleans.
    ("math: yes", '"math" must be true or false, not the string "yes"'),
    ("show_toc: off", '"show_toc" must be true or false, not the string "off"'),
    ("weight: high", '"weight" must be an integer, not the string "high"'),
    ("weight: 1.5", '"weight" must be an integer, not the number 1.5'),
    ("tags: Research", '"tags" must be a list of strings, not the string "Research"'),
    ("aliases: [1, 2]", '"aliases" must be a list of strings, not a list with non-string items'),
    ("description: [a]", '"description" must be a string, not a list'),
    ('cover: "a.png"', '"cover" must be a mapping of keys to values, not the string "a.png"'),
    ("draft: 1", '"draft" must be true or false, not the number 1'),
])
def test_unknown_keys_and_wrong_types(site: Path, line: str, message: str):
    post(site, "blog/p/index.md", GOOD + line + "\n")
    assert only(lint(site)) == ("content/blog/p/index.md", 4, "error", message)


@pytest.mark.parametrize("date", ["tomorrow", "2025-13-45", '"28/01/2025"', "2025-01-28T25:00:00+08:00"])
def test_a_date_that_is_not_a_date(site: Path, date: str):
    post(site, "blog/p/index.md", f'title: "A post"\ndate: {date}\n')
    path, line, level, message = only(lint(site))
    assert (line, level) == (3, "error") and message.startswith('"date" must be a date (ISO 8601')


def test_nested_cover_and_header_keys_are_checked(site: Path):
    post(site, "blog/p/index.md", GOOD + 'cover:\n  image: "a.png"\n  captoin: "x"\n  relative: "yes"\n'
                                         'header:\n  blur: true\n  gradiant: false\n')
    assert found(lint(site)) == [
        ("content/blog/p/index.md", 6, "error", 'unknown key in "cover" "captoin" (did you mean "caption"?)'),
        ("content/blog/p/index.md", 7, "error", '"cover.relative" must be true or false, not the string "yes"'),
        ("content/blog/p/index.md", 10, "error", 'unknown key in "header" "gradiant" (did you mean "gradient"?)'),
    ]


def test_every_key_of_the_announcement_and_the_schema_is_known(site: Path):
    commented = "\n".join(f"{key.name}: " + {"string": '"x"', "int": "3", "bool": "true", "date": "2025-01-01",
                                             "string-list": '["x"]', "map": "{}"}[key.type]
                          for key in POST_KEYS if key.name not in ("title", "date", "draft"))
    post(site, "blog/p/index.md", GOOD + commented + "\nTitle_Case_Is_Unknown: 1\nlinkTitle: x\n")
    assert [f.message for f in lint(site).findings] == ['unknown key "Title_Case_Is_Unknown"']


def test_hugos_own_front_matter_keys_are_accepted(site: Path):
    """Every field of Hugo's front-matter page (0.168), the date aliases of its default settings, and the
    old theme's `summary` and `lastmod`."""
    post(site, "blog/p/index.md", GOOD + "\n".join([
        "aliases: [/old/]", "build: {list: always}", "cascade: {show_toc: false}", "description: d",
        "expiryDate: 2030-01-01", "headless: false", "isCJKLanguage: false", "keywords: [a, b]",
        "lastmod: 2025-02-01", "layout: single", "linkTitle: P", "markup: markdown", "menus: main",
        "outputs: [html]", "params: {x: 1}", "publishDate: 2025-01-28", "resources: []", "sitemap: {disable: false}",
        "slug: p", "summary: s", "translationKey: p", "type: blog", "url: /p/", "weight: 2", "pubdate: 2025-01-28",
        "modified: 2025-02-01", "unpublishdate: 2030-01-01", "menu: main", "published: true",
    ]) + "\n")
    assert lint(site).findings == []


def test_lang_has_no_effect_and_says_so(site: Path):
    post(site, "blog/p/index.zh.md", GOOD + "lang: zh-CN\n")
    assert only(lint(site)) == ("content/blog/p/index.zh.md", 4, "warning", '"lang" has no effect: Hugo ignores it '
                                "and takes a page's language from its file name (this page is \"zh\"); remove it")


@pytest.mark.parametrize("front_matter, missing", [
    ('date: 2025-01-28\n', "title"),
    ('title: ""\ndate: 2025-01-28\n', "title"),
    ('title: "A post"\n', "date"),
])
def test_missing_title_or_date(site: Path, front_matter: str, missing: str):
    post(site, "blog/p/index.md", front_matter)
    assert only(lint(site)) == ("content/blog/p/index.md", 1, "error", f'missing "{missing}"')


def test_pages_without_front_matter_miss_both(site: Path):
    write(site, "blog/p/index.md", "Just text.\n")
    assert [f.message for f in lint(site).findings] == ['missing "date"', 'missing "title"']


def test_list_and_top_level_pages_need_no_date(site: Path):
    post(site, "blog/_index.md", 'title: "Blog"\n')
    post(site, "search.md", 'title: "Search"\nlayout: search\n')
    post(site, "search.zh.md", 'title: "搜索"\nlayout: search\n')
    report = lint(site)
    assert report.findings == [] and report.pages == 3


def test_page_resources_in_a_bundle_are_not_pages(site: Path):
    post(site, "blog/p/index.md")
    write(site, "blog/p/snippet.md", "no front matter at all\n")
    write(site, "blog/p/data/more.md", "---\nnonsense: [\n---\n")
    report = lint(site)
    assert report.findings == [] and report.pages == 1


# --- warnings ---------------------------------------------------------------------------------------

def test_future_dates_warn_in_the_sites_timezone(site: Path):
    now = dt.datetime(2029, 12, 31, 16, 30, tzinfo=dt.timezone.utc)  # 2030-01-01 00:30 in Shanghai
    post(site, "blog/past/index.md", 'title: "t"\ndate: 2030-01-01T00:00:00\n')  # Shanghai midnight: past
    post(site, "blog/future/index.md", 'title: "t"\ndate: 2030-01-01T01:00:00+08:00\n')
    post(site, "blog/future-publish/index.md", 'title: "t"\ndate: 2020-01-01\npublishDate: 2031-01-01\n')
    assert found(lint(site, now=now)) == [
        ("content/blog/future-publish/index.md", 4, "warning",
         "publishDate 2031-01-01T00:00:00+08:00 is in the future: Hugo leaves the page out until then "
         "(invoke build --future shows it)"),
        ("content/blog/future/index.md", 3, "warning",
         "date 2030-01-01T01:00:00+08:00 is in the future: Hugo leaves the page out until then "
         "(invoke build --future shows it)"),
    ]


def test_an_expired_page_warns(site: Path):
    post(site, "blog/old/index.md", GOOD + "expiryDate: 2026-06-01T20:00:00+08:00\n")  # NOW is 20:00 there
    post(site, "blog/new/index.md", GOOD + "expiryDate: 2026-06-01T20:00:01+08:00\n")
    assert only(lint(site)) == ("content/blog/old/index.md", 4, "warning",
                                "expiryDate 2026-06-01T20:00:00+08:00 has passed: Hugo leaves the page out")


def test_future_dates_against_the_real_clock(site: Path):
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat(timespec="seconds")
    post(site, "blog/p/index.md", f'title: "t"\ndate: {tomorrow}\n')
    assert "in the future" in only(lint_content(site / "content"))[3]


def test_drafts_warn_and_strict_makes_warnings_errors(site: Path):
    post(site, "blog/p/index.md", GOOD + "draft: true\n")
    report = lint(site)
    assert report.ok and only(report)[1:3] == (4, "warning")
    strict = lint(site, strict=True)
    assert not strict.ok and only(strict)[1:3] == (4, "error")


def test_translations_must_share_date_and_weight(site: Path):
    post(site, "blog/same/index.md", GOOD + "weight: 2\n")
    post(site, "blog/same/index.zh.md", GOOD + "weight: 2\n")
    post(site, "blog/moved/index.md", GOOD + "weight: 1\n")
    post(site, "blog/moved/index.zh.md", 'title: "t"\ndate: 2025-01-29T00:00:00+08:00\nweight: 3\n')
    post(site, "blog/offset/index.md", GOOD)
    post(site, "blog/offset/index.zh.md", 'title: "t"\ndate: 2025-01-28T15:00:04Z\n')  # the same instant
    post(site, "single.md", 'title: "t"\n')
    post(site, "single.zh.md", 'title: "t"\nweight: 5\n')
    assert found(lint(site)) == [
        ("content/blog/moved/index.zh.md", 3, "warning",
         "date 2025-01-29T00:00:00+08:00 differs from 2025-01-28T23:00:04+08:00 in the en version "
         "content/blog/moved/index.md"),
        ("content/blog/moved/index.zh.md", 4, "warning",
         "weight 3 differs from 1 in the en version content/blog/moved/index.md"),
        ("content/single.zh.md", 3, "warning", "weight 5 differs from 0 in the en version content/single.md"),
    ]


def test_code_fences_without_a_language(site: Path):
    body = "\n".join([
        "```python", "print(1)", "```",  # lines 6-8 (the body starts on line 6): fine
        "", "```", "bare", "```",  # line 10: warn
        "", "~~~", "tilde", "~~~",  # line 14: warn
        "", "    ```", "    indented code, not a fence", "",
        "````markdown", "```", "inside a longer fence", "```", "````",  # fine
        "", "``` text", "fine", "```",
        "", "- item", "", "  ```", "  in a list", "  ```",  # line 33: warn
        "",
    ])
    post(site, "blog/p/index.md", body=body)
    assert [(f.line, f.level) for f in lint(site).findings] == [(10, "warning"), (14, "warning"), (33, "warning")]


def test_the_fast_fence_scan_gives_the_bare_fences_lines_or_leaves_the_body_to_markdown_it():
    # scripts/content/fences.py is held to markdown-it in tests/test_markdown_fences.py.
    assert lint_module.flat_bare_fences("text\n```\ncode\n```\n\n```python\nx\n```\n    ```\n") == [1]
    for not_flat in ("- item\n\n  ```", "> ```", "<div>\n```\n</div>", "1. x\n```", "\t```"):
        assert lint_module.flat_bare_fences(not_flat) is None


# --- the report -------------------------------------------------------------------------------------

def test_findings_are_sorted_by_file_then_line_and_render_with_a_summary(site: Path):
    post(site, "blog/b/index.md", GOOD + "weight: x\n" + "draft: true\n", body="```\nx\n```\n" * 6)
    post(site, "blog/a/index.md", 'title: "t"\n')
    report = lint(site)
    lines = report.render().splitlines()
    keys = [(m["path"], int(m["line"])) for m in map(FINDING.fullmatch, lines[:-1])]
    assert keys == sorted(keys) and keys[0][0] == "content/blog/a/index.md"
    assert [k[1] for k in keys if k[0].endswith("b/index.md")][:4] == [4, 5, 8, 11]  # 11 after 8, not after 1
    assert lines[-1] == "2 pages checked: 2 errors, 7 warnings in 2 files"
    assert not report.ok and report.errors == 2 and report.warnings == 7


def test_many_pages_are_checked_by_workers_with_the_same_result(site: Path, monkeypatch: pytest.MonkeyPatch):
    for i in range(40):
        post(site, f"blog/p{i}/index.md", GOOD + ("weight: x\n" if i % 7 == 0 else ""),
             body=f"Page {i}\n\n```\nbare\n```\n" if i % 5 == 0 else "text\n")
        post(site, f"blog/p{i}/index.zh.md", GOOD if i % 3 else 'title: "t"\ndate: 2025-02-01\n')
    serial = lint(site)
    monkeypatch.setattr(lint_module, "PARALLEL_FROM", 10)  # the threshold, not the work, is what changes
    parallel = lint(site)
    assert parallel.findings == serial.findings and parallel.pages == serial.pages == 80
    assert serial.errors == 6 and serial.warnings == 8 + 14
    if (os.cpu_count() or 1) < 2 or threading.active_count() > 1:
        pytest.skip("workers are used only on several cores, in a process without other threads")
    assert serial.workers == 1 and parallel.workers >= 2


def test_a_missing_content_folder_is_a_usage_error(tmp_path: Path):
    from scripts.errors import UsageError

    with pytest.raises(UsageError):
        lint_content(tmp_path / "nope")
