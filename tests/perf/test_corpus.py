"""The benchmark's generated site: deterministic, the announcement's shape, and every link it writes resolves."""
from __future__ import annotations

import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from markdown_it import MarkdownIt

from scripts.perf.corpus import LINKS_PER_PAGE, generate_corpus, heading_anchor
from scripts.content.schema import POST_KEYS, known_keys, type_matches
from tests.conftest import ROOT, copy_project, parse

POSTS = 12


@pytest.fixture(scope="module")
def corpus_site():
    """A project copy with POSTS generated posts beside the real one, built by our build (without search)."""
    from scripts.site.build import build_site

    parent = Path(tempfile.mkdtemp(prefix="corpus-test-"))
    project = copy_project(parent / "project")
    corpus = generate_corpus(project / "content", posts=POSTS, seed=7)
    site = build_site(project, search=False).destination
    yield project, corpus, site
    shutil.rmtree(parent, ignore_errors=True)


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path):
    generate_corpus(tmp_path / "a", posts=8, seed=3)
    generate_corpus(tmp_path / "b", posts=8, seed=3)
    generate_corpus(tmp_path / "c", posts=8, seed=4)
    files = _tree(tmp_path / "a")
    assert files == _tree(tmp_path / "b")
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == [] and len(match) == len(files)
    _, differing, _ = filecmp.cmpfiles(tmp_path / "a", tmp_path / "c", [f for f in files if f.endswith(".md")],
                                       shallow=False)
    assert differing, "a different seed should write different posts"


def test_counts_and_shape_of_each_page(tmp_path: Path):
    corpus = generate_corpus(tmp_path / "content", posts=12, seed=1)
    markdown = sorted((tmp_path / "content").rglob("*.md"))
    assert len(markdown) == 24 and len(corpus.pages) == 24
    assert len(list((tmp_path / "content").rglob("*.png"))) == 12
    md = MarkdownIt("commonmark")
    for page in corpus.pages:
        text = page.path.read_text(encoding="utf-8")
        _, front, body = text.split("---\n", 2)
        meta = yaml.safe_load(front)
        # The announcement's keys, in its order, each with its schema type.
        assert list(meta) == [k.name for k in POST_KEYS if k.name in meta]
        assert all(type_matches(known_keys()[key], value) for key, value in meta.items())
        assert meta["date"].year < 2025
        fences = [t.info.strip() for t in md.parse(body) if t.type == "fence"]
        assert fences.count("python") == 1 and fences.count("json") == 1
        assert "{{< figure " in body and "{{< button " in body
        assert len(page.links) == LINKS_PER_PAGE
        assert all(link.slug != page.url.rstrip("/").rsplit("/", 1)[-1] for link in page.links)
        words = len(body.split()) if page.lang == "en" else sum(1 for ch in body if "\u4e00" <= ch <= "\u9fff")
        assert words > 500, f"{page.path}: {words} words or CJK characters is not a realistic post"


def test_existing_bundles_are_never_overwritten(tmp_path: Path):
    generate_corpus(tmp_path / "content", posts=3, seed=0)
    first = next((tmp_path / "content").rglob("index.md"))
    first.write_text("mine", encoding="utf-8")
    with pytest.raises(FileExistsError):
        generate_corpus(tmp_path / "content", posts=3, seed=0)
    assert first.read_text(encoding="utf-8") == "mine"


def test_heading_anchor_matches_hugo_github_ids():
    assert heading_anchor("MoE Architecture") == "moe-architecture"
    assert heading_anchor("MoE 架构") == "moe-架构"
    assert heading_anchor("Use Qwen2.5-Max") == "use-qwen25-max"


def test_every_generated_link_reaches_its_page_and_heading(corpus_site):
    _, corpus, site = corpus_site
    for page in corpus.pages:
        html = parse(site / page.url.strip("/") / "index.html")
        ids = {node.attributes["id"] for node in html.css("[id]")}
        assert {h.anchor for h in page.headings} <= ids, f"{page.url}: heading ids differ from the planned ones"
        to_posts = []
        for a in html.css("main a[href], article a[href]"):
            url = urlsplit(a.attributes["href"])
            if url.netloc or not url.fragment or "/blog/post-" not in url.path:
                continue
            to_posts.append(url)
        assert len(to_posts) >= LINKS_PER_PAGE, f"{page.url}: {len(to_posts)} links to other posts"
        for url in to_posts:
            target = site / unquote(url.path).strip("/") / "index.html"
            assert target.is_file(), f"{page.url} -> {url.geturl()}: no such page"
            target_ids = {node.attributes["id"] for node in parse(target).css("[id]")}
            assert unquote(url.fragment) in target_ids, f"{page.url} -> {url.geturl()}: no such heading"


def test_bundle_images_and_shortcodes_render(corpus_site):
    _, corpus, site = corpus_site
    page = corpus.pages[0]
    html = parse(site / page.url.strip("/") / "index.html")
    sources = [img.attributes.get("src", "") for img in html.css("figure img")]
    local = [s for s in sources if "://" not in s]
    assert local, "the bundle image should be on the page"
    assert all((site / unquote(urlsplit(s).path).lstrip("/")).is_file() for s in local)
    assert html.css("code.language-python, pre code[data-lang=python], [data-lang=python]")


def test_generated_site_passes_lint_and_link_check(corpus_site):
    """The benchmark times these checks on the corpus: it must be a site they accept, not one they reject."""
    from scripts.links.internal import check_internal
    from scripts.content.lint import lint_content

    project, _, site = corpus_site
    lint = lint_content(project / "content")
    assert lint.errors == 0, lint.render()
    links = check_internal(site, project_root=project)
    assert links.ok, links.render()


MEMORY_PROBE = r"""
import subprocess, sys, time
# The child exits at once; its orphan allocates 150 MB later: only a tree sampler that keeps orphans sees it.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3); b = bytearray(150 * 2**20); time.sleep(0.5)"])
"""


def test_bench_measures_the_peak_memory_of_the_whole_process_tree():
    # In its own interpreter: measuring makes the process a child subreaper, which pytest must not become.
    code = ("import sys; from pathlib import Path; from scripts.perf.measure import become_subreaper, measure; "
            "become_subreaper(); "
            "s = measure([sys.executable, '-c', sys.argv[1]], cwd=Path('.')); print(s.peak_rss_mb, s.exit_code)")
    out = subprocess.run([sys.executable, "-c", code, MEMORY_PROBE], cwd=ROOT, capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": str(ROOT)}).stdout.split()
    peak_mb, exit_code = float(out[0]), int(out[1])
    assert exit_code == 0
    assert peak_mb >= 150


def test_a_step_past_its_timeout_is_stopped_with_its_children_and_reported_as_a_lower_bound():
    code = ("import sys; from pathlib import Path; from scripts.perf.measure import become_subreaper, measure; "
            "become_subreaper(); "
            "s = measure([sys.executable, '-c', sys.argv[1]], cwd=Path('.'), timeout=1.0); "
            "print(s.timed_out, s.seconds, s.leftover_processes)")
    sleeper = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, sleeper], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "True"
    assert 1.0 <= float(out[1]) < 5
    assert out[2] == "0"  # the grandchild was stopped with it, not left to the orphan sweep
    assert time.monotonic() - started < 10


def test_bench_budgets_judge_our_steps_not_the_tools_they_are_compared_with():
    from scripts.perf.bench import bench_steps
    from scripts.perf.measure import Sample
    from scripts.perf.results import BenchResult, StepResult

    defs = {step.name: step for step in bench_steps(only={"hugo", "build_hugo"})}
    over_2_gb = {"hugo": 5094.0, "build_hugo": 2100.0}  # bare Hugo at 10,000 posts takes 5 GB; ours must not
    steps = {name: StepResult(name, defs[name].label, [Sample(seconds=10.0, cpu_seconds=19.0, peak_rss_mb=mb,
                                                              exit_code=0)])
             for name, mb in over_2_gb.items()}
    result = BenchResult(posts=1000, seed=0, runs=1, started="2026-11-29T14:00:00", machine={"cpus": 2},
                         generate_seconds=1.0, html_pages=2851, steps=steps, step_defs=defs)
    budget_lines = result.render().split("budgets:")[1].strip().splitlines()
    assert [line.split(":")[0].split() for line in budget_lines] == [
        ["ok", "build_hugo", "/", "hugo", "(CPU)"], ["OVER", "build_hugo", "peak", "memory"]]
