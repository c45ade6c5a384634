"""`invoke check-snippets`: every code block of a post is parsed or run, and each failure is reported at
the Markdown line of the error itself. One checker run over a set of posts with known mistakes serves most
tests (a pool of warm workers starts once); the real posts get a run of their own.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import openai
import pytest
import requests

from scripts.snippets.stub import STUB_REPLY, OpenAIStub
from scripts.snippets.check import check_snippets
from scripts.snippets.extract import extract_snippets
from scripts.snippets.limits import Limits
from scripts.snippets.report import SnippetReport, SnippetResult
from tests.conftest import ROOT

ANNOUNCEMENT = ROOT / "content" / "blog" / "qwen2.5-max" / "index.md"
# What the "repeat" posts' blocks print: different in every run, so equal outputs are one run's.
A_RUN_OF_ITS_OWN = "import os\nprint(os.urandom(8).hex())\n"
# Per block: generous, so that a busy machine never times out a block that should pass; the infinite loop
# is checked on its own with LOOP_TIMEOUT.
TEST_TIMEOUT = 60.0
LOOP_TIMEOUT = 1.0
PARENT_SECRET = "QWEN_SNIPPET_TEST_SECRET"


def announcement_sample() -> str:
    return next(s.code for s in extract_snippets(ANNOUNCEMENT).snippets if s.language == "python")


def post(front_matter_title: str, body: str) -> str:
    return f'---\ntitle: "{front_matter_title}"\ndate: 2025-01-28T23:00:04+08:00\n---\n\n{body}'


def fence(language: str, code: str, *, ticks: str = "```") -> str:
    return f"{ticks}{language}\n{code.rstrip()}\n{ticks}\n"


# name -> Markdown text. Lines the tests expect errors on are found by searching the text (line_of).
POSTS = {
    "syntax": post("Syntax", "Intro.\n\n" + fence("python", "x = 1\ny = = 2\nprint(x)\n")),
    "sdk-attribute": post("SDK", fence("python", announcement_sample().replace(
        "client.chat.completions.create", "client.chat.completion.create"))),
    "wrong-role": post("Role", fence("python", announcement_sample().replace("'role': 'system'", "'role': 'robot'"))),
    "exception": post("Exception", fence("python", "def f():\n    raise ValueError('boom')\n\nf()\n")),
    "missing-env": post("Env", fence("python", f"import os\nprint(os.environ['{PARENT_SECRET}'])\n")),
    "network": post("Network", fence("python", "import socket\n\nsocket.create_connection(('10.255.255.1', 80), "
                                     "timeout=5)\n")
                    + "\n" + fence("python", "import urllib.request\n\nurllib.request.urlopen('http://example.com/', "
                                   "timeout=5)\n")
                    + "\n" + fence("python", "import socket\ntry:\n    socket.create_connection(('8.8.8.8', 53))\n"
                                   "except OSError:\n    pass  # swallowed, but still reported\n")),
    "loopback": post("Loopback", fence("python", """
import http.server, threading, urllib.request
server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
with urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/") as reply:
    print("loopback", reply.status)
server.shutdown()
""")),
    "sdk-variants": post("SDK variants", fence("python", """
import asyncio
from openai import AsyncOpenAI, OpenAI

client = OpenAI(base_url="https://api.example.invalid/v1", api_key="k")
for chunk in client.chat.completions.create(model="qwen-plus", stream=True,
                                            messages=[{"role": "user", "content": [{"type": "text", "text": "hi"}]}]):
    pass
print("streamed", client.embeddings.create(model="text-embedding-v3", input="hi").data[0].index)

async def main():
    reply = await AsyncOpenAI(base_url="https://dashscope-intl.aliyuncs.com/compatible-mode/v1").chat.completions.create(
        model="qwen-max", messages=[{"role": "user", "content": "hi"}])
    print("async", reply.choices[0].message.content)

asyncio.run(main())
""")),
    "formats": post("Formats", "\n".join([
        fence("json", '{\n  "model": "qwen-max",\n  "stream": tru\n}\n'),
        fence("yaml", "model: qwen-max\nmessages:\n  - role: user\n   content: hi\n"),
        fence("toml", '[model]\nname = "qwen-max"\ntemperature = \n'),
        fence("bibtex", "@article{qwen25,\n  title={Qwen2.5 technical report},\n  author={Qwen Team},\n"
                        "  year={2024}\n}\n"),
        fence("", "@misc{broken,\n  title={Unclosed,\n  year={2024}\n"),
        fence("bash", "for i in 1 2 3; do\n  echo \"$i\"\n"),
        fence("sh", 'name=qwen\nif [ "$name" == "qwen" ]; then echo yes; fi\n'),
        fence("console", "$ pip install -U openai\nCollecting openai\nSuccessfully installed openai\n$ echo \"done\"\n"
                         "done\n"),
        fence("json", '{"ok": [1, 2, 3]}\n'),
        fence("yaml", "ok: [1, 2, 3]\n"),
        fence("toml", "ok = [1, 2, 3]\n"),
        fence("text", "not checked\n"),
        fence("", "also not checked\n"),
    ])),
    "markers": post("Markers", """<!-- snippet: setup
GREETING = "hello from setup"
-->

<!-- snippet: skip -->
```python
this is not python
```

<!-- snippet: no-run -->
```python
raise RuntimeError("compiled but never run")
```

<!-- snippet: no-run -->
```python
def broken(:
```

```python {linenos=true, check=false}
also not python
```

```python
print(GREETING)
```

<!-- snippet: sometimes -->
"""),
    "structure": post("Structure", """{{< details summary="Show the code" >}}
~~~python
print("inside a shortcode")
missing_name
~~~
{{< /details >}}

- A list item with a block:

  ```py
  print("in a list")
  ```

````markdown
```python
this nested block is text of the outer one
```
````
"""),
    "highlight": post("Highlight", """Hugo's highlight shortcode holds code too; its text is not Markdown:

{{< highlight python "linenos=table,hl_lines=2" >}}
def greet():

    # a comment, not a heading; the indented lines are not a code block
    return "hello from a shortcode"

print(greet())
{{< /highlight >}}

<!-- snippet: skip -->
{{< highlight python >}}
this is skipped
{{< /highlight >}}

{{% highlight json %}}
{"model": "qwen-max",, "stream": true}
{{% /highlight %}}

Escaped, as on a page that shows how to use it: {{</* highlight python */>}}not code{{</* /highlight */>}}

    an indented block: counted, never run

<!-- snippet: skip -->

    skipped too
"""),
    "fork": post("Fork", fence("python", """
import os, threading, time

worker = threading.Thread(target=time.sleep, args=(0.3,))
worker.start()
pid = os.fork()
if pid == 0:  # the forked process knows only its own thread, as after any fork
    os._exit(0 if threading.active_count() == 1 else 3)
_, status = os.waitpid(pid, 0)
worker.join()
print("grandchild", os.waitstatus_to_exitcode(status))
""")),
    # One sample in three posts, as in a post and its translations: it runs once for the two posts that
    # share code and setup, and again for the one whose setup differs. A failing block shared by two posts is
    # run in each, so that each is reported at its own line.
    "repeat-a": post("Repeat", fence("python", A_RUN_OF_ITS_OWN)
                     + "\n" + fence("python", "import json\n\njson.loads('{broken')\n")),
    "repeat-b": post("Repeat, translated", "多一段文字。\n\n" + fence("python", A_RUN_OF_ITS_OWN)
                     + "\n又一段。\n\n" + fence("python", "import json\n\njson.loads('{broken')\n")),
    "repeat-c": post("Repeat, other setup",
                     "<!-- snippet: setup\nimport os\n-->\n\n" + fence("python", A_RUN_OF_ITS_OWN)),
    "a-worker-killer": post("Killer", fence("python", "import os, signal\n\nprint('parent', os.getppid())\n"
                                            "os.kill(os.getppid(), signal.SIGKILL)\nprint('still here')\n")),
    "http-stub": post("HTTP", fence("python", """
import os

import httpx2
import requests
from openai import OpenAI

# The SDK's own clients get the stub's answers in-process; clients a sample brings still speak HTTP to it.
own = OpenAI(http_client=httpx2.Client())
print("own client", own.chat.completions.create(model="qwen-max", messages=[{"role": "user", "content": "hi"}]).object)
reply = requests.post(os.environ["OPENAI_BASE_URL"] + "/chat/completions", timeout=10,
                      headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]},
                      json={"model": "qwen-max", "messages": [{"role": "robot", "content": "hi"}]})
print("requests", reply.status_code, reply.json()["error"]["param"])
""")),
}


# An unguarded child interpreter: only the sandbox's network namespace keeps its packet in.
POSTS["escape"] = post("Escape", fence("python", """
import subprocess, sys
probe = "import socket; socket.create_connection(('10.255.255.1', 80), timeout=3)"
run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
print(run.stderr.strip().splitlines()[-1])
"""))


def line_of(name: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `needle` in post `name`."""
    hits = [i for i, line in enumerate(POSTS[name].split("\n"), start=1) if needle in line]
    return hits[occurrence - 1]


@pytest.fixture(scope="module")
def checked() -> tuple[SnippetReport, Path]:
    """The checker run once over POSTS, with a secret in the checker's own environment."""
    project = Path(tempfile.mkdtemp(prefix="snippets-test-"))
    for name, text in POSTS.items():
        bundle = project / "content" / "blog" / name
        bundle.mkdir(parents=True)
        (bundle / "index.md").write_text(text, encoding="utf-8")
    os.environ[PARENT_SECRET] = "must-not-leak"
    try:
        report = check_snippets(project / "content", project_root=project, limits=Limits(timeout=TEST_TIMEOUT),
                                workers=2)
    finally:
        del os.environ[PARENT_SECRET]
    yield report, project
    shutil.rmtree(project, ignore_errors=True)


def results_of(report: SnippetReport, name: str) -> list[SnippetResult]:
    return [r for r in report.results if r.path.parent.name == name]


def only(report: SnippetReport, name: str) -> SnippetResult:
    (result,) = results_of(report, name)
    return result


def test_syntax_error_is_reported_at_its_markdown_line(checked):
    result = only(checked[0], "syntax")
    assert result.status == "failed"
    assert result.message.startswith("SyntaxError")
    assert result.line == line_of("syntax", "y = = 2")


def test_call_the_sdk_does_not_have_fails_at_its_line(checked):
    result = only(checked[0], "sdk-attribute")
    assert result.status == "failed"
    assert "has no attribute 'completion'" in result.message
    assert result.line == line_of("sdk-attribute", "client.chat.completion.create")


def test_wrong_message_role_is_rejected_by_the_stub_and_reported(checked):
    result = only(checked[0], "wrong-role")
    assert result.status == "failed"
    assert "BadRequestError" in result.message and "robot" in result.message
    assert result.line == line_of("wrong-role", "client.chat.completions.create")


LOOP_POST = post("Loop", fence("python", "n = 0\nwhile True:\n    n += 1\n") + "\nAfter it:\n\n"
                 + fence("python", "print('after the loop')\n"))


def test_infinite_loop_times_out_and_the_next_block_still_runs(tmp_path):
    bundle = tmp_path / "content" / "blog" / "loop"
    bundle.mkdir(parents=True)
    (bundle / "index.md").write_text(LOOP_POST, encoding="utf-8")
    report = check_snippets(tmp_path / "content", project_root=tmp_path, limits=Limits(timeout=LOOP_TIMEOUT), workers=1)
    loop, after = results_of(report, "loop")
    assert loop.status == "failed"
    assert f"timed out after {LOOP_TIMEOUT:g} s" in loop.message
    lines = [i for i, text in enumerate(LOOP_POST.split("\n"), start=1) if "while True" in text or "n += 1" in text]
    assert loop.line in lines
    assert after.status == "passed"
    assert after.output == "after the loop\n"


def test_exception_is_reported_at_the_raising_line(checked):
    result = only(checked[0], "exception")
    assert result.status == "failed"
    assert result.message == "ValueError: boom"
    assert result.line == line_of("exception", "raise ValueError")


def test_block_reading_a_variable_it_does_not_have_fails_and_secrets_are_not_inherited(checked):
    result = only(checked[0], "missing-env")
    assert result.status == "failed"
    assert result.message == f"KeyError: '{PARENT_SECRET}'"
    assert result.line == line_of("missing-env", "os.environ[")


def test_non_loopback_connections_are_refused_before_leaving_the_machine(checked):
    by_ip, by_name, swallowed = results_of(checked[0], "network")
    assert by_ip.status == "failed"
    assert by_ip.message.startswith("network access refused: connect to 10.255.255.1:80")
    assert by_ip.line == line_of("network", "10.255.255.1")
    assert by_name.status == "failed"
    assert by_name.message.startswith("network access refused: name lookup of 'example.com'")
    assert by_name.line == line_of("network", "urlopen")
    assert swallowed.status == "failed"  # catching the error does not hide the attempt
    assert "connect to 8.8.8.8:53" in swallowed.message
    assert swallowed.line == line_of("network", "8.8.8.8")


def test_programs_a_block_starts_cannot_reach_the_network_either(checked):
    report = checked[0]
    assert report.network == "sandbox"
    result = only(report, "escape")
    assert result.status == "passed", result.message
    assert result.output.strip() == "OSError: [Errno 101] Network is unreachable"


def test_loopback_stays_reachable(checked):
    result = only(checked[0], "loopback")
    assert result.status == "passed", result.message
    assert "loopback 200" in result.output.splitlines()  # (the server also logs the request)


def test_any_base_url_is_redirected_to_the_stub_for_sync_async_and_streaming_clients(checked):
    result = only(checked[0], "sdk-variants")
    assert result.status == "passed", result.message + result.output
    assert result.output.splitlines() == ["streamed 0", f"async {STUB_REPLY}"]


def test_broken_json_yaml_toml_bibtex_and_shell_are_reported_at_their_lines(checked):
    results = results_of(checked[0], "formats")
    failed = {(r.language, r.line): r.message for r in results if r.status == "failed"}
    assert set(failed) == {
        ("json", line_of("formats", '"stream": tru')),
        ("yaml", line_of("formats", "   content: hi")),
        ("toml", line_of("formats", "temperature =")),
        ("bibtex", line_of("formats", "@article{qwen25")),
        ("bibtex", line_of("formats", "year={2024}", occurrence=2)),
        ("bash", line_of("formats", 'echo "$i"')),
        ("sh", line_of("formats", 'if [ "$name"')),
    }
    messages = " | ".join(failed.values())
    assert "lacks the required field journal" in messages
    assert "shellcheck SC3014" in messages  # == is not POSIX sh
    passed = [r.language for r in results if r.status == "passed"]
    assert sorted(passed) == ["console", "json", "toml", "yaml"]
    assert [r.language for r in results if r.status == "unchecked"] == ["text", "(none)"]


def test_markers_skip_no_run_check_false_and_setup(checked):
    report = checked[0]
    skipped, no_run, no_run_broken, check_false, uses_setup = results_of(report, "markers")
    assert skipped.status == "skipped"
    assert no_run.status == "passed" and no_run.message == "compiled, not run"
    assert no_run_broken.status == "failed" and no_run_broken.line == line_of("markers", "def broken(:")
    assert check_false.status == "skipped"
    assert uses_setup.status == "passed", uses_setup.message
    assert uses_setup.output == "hello from setup\n"
    unknown = [f for f in report.findings if f.path.parent.name == "markers"]
    assert [(f.line, f.kind) for f in unknown] == [(line_of("markers", "snippet: sometimes"), "marker")]


def test_blocks_in_shortcodes_lists_and_nested_fences_keep_their_lines(checked):
    in_shortcode, in_list, nested = results_of(checked[0], "structure")
    assert in_shortcode.status == "failed"
    assert in_shortcode.message == "NameError: name 'missing_name' is not defined"
    assert in_shortcode.line == line_of("structure", "missing_name")  # front matter counted
    assert in_list.status == "passed" and in_list.output == "in a list\n"
    assert (nested.language, nested.status) == ("markdown", "unchecked")


def test_highlight_shortcodes_are_checked_by_language_and_indented_blocks_only_counted(checked):
    python, skipped, json_block, indented, indented_skipped = results_of(checked[0], "highlight")
    assert (python.language, python.status, python.output) == ("python", "passed", "hello from a shortcode\n")
    assert python.first_line == line_of("highlight", "def greet():")
    assert (skipped.language, skipped.status) == ("python", "skipped")
    assert (json_block.language, json_block.status) == ("json", "failed")
    assert json_block.line == line_of("highlight", '"qwen-max",,')
    assert (indented.language, indented.status) == ("(indented)", "unchecked")
    assert indented.first_line == line_of("highlight", "an indented block")
    assert (indented_skipped.language, indented_skipped.status) == ("(indented)", "skipped")
    assert not [f for f in checked[0].findings if f.path.parent.name == "highlight"]


def test_a_block_that_forks_gets_the_usual_fork_handling(checked):
    result = only(checked[0], "fork")
    assert result.status == "passed", result.message + result.output
    assert result.output == "grandchild 0\n"


def test_a_block_cannot_reach_its_worker_to_kill_it(checked):
    # Its parent is outside its PID namespace (getppid() is 0), and kill(0) reaches only its own group, in
    # which it is the first process: the kernel ignores a SIGKILL it sends itself. (A worker killed from
    # outside: tests/snippets/test_sandbox.py.)
    result = only(checked[0], "a-worker-killer")
    assert (result.status, result.output) == ("passed", "parent 0\nstill here\n"), result.message
    assert not [r for r in checked[0].results if "snippet worker died" in r.message]


def test_clients_a_sample_brings_reach_the_stub_over_http(checked):
    result = only(checked[0], "http-stub")
    assert result.status == "passed", result.message + result.output
    assert result.output.splitlines() == ["own client chat.completion", "requests 400 messages[0].role"]


def test_a_block_repeated_with_the_same_setup_runs_once_and_a_failing_one_is_reported_in_each_post(checked):
    report, project = checked
    first, failing_first = results_of(report, "repeat-a")
    repeated, failing_repeated = results_of(report, "repeat-b")
    (other_setup,) = results_of(report, "repeat-c")
    assert (first.status, first.same_as) == ("passed", None)
    # One run for repeat-a and repeat-b (each run prints random bytes of its own), one for repeat-c.
    assert (repeated.status, repeated.output) == ("passed", first.output)
    assert repeated.same_as == (first.path, first.first_line) != (repeated.path, repeated.first_line)
    assert (other_setup.status, other_setup.same_as) == ("passed", None)
    assert other_setup.output != first.output
    for failing, name in ((failing_first, "repeat-a"), (failing_repeated, "repeat-b")):
        assert failing.status == "failed" and failing.same_as is None
        assert "JSONDecodeError" in failing.message
        assert failing.line == line_of(name, "json.loads(") and "json.loads" in failing.output
    assert line_of("repeat-a", "json.loads(") != line_of("repeat-b", "json.loads(")
    text = report.render(verbose=True).splitlines()
    assert "1 Python block identical to another (code and setup) took its result instead of running again" in text
    assert (f"content/blog/repeat-b/index.md:{repeated.first_line}: python: passed "
            f"(as content/blog/repeat-a/index.md:{first.first_line}, run once for both), printed:") in text


def test_two_results_a_worker_sends_at_once_are_both_seen_by_the_runner():
    # A worker answers the next block while the runner, on a busy machine, has not read the last answer
    # yet: both arrive in one read. The runner waits on its selector for the pipe, so the second must still
    # be in the pipe, not in a buffer of the stream, or the run hangs waiting for it.
    import select

    from scripts.snippets.run import result_stream
    from scripts.snippets.worker import read_frame, send_frame

    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "wb") as worker, result_stream(read_end) as results:
        send_frame(worker, {"id": 1})
        send_frame(worker, {"id": 2})
        assert read_frame(results) == {"id": 1}
        assert select.select([results], [], [], 0)[0] == [results]
        assert read_frame(results) == {"id": 2}


def test_the_line_scan_leaves_bodies_it_cannot_read_to_markdown_it():
    # scripts/content/fences.py is held to markdown-it in tests/test_markdown_fences.py; check-snippets
    # also refuses a line indented outside the fences, which may be an indented code block.
    from scripts.snippets.extract import _flat_fences

    assert [(b.line, b.info, b.content) for b in _flat_fences("text\n\n```python\nx = 1\n```\n")] == [(3, "python", "x = 1\n")]
    for not_flat in ("- item\n\n  ```", "> ```", "<div>\n```\n</div>", "1. x\n```", "\t```", "text\n\n    code"):
        assert _flat_fences(not_flat) is None


def test_report_lists_each_problem_as_file_line_language_then_a_table(checked):
    report, project = checked
    assert not report.ok
    lines = report.render().splitlines()
    expected = f"content/blog/exception/index.md:{line_of('exception', 'raise ValueError')}: python: ValueError: boom"
    assert expected in lines
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["language"])
    assert lines[header].split() == ["language", "checked", "passed", "failed", "not-run", "skipped", "unchecked"]
    rows = {line.split()[0]: line.split()[1:] for line in lines[header + 1:] if len(line.split()) == 7}
    python = dict(zip(["checked", "passed", "failed", "not-run", "skipped", "unchecked"], map(int, rows["python"])))
    counted = [r for r in report.results if r.language == "python"]
    assert python["failed"] == sum(r.status == "failed" for r in counted)
    assert python["skipped"] == 3  # two in "markers", one in "highlight"
    assert python["checked"] == python["passed"] + python["failed"]


def test_the_real_posts_pass_and_the_announcement_prints_its_message():
    report = check_snippets(ROOT / "content", project_root=ROOT)
    assert report.ok, report.render()
    announcement = [r for r in report.results if r.path == ANNOUNCEMENT and r.language == "python"]
    assert len(announcement) == 1
    assert announcement[0].status == "passed"
    assert announcement[0].output.startswith("ChatCompletionMessage(content=")
    assert STUB_REPLY in announcement[0].output


def test_task_prints_file_line_language_message_and_exits_1():
    project = Path(tempfile.mkdtemp(prefix="snippets-task-"))
    try:
        shutil.copy2(ROOT / "tasks.py", project / "tasks.py")
        shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
        bundle = project / "content" / "blog" / "post"
        bundle.mkdir(parents=True)
        text = post("Post", fence("python", "import json\nprint(json.loads('{}'))\nprint(undefined)\n"))
        (bundle / "index.md").write_text(text, encoding="utf-8")
        run = subprocess.run([sys.executable, "-m", "invoke", "check-snippets"], cwd=project, capture_output=True,
                             text=True, timeout=120)
        assert run.returncode == 1, run.stdout + run.stderr
        bad_line = text.split("\n").index("print(undefined)") + 1
        assert f"content/blog/post/index.md:{bad_line}: python: NameError: name 'undefined' is not defined" in \
            run.stdout.splitlines()
        assert "Traceback" not in run.stderr
        assert run.stdout.splitlines()[-1].endswith("1 problem")
    finally:
        shutil.rmtree(project, ignore_errors=True)


# --- the stub on its own, over plain HTTP as the real API would be spoken to -----------------------------

@pytest.fixture(scope="module")
def stub_url() -> str:
    with OpenAIStub() as stub:
        yield stub.base_url


def post_chat(stub_url: str, body: object, *, key: str | None = "sk-test") -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.post(f"{stub_url}/chat/completions", data=json.dumps(body), headers=headers, timeout=10)


@pytest.mark.parametrize(("body", "status", "param"), [
    ({"messages": [{"role": "user", "content": "hi"}]}, 400, "model"),
    ({"model": 7, "messages": [{"role": "user", "content": "hi"}]}, 400, "model"),
    ({"model": "qwen-max"}, 400, "messages"),
    ({"model": "qwen-max", "messages": []}, 400, "messages"),
    ({"model": "qwen-max", "messages": [{"role": "robot", "content": "hi"}]}, 400, "messages[0].role"),
    ({"model": "qwen-max", "messages": [{"role": "user"}]}, 400, "messages[0].content"),
    ({"model": "qwen-max", "messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content"),
    ({"model": "qwen-max", "messages": [{"role": "system", "content": [{"type": "image_url",
                                                                         "image_url": {"url": "x"}}]}]},
     400, "messages[0].content[0].type"),
    ({"model": "qwen-max", "messages": [{"role": "tool", "content": "42"}]}, 400, "messages[0].tool_call_id"),
    ({"model": "qwen-max", "messages": [{"role": "user", "content": "hi"}], "temprature": 1}, 400, "temprature"),
    ({"model": "qwen-max", "messages": [{"role": "user", "content": "hi"}], "temperature": 3}, 400, "temperature"),
])
def test_stub_rejects_what_the_api_rejects_in_openais_error_shape(stub_url, body, status, param):
    reply = post_chat(stub_url, body)
    assert reply.status_code == status
    error = reply.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


def test_stub_rejects_unknown_endpoints_missing_keys_and_bad_json(stub_url):
    unknown = requests.post(f"{stub_url}/chat/complete", json={}, headers={"Authorization": "Bearer k"}, timeout=10)
    assert unknown.status_code == 404 and "Invalid URL" in unknown.json()["error"]["message"]
    no_key = post_chat(stub_url, {"model": "m", "messages": [{"role": "user", "content": "hi"}]}, key=None)
    assert no_key.status_code == 401 and "API key" in no_key.json()["error"]["message"]
    garbled = requests.post(f"{stub_url}/chat/completions", data="{not json", timeout=10,
                            headers={"Authorization": "Bearer k"})
    assert garbled.status_code == 400 and "JSON body" in garbled.json()["error"]["message"]


def test_stub_answers_a_valid_request_with_a_chat_completion_the_sdk_parses(stub_url):
    client = openai.OpenAI(api_key="sk-test", base_url=stub_url, max_retries=0)
    completion = client.chat.completions.create(
        model="qwen-max-2025-01-25", n=2,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}])
    assert completion.object == "chat.completion"
    assert completion.model == "qwen-max-2025-01-25"
    assert [c.index for c in completion.choices] == [0, 1]
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == STUB_REPLY
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    with pytest.raises(openai.BadRequestError, match="robot"):
        client.chat.completions.create(model="qwen-max", messages=[{"role": "robot", "content": "Hi"}])
