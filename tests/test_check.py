"""`invoke check`, through the invoke CLI on whole copies of the project: it passes on the real project and
stops at the stage that fails, naming the problem, with the later stages not run."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scripts.check import STAGES
from scripts.perf.corpus import copy_project_tree
from tests.conftest import ROOT

STAGE_NAMES = [stage.name for stage in STAGES]

pytestmark = pytest.mark.slow

POST = Path("content/blog/qwen2.5-max/index.md")


@pytest.fixture
def project():
    """A whole copy of the project (tasks.py and scripts/ included) where `invoke check` runs as it does here."""
    parent = Path(tempfile.mkdtemp(prefix="check-task-"))
    parent.chmod(0o755)
    yield copy_project_tree(ROOT, parent / "project")
    shutil.rmtree(parent, ignore_errors=True)


def invoke_check(project: Path, *options: str) -> tuple[int, str, dict[str, str]]:
    proc = subprocess.run([sys.executable, "-m", "invoke", "check", *options], cwd=project, capture_output=True, text=True,
                          timeout=600)
    output = proc.stdout + proc.stderr
    assert "Traceback" not in output, output
    return proc.returncode, output, summary_statuses(proc.stdout)


def summary_statuses(stdout: str) -> dict[str, str]:
    """stage -> status, read from the summary table that ends the output."""
    lines = stdout.splitlines()
    header = max(i for i, line in enumerate(lines) if line.split()[:3] == ["stage", "status", "time"])
    statuses = {}
    for line in lines[header + 1:]:
        words = line.split()
        if words and words[0] in STAGE_NAMES:
            statuses[words[0]] = " ".join(words[1:3]) if words[1:3] == ["not", "run"] else words[1]
    return statuses


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_check_passes_on_the_real_project(project: Path):
    code, output, statuses = invoke_check(project)
    assert code == 0, output
    assert statuses == {stage: "ok" for stage in STAGE_NAMES}
    assert list(statuses) == STAGE_NAMES  # in this order
    assert (project / "site" / "index.html").is_file()
    written = sum(1 for _ in (project / "site").rglob("*.html"))
    assert f" {written} HTML pages (search index not built)" in output
    assert output.strip().splitlines()[-1].startswith("all 4 checks passed")


def test_a_broken_link_stops_at_check_links_and_snippets_are_not_run(project: Path):
    edit(project / POST, "## Future Work\n", "## Future Work\n\nSee [the details](/blog/qwen2.5-max/#no-such-heading).\n")
    code, output, statuses = invoke_check(project)
    assert code == 1, output
    assert statuses == {"lint": "ok", "build": "ok", "check-links": "FAILED", "check-snippets": "not run"}
    broken = [line for line in output.splitlines() if "#no-such-heading" in line]
    assert broken and "content/blog/qwen2.5-max/index.md" in broken[0], output
    assert "blocks checked" not in output  # the snippet check never started


def test_broken_front_matter_stops_at_lint_before_anything_is_built(project: Path):
    edit(project / POST, "date: 2025-01-28T23:00:04+08:00", "date: the day after tomorrow")
    code, output, statuses = invoke_check(project)
    assert code == 1, output
    assert statuses == {"lint": "FAILED", "build": "not run", "check-links": "not run", "check-snippets": "not run"}
    assert any(line.startswith(f"{POST}:3:") for line in output.splitlines()), output
    assert not (project / "site").exists()


def test_a_template_error_stops_at_build(project: Path):
    single = project / "layouts" / "single.html"
    single.write_text(single.read_text(encoding="utf-8") + '\n{{ partial "no-such-partial.html" . }}\n',
                      encoding="utf-8")
    code, output, statuses = invoke_check(project)
    assert code == 1, output
    assert statuses == {"lint": "ok", "build": "FAILED", "check-links": "not run", "check-snippets": "not run"}
    assert "no-such-partial" in output


def test_a_broken_sample_fails_at_check_snippets_after_the_other_stages_pass(project: Path):
    edit(project / POST, "client.chat.completions.create(", "client.chat.completion.create(")
    code, output, statuses = invoke_check(project)
    assert code == 1, output
    assert statuses == {"lint": "ok", "build": "ok", "check-links": "ok", "check-snippets": "FAILED"}
    assert any(line.startswith(f"{POST}:") and "python" in line for line in output.splitlines()), output


def test_the_snippet_caps_are_options_of_check_too(project: Path):
    edit(project / POST, "## Future Work\n", "## Future Work\n\n```python\nimport time\ntime.sleep(3)\n```\n")
    code, output, statuses = invoke_check(project, "--timeout", "1")
    assert code == 1, output
    assert statuses["check-snippets"] == "FAILED"
    assert "--timeout raises it" in output


@pytest.mark.parametrize("args", [["check", "--strcit"], ["chekc"], ["check", "--timeout"]])
def test_an_unknown_option_or_task_is_bad_usage_and_runs_nothing(args: list[str]):
    proc = subprocess.run([sys.executable, "-m", "invoke", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert (proc.returncode, proc.stdout) == (2, "")
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: ")
