"""`invoke new-post`, run as a user runs it: the real `invoke` CLI in a copy of the project (with its own
tasks.py and scripts/), rendering archetypes/blog.md through the real `hugo new content`."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from scripts.content.frontmatter import read_front_matter
from scripts.site.hugo import hugo_binary
from scripts.content.scaffold import MAX_SLUG_LENGTH, SLUG_PATTERN, check_slug, slugify
from scripts.errors import UsageError
from tests.conftest import ROOT, copy_project

ANNOUNCEMENT = ROOT / "content" / "blog" / "qwen2.5-max" / "index.zh.md"
SHANGHAI = dt.timezone(dt.timedelta(hours=8))  # hugo.yaml: timeZone: Asia/Shanghai (no DST)
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project with its own tasks.py and scripts/, so `invoke` inside it works on it (copied once)."""
    root = copy_project(tmp_path_factory.mktemp("pristine") / "project")
    shutil.copy2(ROOT / "tasks.py", root / "tasks.py")
    shutil.copytree(ROOT / "scripts", root / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture
def site(pristine: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(pristine, root)
    return root


def new_post(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "new-post", *args], cwd=root, capture_output=True,
                          text=True, timeout=120)


def created(root: Path, proc: subprocess.CompletedProcess) -> Path:
    assert proc.returncode == 0, proc.stderr
    printed = proc.stdout.strip()
    assert len(printed.splitlines()) == 1
    path = root / printed
    assert path.is_file()
    return path


def front_matter_lines(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "---"
    return lines[1:lines.index("---", 1)]


def content_snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "content").rglob("*")) if p.is_file()}


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    message = proc.stderr.strip()
    assert "Traceback" not in proc.stderr + proc.stdout
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error: ")
    for needle in needles:
        assert needle in message, message
    return message


def hugo_titles(root: Path) -> dict[str, str]:
    """What Hugo itself reads: `hugo list all` is Hugo parsing every page's front matter."""
    out = subprocess.run([str(hugo_binary()), "list", "all", "--source", str(root)], capture_output=True,
                         text=True, check=True).stdout
    return {row["path"]: row["title"] for row in csv.DictReader(io.StringIO(out))}


# --- the archetype ----------------------------------------------------------------------------------

def test_new_post_reproduces_the_announcements_front_matter(site: Path):
    before = dt.datetime.now(SHANGHAI).replace(microsecond=0)
    path = created(site, new_post(site, "--title", "Scaling Reinforcement Learning"))
    after = dt.datetime.now(SHANGHAI)
    assert path == site / "content" / "blog" / "scaling-reinforcement-learning" / "index.md"

    ours, theirs = front_matter_lines(path), front_matter_lines(ANNOUNCEMENT)
    assert ours[0] == 'title: "Scaling Reinforcement Learning"'
    assert ISO_WITH_OFFSET.fullmatch(ours[1].removeprefix("date: ")), ours[1]
    # Every other line, comments and commented-out options included, is the announcement's.
    assert ours[2:] == theirs[2:]
    assert "math: true" in ours and "# draft: true" in ours and "# tags: [\"Research\"]" in ours

    data = yaml.safe_load("\n".join(ours))
    assert list(data) == list(yaml.safe_load("\n".join(theirs)))
    assert before <= data["date"] <= after
    assert data["date"].utcoffset() == dt.timedelta(hours=8)
    assert data["math"] is True and data["show_post_nav_links"] is False


def test_draft_and_tags_fill_the_commented_lines_in_place(site: Path):
    path = created(site, new_post(site, "--title", "Tagged", "--draft", "--tags", "Research, LLM ,Research,"))
    ours, theirs = front_matter_lines(path), front_matter_lines(ANNOUNCEMENT)
    assert ours[theirs.index('# tags: ["Research"]')] == 'tags: ["Research", "LLM"]'
    assert ours[theirs.index("# draft: true")] == "draft: true"
    data = yaml.safe_load("\n".join(ours))
    assert data["draft"] is True and data["tags"] == ["Research", "LLM"]


@pytest.mark.parametrize("title", [
    'He said "hi" \\o/ -- 100% <b>&amp;</b>',
    "key: value # not a comment",
    "'single' and {{ .Title }} and \\n",
    "Qwen2.5-Max：探索大规模 MoE 模型的智能",
])
def test_titles_are_escaped_so_yaml_and_hugo_read_them_back_exactly(site: Path, title: str):
    path = created(site, new_post(site, "--title", title, "--slug", "escaping"))
    assert read_front_matter(path).data["title"] == title
    assert yaml.safe_load("\n".join(front_matter_lines(path)))["title"] == title
    assert hugo_titles(site)[path.relative_to(site).as_posix()] == title


def test_the_title_line_is_double_quoted_with_backslash_escapes(site: Path):
    path = created(site, new_post(site, "--title", 'Say "hi" to C:\\ & <Qwen>'))
    assert front_matter_lines(path)[0] == 'title: "Say \\"hi\\" to C:\\\\ & <Qwen>"'


def test_the_post_builds_and_shows_its_title(site: Path):
    from scripts.site.hugo import BuildOptions, build

    created(site, new_post(site, "--title", "A <Built> Post", "--date", "2025-02-01T10:00:00+08:00"))
    out = site / "public"
    build(BuildOptions(source=site, destination=out))
    from tests.conftest import parse

    page = parse(out / "blog" / "a-built-post" / "index.html")
    assert page.css_first("h1").text(strip=True) == "A <Built> Post"


def test_plain_hugo_new_content_still_works_without_invoke(site: Path):
    """The archetype keeps Hugo's conventions: without our variables, title from the folder, Hugo's date."""
    subprocess.run([str(hugo_binary()), "new", "content", "--kind", "blog", "--source", str(site),
                    "blog/plain-hugo/index.md"], check=True, capture_output=True)
    data = read_front_matter(site / "content" / "blog" / "plain-hugo" / "index.md").data
    assert data["title"] == "Plain Hugo" and isinstance(data["date"], dt.datetime) and "draft" not in data


# --- dates ------------------------------------------------------------------------------------------

def build(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "build", "--no-search", *args], cwd=root,
                          capture_output=True, text=True, timeout=300)


def test_dates_at_the_edges_are_written_with_whole_minute_offsets_and_build(site: Path):
    # Asia/Shanghai kept local mean time (+08:05:43) until 1901: Hugo cannot read that offset.
    old = created(site, new_post(site, "--title", "Old", "--date", "1900-06-01"))
    first = created(site, new_post(site, "--title", "First", "--date", "0001-01-01T00:00:00Z"))
    last = created(site, new_post(site, "--title", "Last", "--date", "9999-12-31T23:59:59+14:00"))
    assert front_matter_lines(old)[1] == "date: 1900-06-01T00:00:00+08:00"
    assert front_matter_lines(first)[1] == "date: 0001-01-01T08:00:00+08:00"
    assert front_matter_lines(last)[1] == "date: 9999-12-31T17:59:59+08:00"
    later = created(site, new_post(site, "--title", "Later"))  # Hugo still loads the site
    proc = build(site, "--future")
    assert proc.returncode == 0, proc.stderr
    for path in (old, first, last, later):
        assert (site / "site" / "blog" / path.parent.name / "index.html").is_file()


@pytest.mark.parametrize("given, written", [
    ("2025-03-01", "2025-03-01T00:00:00+08:00"),
    ("2025-03-01T09:30", "2025-03-01T09:30:00+08:00"),
    ("2025-03-01T01:00:00Z", "2025-03-01T09:00:00+08:00"),
    ("2025-03-01T00:00:00-05:00", "2025-03-01T13:00:00+08:00"),
])
def test_date_is_written_with_the_sites_timezone_offset(site: Path, given: str, written: str):
    path = created(site, new_post(site, "--title", "Dated", "--date", given))
    assert front_matter_lines(path)[1] == f"date: {written}"


# --- slugs and languages ----------------------------------------------------------------------------

@pytest.mark.parametrize("title, slug", [
    ("Qwen2.5-Max: Exploring the Intelligence of Large-scale MoE Model",
     "qwen2.5-max-exploring-the-intelligence-of-large-scale-moe-model"),
    ("通义千问", "tong-yi-qian-wen"),
    ("Qwen2.5-Max：探索大规模 MoE 模型的智能", "qwen2.5-max-tan-suo-da-gui-mo-moe-mo-xing-de-zhi-neng"),
    ("Héllo, Wörld... ß", "hello-world-ss"),
    ("Launch 🚀 day", "launch-day"),
    ("ＱＷＥＮ　３", "qwen-3"),
    ("v1.0 -> v2.0?", "v1.0-v2.0"),
    ("Привет мир", "privet-mir"),
    ("Щука и ёж: Съешь", "shchuka-i-ezh-sesh"),
    ("Київ і Ґрунт", "kiiv-i-grunt"),
])
def test_slugify_gives_readable_lowercase_ascii(title: str, slug: str):
    assert slugify(title) == slug
    assert SLUG_PATTERN.fullmatch(slug) and ".." not in slug


def test_long_titles_give_a_slug_cut_at_a_word():
    title = " ".join(["reinforcement"] * 14)  # 195 characters
    slug = slugify(title)
    assert len(slug) <= MAX_SLUG_LENGTH and slug.endswith("reinforcement") and "--" not in slug


@pytest.mark.parametrize("slug", ["a..b", "-dash", ".hidden", "a_b", "a b", "A", "ü", "a" * (MAX_SLUG_LENGTH + 1)])
def test_given_slugs_must_match_the_pattern(slug: str):
    with pytest.raises(UsageError, match="--slug"):
        check_slug(slug)


@pytest.mark.parametrize("slug", ["qwen2.5-max", "0", "a-b.c", "a" * MAX_SLUG_LENGTH])
def test_good_slugs_pass(slug: str):
    assert check_slug(slug) == slug


@pytest.mark.parametrize("title, word", [("こんにちは", "こんにちは"), ("Qwen と 世界", "と"), ("Ελληνικά 2", "Ελληνικά")])
def test_titles_without_an_ascii_spelling_name_the_word_and_ask_for_a_slug(title: str, word: str):
    with pytest.raises(UsageError) as err:
        slugify(title)
    assert str(err.value) == (f"cannot make an ASCII slug of {word!r} in the title: pass --slug, like --slug my-post "
                              "(lower-case letters, digits, hyphens)")


def test_a_cyrillic_title_gets_a_transliterated_slug(site: Path):
    path = created(site, new_post(site, "--title", "Привет"))
    assert path == site / "content" / "blog" / "privet" / "index.md"
    assert read_front_matter(path).data["title"] == "Привет"


def test_chinese_post_gets_a_pinyin_bundle_and_index_zh(site: Path):
    path = created(site, new_post(site, "--title", "通义千问的新模型", "--lang", "zh"))
    assert path.relative_to(site).as_posix() == "content/blog/tong-yi-qian-wen-de-xin-mo-xing/index.zh.md"
    assert path.relative_to(site).as_posix().isascii()


def test_a_translation_goes_beside_its_original_and_shares_its_date(site: Path):
    original = created(site, new_post(site, "--title", "开源模型", "--lang", "zh", "--slug", "open-models",
                                      "--date", "2025-01-28T23:00:04+08:00"))
    translation = created(site, new_post(site, "--title", "Open Models", "--slug", "open-models"))
    assert translation == original.with_name("index.md")
    assert front_matter_lines(translation)[1] == "date: 2025-01-28T23:00:04+08:00"

    from scripts.content.lint import lint_content

    report = lint_content(site / "content", now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert not [f for f in report.findings if "open-models" in f.path], report.render()


def test_a_translation_of_a_single_file_page_goes_beside_it(site: Path):
    page = site / "content" / "blog" / "notes.md"
    page.write_text('---\ntitle: "Notes"\ndate: 2025-01-01T00:00:00+08:00\n---\n', encoding="utf-8")
    path = created(site, new_post(site, "--title", "笔记", "--lang", "zh", "--slug", "notes"))
    assert path == site / "content" / "blog" / "notes.zh.md"
    data = read_front_matter(path).data
    assert data["date"] == dt.datetime(2025, 1, 1, tzinfo=SHANGHAI) and data["weight"] == 0

    from scripts.content.lint import lint_content

    report = lint_content(site / "content", now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert not [f for f in report.findings if "notes" in f.path], report.render()


# --- never overwrite --------------------------------------------------------------------------------

def test_an_existing_post_is_never_overwritten(site: Path):
    before = content_snapshot(site)
    proc = new_post(site, "--title", "Qwen2.5-Max：探索大规模 MoE 模型的智能", "--lang", "zh", "--slug", "qwen2.5-max")
    assert_one_line_error(proc, 1, "content/blog/qwen2.5-max/index.zh.md", "already exists")
    proc = new_post(site, "--title", "Another", "--slug", "qwen2.5-max")
    assert_one_line_error(proc, 1, "content/blog/qwen2.5-max/index.md", "already exists")
    assert content_snapshot(site) == before


def test_running_new_post_twice_keeps_the_first_file(site: Path):
    path = created(site, new_post(site, "--title", "Twice", "--tags", "First"))
    first = path.read_bytes()
    assert_one_line_error(new_post(site, "--title", "Twice", "--tags", "Second"), 1, "already exists")
    assert path.read_bytes() == first


RACERS = 4  # runs of new-post started together for one title
RACES = 2


def test_runs_racing_for_one_post_leave_the_winners_file(site: Path):
    for race in range(RACES):
        title = f"Race {race}"
        runs = [subprocess.Popen([sys.executable, "-m", "invoke", "new-post", "--title", title, "--tags", str(n)],
                                 cwd=site, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                for n in range(RACERS)]
        try:
            outcomes = [(run.wait(timeout=180), *run.communicate()) for run in runs]
        finally:
            for run in runs:
                if run.poll() is None:
                    run.kill()
                    run.communicate()
        winners = [(n, out) for n, (code, out, _) in enumerate(outcomes) if code == 0]
        assert len(winners) == 1, outcomes
        for code, out, err in outcomes:
            if code != 0:
                assert code == 1 and "Traceback" not in err, (code, err)
                assert len(err.strip().splitlines()) == 1 and "already exists" in err, err
        winner, printed = winners[0]
        path = site / printed.strip()
        assert [p.name for p in path.parent.iterdir()] == ["index.md"]
        data = read_front_matter(path).data
        assert data["title"] == title and data["tags"] == [str(winner)]  # the winner's file, whole


def test_a_symlinked_folder_is_named_as_such(site: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "bundle").mkdir(parents=True)
    (site / "content" / "blog" / "linked").symlink_to(elsewhere / "bundle")
    (site / "content" / "notes").symlink_to(elsewhere)
    before = content_snapshot(site)
    assert_one_line_error(new_post(site, "--title", "Linked"), 2, "content/blog/linked is a symlink")
    assert_one_line_error(new_post(site, "--title", "Note", "--section", "notes"), 2, "content/notes is a symlink")
    assert content_snapshot(site) == before
    assert [p.name for p in elsewhere.rglob("*")] == ["bundle"]


@pytest.fixture
def full_section(site: Path) -> Iterator[Path]:
    """content/news on a 64 KB tmpfs that is full (as root, where mounting works; skipped elsewhere)."""
    news = site / "content" / "news"
    news.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(news)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a small tmpfs")
    try:
        filler = os.open(news / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError:
            pass  # full
        finally:
            os.close(filler)
        yield news
    finally:
        subprocess.run(["umount", str(news)], check=True)


def test_a_full_disk_is_named_as_such(site: Path, full_section: Path):
    proc = new_post(site, "--title", "Full", "--section", "news")
    assert_one_line_error(proc, 2, "cannot write content/news/full/index.md: no space left on device")
    assert [p.name for p in full_section.iterdir()] == ["filler"]


# --- bad input: one line, no traceback, the right exit code, nothing written -------------------------

@pytest.mark.parametrize("args, needle", [
    ([], "--title"),
    (["--title", ""], "--title"),
    (["--title", "   "], "--title"),
    (["--title", "?!… —— ！"], "no letters or digits"),
    (["--title", "🚀🎉✨"], "no letters or digits"),
    (["--title", "x" * 500], "500 characters"),
    (["--title", "two\nlines"], "one line"),
    (["--title", "tab\tseparated"], "one line"),
    (["--title", "line\u2028separator"], "one line"),
    (["--title", "ok", "--tags", "a,b\x07"], "--tags"),
    (["--title", "こんにちは"], "cannot make an ASCII slug of 'こんにちは' in the title: pass --slug"),
    (["--title", "ok", "--slug=-rf"], "--slug"),
    (["--title", "ok", "--section=--force"], "--section"),
    (["--title", "ok", "--date", "9999-12-31T23:59:59-23:59"], "UTC offset -23:59; offsets go from -14:00 to +14:00"),
    (["--title", "ok", "--date", "2025-01-01T00:00:00+14:30"], "UTC offset +14:30"),
    (["--title", "ok", "--date", "9999-12-31T23:59:59-14:00"], "outside the years 1 to 9999"),
    (["--title", "ok", "--date", "0001-01-01T00:00:00+14:00"], "outside the years 1 to 9999"),
    (["--title", "ok", "--date", "10000-01-01"], "--date"),
    (["--title", "ok", "--slug", "Has Caps"], "--slug"),
    (["--title", "ok", "--slug", "../escape"], "--slug"),
    (["--title", "ok", "--slug", "a/b"], "--slug"),
    (["--title", "ok", "--slug", "🚀"], "--slug"),
    (["--title", "ok", "--lang", "fr"], "--lang"),
    (["--title", "ok", "--section", "../x"], "--section"),
    (["--title", "ok", "--date", "tomorrow"], "--date"),
    (["--title", "ok", "--tags", " , ,"], "--tags"),
])
def test_bad_input_is_a_one_line_usage_error(site: Path, args: list[str], needle: str):
    before = content_snapshot(site)
    assert_one_line_error(new_post(site, *args), 2, needle)
    assert content_snapshot(site) == before


def test_a_file_where_the_section_folder_should_be_is_a_one_line_error(site: Path):
    (site / "content" / "news").write_text("not a folder\n", encoding="utf-8")
    before = content_snapshot(site)
    assert_one_line_error(new_post(site, "--title", "News", "--section", "news"), 2, "content/news is a file")
    assert content_snapshot(site) == before


@pytest.mark.parametrize("breakage, needle", [
    (("title: {{ jsonify $json $title }}", "title: {{ jsonify $json $title "), "archetypes/blog.md:"),
    (("weight: {{", "weight: {{ .NoSuchField.Value }}{{"), "archetypes/blog.md:"),
    (("math: true", "math: [unclosed"), "archetypes/blog.md"),
])
def test_a_broken_archetype_is_a_one_line_error_and_leaves_nothing_behind(site: Path, breakage, needle):
    archetype = site / "archetypes" / "blog.md"
    text = archetype.read_text(encoding="utf-8")
    assert breakage[0] in text
    archetype.write_text(text.replace(breakage[0], breakage[1], 1), encoding="utf-8")
    before = content_snapshot(site)
    assert_one_line_error(new_post(site, "--title", "Broken"), 2, needle, "archetype")
    assert content_snapshot(site) == before
    assert not (site / "content" / "blog" / "broken").exists()


def test_a_site_hugo_cannot_load_is_a_one_line_error_and_leaves_nothing_behind(site: Path):
    (site / "content" / "blog" / "bad.md").write_text("---\ntitle: [\n---\n", encoding="utf-8")
    before = content_snapshot(site)
    assert_one_line_error(new_post(site, "--title", "Fine"), 2, "hugo new content failed", "bad.md")
    assert content_snapshot(site) == before
    assert not (site / "content" / "blog" / "fine").exists()


def test_a_title_that_is_not_utf8_is_a_one_line_error(site: Path):
    before = content_snapshot(site)
    proc = subprocess.run([sys.executable.encode(), b"-m", b"invoke", b"new-post", b"--title", b"caf\xe9"],
                          cwd=site, capture_output=True, text=True, timeout=120)
    assert_one_line_error(proc, 2, "--title")
    assert content_snapshot(site) == before
