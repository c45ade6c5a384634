""".cache/links.json that is damaged, not a file, or impossible: moved aside with a warning (never deleted),
rebuilt, and never a reason to call a broken URL fine."""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.links.external import check_external
from tests.conftest import ROOT, copy_project
from tests.links.test_external import FAST, outcome, server, write_site  # noqa: F401 - server is a fixture


def check(project: Path, links: list[str]):
    site = write_site(project, {"blog/post": links})
    return check_external(site, project_root=project, config=FAST, cache_path=project / ".cache" / "links.json")


def cached_as_fine(urls: list[str], checked_at) -> str:
    entries = {url: {"checked_at": checked_at, "status": 200, "final_url": None, "fragment_checked": False}
               for url in urls}
    return json.dumps({"version": 1, "entries": entries})


@pytest.mark.parametrize("checked_at", [1e300, math.nan, math.inf, "future", -1.0, "2025-01-01", None])
def test_an_impossible_timestamp_never_makes_a_broken_url_fine(server, tmp_path: Path, checked_at):
    broken = server.base + "/missing"
    when = time.time() + 86400 if checked_at == "future" else checked_at
    cache = tmp_path / ".cache" / "links.json"
    cache.parent.mkdir()
    cache.write_text(cached_as_fine([broken], when), encoding="utf-8")
    damaged = cache.read_bytes()

    report = check(tmp_path, [broken])

    assert not report.ok and outcome(report, broken).status == 404 and not outcome(report, broken).cached
    assert server.paths() == ["/missing"]  # asked again, not taken from the cache
    assert (tmp_path / ".cache" / "links.json.unreadable-1").read_bytes() == damaged  # kept, not deleted
    [warning] = report.warnings
    assert warning.startswith(".cache/links.json has an impossible entry for ") and "checked_at" in warning
    assert report.render().splitlines()[0] == f"warning: {warning}"
    assert json.loads(cache.read_text(encoding="utf-8"))["entries"] == {}  # the new cache


@pytest.mark.parametrize("content, problem", [
    (b"\x00\xff{not json", "is not a JSON cache"),
    (b'{"version": 1, "entries": {"x": {"checked_at": 1, "status": "200"}}}', "is not an HTTP status"),
    (b'{"version": 99, "entries": {}}', "is not a version-1 cache"),
    (b"[]", "is not a version-1 cache"),
])
def test_an_unreadable_cache_is_moved_aside_and_rebuilt(server, tmp_path: Path, content: bytes, problem: str):
    cache = tmp_path / ".cache" / "links.json"
    cache.parent.mkdir()
    cache.write_bytes(content)
    report = check(tmp_path, [server.base + "/ok"])
    assert report.ok
    assert (tmp_path / ".cache" / "links.json.unreadable-1").read_bytes() == content
    assert len(report.warnings) == 1 and problem in report.warnings[0]
    assert report.warnings[0].endswith("moved it to links.json.unreadable-1 and started a new cache")
    assert list(json.loads(cache.read_text(encoding="utf-8"))["entries"]) == [server.base + "/ok"]


def test_a_directory_at_the_cache_path_is_moved_aside_with_its_files(server, tmp_path: Path):
    cache = tmp_path / ".cache" / "links.json"
    cache.mkdir(parents=True)
    (cache / "notes.txt").write_text("mine\n", encoding="utf-8")
    (tmp_path / ".cache" / "links.json.unreadable-1").write_text("an earlier one\n", encoding="utf-8")

    report = check(tmp_path, [server.base + "/ok"])

    assert report.ok
    assert (tmp_path / ".cache" / "links.json.unreadable-1").read_text(encoding="utf-8") == "an earlier one\n"
    assert (tmp_path / ".cache" / "links.json.unreadable-2" / "notes.txt").read_text(encoding="utf-8") == "mine\n"
    assert report.warnings == [".cache/links.json cannot be read (is a directory); moved it to "
                               "links.json.unreadable-2 and started a new cache"]
    assert cache.is_file()


def test_a_cache_that_cannot_be_saved_is_a_warning_not_a_traceback(server, tmp_path: Path):
    (tmp_path / ".cache").write_text("a file where the cache folder should be\n", encoding="utf-8")
    report = check(tmp_path, [server.base + "/ok", server.base + "/missing"])
    assert not report.ok and len(report.broken) == 1
    assert report.warnings == ["could not save the cache .cache/links.json: .cache is not a folder"]
    assert (tmp_path / ".cache").read_text(encoding="utf-8") == "a file where the cache folder should be\n"


def test_a_directory_made_at_the_cache_path_during_the_run_is_left_alone(server, tmp_path: Path):
    cache = tmp_path / ".cache" / "links.json"
    server.on_request = lambda: cache.mkdir(parents=True, exist_ok=True)  # appears while the URL is checked
    report = check(tmp_path, [server.base + "/ok"])
    assert report.ok
    assert cache.is_dir() and not any(cache.iterdir())
    assert report.warnings == ["could not save the cache .cache/links.json: is a directory"]
    assert [p.name for p in cache.parent.iterdir()] == ["links.json"]  # no temporary file left behind


def test_the_task_reports_a_damaged_cache_as_a_warning(server, tmp_path: Path):
    project = copy_project(tmp_path / "cli", with_content=False)
    shutil.copy(ROOT / "tasks.py", project / "tasks.py")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    write_site(project, {"blog/post": [server.base + "/missing"]})
    (project / "hugo.yaml").write_text((ROOT / "hugo.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (project / ".cache" / "links.json").mkdir(parents=True)
    proc = subprocess.run([sys.executable, "-m", "invoke", "check-external", "--no-build",
                           "--include", "127\\.0\\.0\\.1"], cwd=project, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout.splitlines()[0].startswith("warning: .cache/links.json cannot be read (is a directory)")
    assert (project / ".cache" / "links.json.unreadable-1").is_dir()
