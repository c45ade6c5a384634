"""`invoke check-snippets` on research posts: samples that need a package that is not installed are not run
(and fail only when snippets.yaml requires it), a block that continues the one above runs after it in one
namespace, and the mistakes of the old blog's posts are still reported, each clearly. One checker run over
posts written for these tests serves most of them."""
from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from scripts.errors import UsageError
from scripts.snippets.check import check_snippets
from scripts.snippets.limits import Limits
from scripts.snippets.report import SnippetReport, SnippetResult
from scripts.snippets.settings import load_settings
from tests.conftest import ROOT
from tests.snippets.test_check import fence, post

TEST_TIMEOUT = 60.0
NO_BREAK_SPACE = "\u00a0"

LOAD_MODEL = """
import torch
from transformers import AutoTokenizer

tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen2.5-7B-Instruct")
messages = [{"role": "user", "content": "hi"}]
"""
CONTINUE_MODEL = """
text = tokenizer.apply_chat_template(messages, tokenize=False)
"""
POSTS = {
    # A model sample, a fragment that continues it, and an API sample that does not.
    "needs-torch": post("Needs", "\n".join([fence("python", LOAD_MODEL), fence("python", CONTINUE_MODEL),
                                            fence("python", "import json\n\nprint(json.dumps({'ok': True}))\n")])),
    "session": post("Session", "\n".join([
        fence("python", "import random\n\ntoken = random.random()\nmessages = [{'role': 'user', 'content': 'hi'}]\n"),
        "Then, with the `token` of the block above:\n",
        fence("python", "print('continued', token, len(messages))\n"),
        fence("python", "print(never_defined)\n"),
        fence("python", "token = 'own'\nprint(token)\n"),
    ])),
    "session-translated": post("Session, translated", "\n".join([
        fence("python", "import random\n\ntoken = random.random()\nmessages = [{'role': 'user', 'content': 'hi'}]\n"),
        "然后：\n",
        fence("python", "print('continued', token, len(messages))\n"),
    ])),
    "continues-a-failure": post("Failure", "\n".join([
        fence("python", "answer = 42\nraise RuntimeError('the block above fails')\n"),
        fence("python", "print(answer)\n"),
    ])),
    "continues-markers": post("Markers", "\n".join([
        "<!-- snippet: no-run -->", fence("python", "name = input('Your name? ')\n"),
        fence("python", "print('hello', name)\n"),
        "<!-- snippet: skip -->", fence("python", "key = 'not checked'\n"),
        fence("python", "print(key)\n"),
    ])),
    "guarded": post("Guarded", fence("python", "try:\n    import torch\nexcept ImportError:\n    torch = None\n"
                                               "print('torch' if torch else 'no torch')\n")),
    "setup-needs": post("Setup", "<!-- snippet: setup\nimport torch\n-->\n\n" + fence("python", "print(1)\n")),
    "reader-file": post("File", fence("python", "with open('example.txt') as f:\n    print(f.read())\n")),
    "reader-file-stand-in": post("File, stand-in", "<!-- snippet: setup\nopen('example.txt', 'w').write('text')\n"
                                 "-->\n\n" + fence("python", "with open('example.txt') as f:\n    print(f.read())\n")),
    "shell-as-python": post("Shell", fence("python", "python -m vllm.entrypoints.openai.api_server \\\n"
                                                     "    --model Qwen/Qwen2.5-7B-Instruct\n")),
    "no-break-space": post("Space", fence("bash", "npm install -g npm\nnpm i" + NO_BREAK_SPACE
                                          + "-g @qwen-code/qwen-code\n")),
}


def line_of(name: str, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, line in enumerate(POSTS[name].split("\n"), start=1) if needle in line]
    return hits[occurrence - 1]


def write_posts(project: Path, posts: dict[str, str]) -> None:
    for name, text in posts.items():
        bundle = project / "content" / "blog" / name
        bundle.mkdir(parents=True)
        (bundle / "index.md").write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def checked() -> SnippetReport:
    assert importlib.util.find_spec("torch") is None, "these tests expect torch not to be installed"
    project = Path(tempfile.mkdtemp(prefix="snippets-sessions-"))
    write_posts(project, POSTS)
    try:
        yield check_snippets(project / "content", project_root=project, limits=Limits(timeout=TEST_TIMEOUT), workers=2)
    finally:
        shutil.rmtree(project, ignore_errors=True)


def results_of(report: SnippetReport, name: str) -> list[SnippetResult]:
    return [r for r in report.results if r.path.parent.name == name and r.language in ("python", "bash")]


def test_a_sample_that_needs_torch_is_compiled_and_not_run_nor_is_the_fragment_that_continues_it(checked):
    model, fragment, api = results_of(checked, "needs-torch")
    assert (model.status, model.message, model.line) == ("not-run", "not run: needs torch",
                                                         line_of("needs-torch", "import torch"))
    assert (fragment.status, fragment.message) == (
        "not-run", f"not run: needs torch (for the block at line {model.first_line}, which it continues)")
    assert api.status == "passed"  # the rest of the post is still checked
    assert model.needs == fragment.needs == "torch"


def test_blocks_not_run_are_no_failures_and_are_listed_and_counted_apart(checked):
    lines = checked.render().splitlines()
    listed = lines.index("not run (no failures; compiled only):")
    not_run = [line for line in lines[listed + 1:] if line.strip()][:4]
    assert all(": python: not run: " in line for line in not_run)
    assert not any("needs torch" in line for line in checked.problem_lines())
    header = next(line.split() for line in lines if line.startswith("language"))
    python = next(line.split() for line in lines if line.startswith("python"))
    assert dict(zip(header, python))["not-run"] == str(sum(r.status == "not-run" for r in checked.results))
    assert "Python blocks not run for a module that is not installed: torch (3)" in checked.render()


def test_a_block_that_continues_the_one_above_runs_after_it_in_one_namespace(checked):
    first, fragment, undefined, own = results_of(checked, "session")
    assert first.status == fragment.status == own.status == "passed"
    assert fragment.output.startswith("continued 0.")  # the value the block above drew at run time
    assert (undefined.status, undefined.message) == ("failed", "NameError: name 'never_defined' is not defined")
    translated = results_of(checked, "session-translated")[1]
    assert translated.same_as == (fragment.path, fragment.first_line)  # same code after the same blocks: run once


def test_a_block_that_continues_a_failing_one_is_not_run_and_the_failure_is_reported_once(checked):
    failing, fragment = results_of(checked, "continues-a-failure")
    assert failing.status == "failed" and "the block above fails" in failing.message
    assert (fragment.status, fragment.message) == (
        "not-run", f"not run: it continues the block at line {failing.first_line}, which failed")


def test_a_block_that_continues_a_no_run_or_skipped_block_is_not_run_either(checked):
    quiet, after_quiet, skipped, after_skipped = results_of(checked, "continues-markers")
    assert (quiet.status, quiet.message) == ("passed", "compiled, not run")
    assert (after_quiet.status, after_quiet.message) == (
        "passed", f"compiled, not run (it continues the no-run block at line {quiet.first_line})")
    assert skipped.status == "skipped"
    assert (after_skipped.status, after_skipped.message) == (
        "skipped", f"it continues the skipped block at line {skipped.first_line}")


def test_a_guarded_import_runs_and_a_setup_block_that_needs_torch_holds_its_post_back(checked):
    (guarded,) = results_of(checked, "guarded")
    assert guarded.status == "passed" and guarded.output == "no torch\n"
    (after_setup,) = results_of(checked, "setup-needs")
    assert (after_setup.status, after_setup.message) == ("not-run", "not run: needs torch (in the post's setup block)")


def test_a_file_the_reader_supplies_is_a_failure_with_a_hint_and_a_setup_stand_in_fixes_it(checked):
    (missing,) = results_of(checked, "reader-file")
    assert missing.status == "failed"
    assert missing.message == ("FileNotFoundError: [Errno 2] No such file or directory: 'example.txt' (a file "
                               "the reader is to supply? write a stand-in for it in the post's setup block, or "
                               "mark the block no-run)")
    (stand_in,) = results_of(checked, "reader-file-stand-in")
    assert stand_in.status == "passed" and stand_in.output == "text\n"


def test_a_shell_command_fenced_as_python_is_a_syntax_error_at_its_line_that_says_so(checked):
    (shell,) = results_of(checked, "shell-as-python")
    assert shell.status == "failed" and shell.line == line_of("shell-as-python", "--model Qwen/Qwen2.5-7B")
    assert shell.message.startswith("SyntaxError: ")
    assert shell.message.endswith(" (this looks like a shell command: fence it as ```bash)")


def test_a_no_break_space_in_a_shell_command_is_named_at_its_line(checked):
    (space,) = results_of(checked, "no-break-space")
    assert (space.status, space.line) == ("failed", line_of("no-break-space", "@qwen-code"))
    assert space.message == ("U+00A0 no-break space in a shell command (column 6): the shell reads it as part of "
                             "a word, not as a space; retype it")


def test_a_package_snippets_yaml_requires_is_a_failure_when_missing(tmp_path: Path):
    write_posts(tmp_path, {"needs-torch": POSTS["needs-torch"]})
    (tmp_path / "snippets.yaml").write_text("# must be installed wherever the check runs\nrequires: [openai, torch]\n",
                                            encoding="utf-8")
    report = check_snippets(tmp_path / "content", project_root=tmp_path, limits=Limits(timeout=TEST_TIMEOUT),
                            workers=1)
    model, fragment, api = [r for r in report.results if r.language == "python"]
    assert not report.ok and (model.status, fragment.status, api.status) == ("failed", "not-run", "passed")
    assert model.message == "needs torch, which snippets.yaml requires, and it is not installed"
    assert model.line == line_of("needs-torch", "import torch")
    assert fragment.message == f"not run: it continues the block at line {model.first_line}, which failed"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("requires: [openai]\nrequire: [torch]\n", 2, "unknown setting 'require' (known: requires)"),
    ("requires: openai\n", 1, "requires must be a list of module names"),
    ("requires: [open-ai]\n", 1, "requires must be a list of module names"),
])
def test_snippets_yaml_mistakes_are_usage_errors_at_their_line(tmp_path: Path, text: str, line: int, message: str):
    (tmp_path / "snippets.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        load_settings(tmp_path)
    assert caught.value.line == line and message in str(caught.value)


def test_the_projects_snippets_yaml_requires_the_sdk_the_stub_answers():
    assert load_settings(ROOT).requires == {"openai"}


def test_invoke_check_snippets_lists_blocks_not_run_and_exits_0(tmp_path: Path):
    shutil.copy2(ROOT / "tasks.py", tmp_path / "tasks.py")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    write_posts(tmp_path, {"needs-torch": POSTS["needs-torch"]})
    run = subprocess.run([sys.executable, "-m", "invoke", "check-snippets", "--workers", "1"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"content/blog/needs-torch/index.md:{line_of('needs-torch', 'import torch')}: python: not run: needs torch" \
        in run.stdout.splitlines()
    assert run.stdout.strip().splitlines()[-1] == "1 blocks checked in 1 Markdown files: all pass"
