"""`invoke bench`'s server step and its reference theme, run as a user runs them on a tiny generated site.

The bench runs in its own process: it makes itself the child subreaper, which pytest must not become.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.perf.reference import STANDIN, STANDIN_INNER, missing_shortcodes
from tests.conftest import ROOT

# A theme of the fewest templates Hugo needs, each saying whose it is; no `button` shortcode, which our
# content uses, so the reference needs a stand-in for it.
FAKE_THEME = {
    "layouts/home.html": "<!doctype html><title>{{ site.Title }}</title><p>fake-theme home</p>"
                         "{{ range first 3 site.RegularPages }}<a href='{{ .RelPermalink }}'>{{ .Title }}</a>{{ end }}",
    "layouts/home.json": "{{ len site.RegularPages | jsonify }}",
    "layouts/single.html": "<!doctype html><title>{{ .Title }}</title><h1>fake-theme {{ .Title }}</h1>{{ .Content }}",
    "layouts/list.html": "<!doctype html><title>{{ .Title }}</title><p>fake-theme list</p>",
}


def fake_theme(parent: Path) -> Path:
    theme = parent / "themes" / "fake-theme"
    for rel, text in FAKE_THEME.items():
        (theme / rel).parent.mkdir(parents=True, exist_ok=True)
        (theme / rel).write_text(text, encoding="utf-8")
    return theme


def run_bench(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path | None]:
    """`invoke bench` on 2 posts, once, keeping the generated projects; the result and where they are."""
    proc = subprocess.run([sys.executable, "-m", "invoke", "bench", "--posts", "2", "--runs", "1", "--keep",
                           "--output", str(tmp_path / "bench.json"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    kept = re.search(r"kept the generated project at (\S+)", proc.stderr)
    return proc, Path(kept.group(1)).parent if kept else None


@pytest.fixture
def bench_dirs():
    kept: list[Path] = []
    yield kept
    for path in kept:
        shutil.rmtree(path, ignore_errors=True)


def test_a_reference_theme_builds_the_same_content_as_a_reference_row(tmp_path: Path, bench_dirs: list[Path]):
    theme = fake_theme(tmp_path)
    proc, kept = run_bench(tmp_path, "--only", "hugo,build,reference", "--reference-theme", str(theme))
    bench_dirs.append(kept)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))["steps"]
    assert steps["reference"]["ok"] and steps["reference"]["median_cpu_seconds"] > 0
    assert steps["build"]["ratio_to"] == "reference" and steps["build"]["cpu_ratio"] > 0
    assert "fake-theme: hugo --minify" in proc.stdout and "build / reference (CPU)" in proc.stdout
    reference = kept / "reference"
    assert "fake-theme home" in (reference / "site" / "index.html").read_text(encoding="utf-8")
    assert (reference / "site" / "index.json").is_file() and (reference / "site" / "zh" / "index.json").is_file()
    post = next((reference / "site" / "blog").glob("post-*/index.html")).read_text(encoding="utf-8")
    assert "fake-theme" in post and "class=post-content" not in post, "the theme's layouts, not ours"
    assert (reference / "layouts" / "_shortcodes" / "button.html").read_text(encoding="utf-8") == STANDIN
    assert not (reference / "layouts" / "_shortcodes" / "figure.html").exists(), "Hugo has its own figure"


def test_a_theme_shortcode_needs_no_stand_in_and_a_closed_one_keeps_its_content(tmp_path: Path):
    content, theme = tmp_path / "content", fake_theme(tmp_path)
    content.mkdir()
    (content / "a.md").write_text("{{< button href=x >}} {{% note %}}kept{{% /note %}} {{< figure src=y >}}",
                                  encoding="utf-8")
    assert missing_shortcodes(content, theme) == {"button": False, "note": True}
    (theme / "layouts" / "_shortcodes").mkdir()
    (theme / "layouts" / "_shortcodes" / "button.html").write_text("<a>{{ .Get 0 }}</a>", encoding="utf-8")
    assert missing_shortcodes(content, theme) == {"note": True}
    assert STANDIN_INNER.endswith("{{- .Inner -}}\n") and ".Inner" not in STANDIN


@pytest.mark.parametrize("args, message", [
    (["--reference-theme", "no-such-theme"], "not a Hugo theme checkout"),
    (["--only", "reference"], "need --reference-theme"),
])
def test_reference_theme_misuse_is_a_one_line_usage_error(tmp_path: Path, args: list[str], message: str):
    proc, _ = run_bench(tmp_path, *args)
    assert proc.returncode == 2
    assert message in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_the_serve_step_times_startup_and_edits_and_restores_the_post(tmp_path: Path, bench_dirs: list[Path]):
    proc, kept = run_bench(tmp_path, "--only", "serve")
    bench_dirs.append(kept)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))
    ready, edit = data["steps"]["serve"], data["steps"]["serve_edit"]
    assert ready["ok"] and edit["ok"]
    assert ready["median_seconds"] > edit["median_seconds"] > 0 and ready["median_cpu_seconds"] > 0
    assert "invoke serve: edit to visible (median of 5 edits)" in proc.stdout
    assert len(re.findall(r"\d+\.\d\ds/\d+\.\d\dcpu", proc.stderr)) == 5, "each edit's time is shown"
    content = kept / "project" / "content"
    assert not [p for p in content.rglob("*.md") if "benchedit" in p.read_text(encoding="utf-8")]


def test_the_build_steps_run_cold_then_with_the_search_cache(tmp_path: Path, bench_dirs: list[Path]):
    proc, kept = run_bench(tmp_path, "--only", "build_cached,build,rebuild")
    bench_dirs.append(kept)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps = json.loads((tmp_path / "bench.json").read_text(encoding="utf-8"))["steps"]
    assert [name for name in steps] == ["build", "build_cached", "rebuild"], "in the order they run"
    assert all(steps[name]["ok"] for name in steps)
    assert "invoke build, empty site/, index cached" in proc.stdout
    cache = kept / "project" / ".cache" / "search"
    assert len([entry for entry in cache.iterdir() if entry.is_dir() and not entry.name.startswith(".")]) == 2, \
        "a group a language"


def test_every_other_run_takes_the_steps_in_reverse_order(tmp_path: Path):
    proc = subprocess.run([sys.executable, "-m", "invoke", "bench", "--posts", "2", "--runs", "2", "--only",
                           "hugo,lint", "--output", str(tmp_path / "bench.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    order = [re.match(r"run (\d)/2\s+(.+?)\s{2}", line).groups() for line in proc.stderr.splitlines()
             if line.startswith("run ")]
    assert order == [("1", "hugo --minify (bare)"), ("1", "invoke lint"),
                     ("2", "invoke lint"), ("2", "hugo --minify (bare)")]
