"""The sandbox Python samples run in (docs/sandbox.md), tried the way a hostile post would: each sample here
attacks the machine that checks it, through `invoke check-snippets` as a user runs it, on a copy of the
project's tools. The samples expected to pass get a generous timeout; the check as a whole is bounded, so a
check that hangs fails its test instead of hanging the suite.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT

BLOCK_TIMEOUT = "60"  # seconds per block, far more than any block here needs that is expected to pass
CHECK_TIMEOUT = 240  # seconds for a whole check; a check still running then has hung
SECRET = f"secret-{secrets.token_hex(8)}"  # in the checker's environment, as a CI token would be
# Names (comm) the daemons and the slow block below give themselves, so that they can be found from outside.
TOKENS = {name: f"sbx{secrets.token_hex(5)}" for name in ("setsid", "session", "slow")}


def post(body: str) -> str:
    return f'---\ntitle: "Post"\ndate: 2025-01-28T23:00:04+08:00\n---\n\n```python\n{body.strip()}\n```\n'


def make_project(where: Path, posts: dict[str, str]) -> Path:
    """The project's tools (tasks.py, scripts/) and `posts` (name -> Markdown) under where/project."""
    project = where / "project"
    project.mkdir(parents=True)
    shutil.copy2(ROOT / "tasks.py", project / "tasks.py")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in posts.items():
        bundle = project / "content" / "blog" / name
        bundle.mkdir(parents=True)
        (bundle / "index.md").write_text(text, encoding="utf-8")
    return project


def run_check(project: Path, *options: str, env: dict[str, str] | None = None,
              prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`invoke check-snippets OPTIONS` in `project`; fails the test if it has not returned in CHECK_TIMEOUT."""
    environment = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    process = subprocess.Popen([*prefix, sys.executable, "-m", "invoke", "check-snippets", *options], cwd=project,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        out, err = process.communicate(timeout=CHECK_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"check-snippets had not returned after {CHECK_TIMEOUT} s")
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


@dataclass
class Block:
    line: int
    text: str  # what the report says after `python: `
    printed: list[str] = field(default_factory=list)  # with --verbose, what a passing block printed


def blocks(stdout: str) -> dict[str, Block]:
    """The report's line about each post's (single) Python block, by post name."""
    found: dict[str, Block] = {}
    last = None
    for line in stdout.splitlines():
        match = re.match(r"^content/blog/([^/]+)/index\.md:(\d+): python: (.*)$", line)
        if match:
            last = found[match.group(1)] = Block(int(match.group(2)), match.group(3))
        elif line.startswith("    ") and last is not None:
            last.printed.append(line[4:])
        else:
            last = None
    return found


def processes_named(name: str) -> list[int]:
    """Processes of this machine whose name (comm) is `name`."""
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == name:
                pids.append(int(entry))
        except OSError:
            pass
    return pids


# A daemon names itself (prctl PR_SET_NAME) so that it can be found from outside; its block waits until it has.
DAEMON_NAMED = """
import time
deadline = time.monotonic() + 30
while open(f"/proc/{{pid}}/comm").read().strip() != {token!r} and time.monotonic() < deadline:
    time.sleep(0.01)
print("daemon running")
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    """One check of a project whose posts attack the machine, with a secret in the checker's environment;
    yields (its output, the project, the checker's HOME, the host paths the samples tried to write)."""
    where = tmp_path_factory.mktemp("hostile")
    home = where / "home"
    home.mkdir()
    victim = where / "project" / "content" / "blog" / "victim"
    targets = [str(where / "project" / "written-by-a-sample"), str(home / "written-by-a-sample"),
               f"/tmp/written-by-a-sample-{SECRET}", f"/dev/shm/written-by-a-sample-{SECRET}"]
    listener = socket.create_server(("127.0.0.1", 0))  # the host's loopback: not the sandbox's
    port = listener.getsockname()[1]
    connections: list[object] = []

    def accept() -> None:
        try:
            connections.append(listener.accept())
        except OSError:  # the listener closed at the end of the module's tests
            pass

    threading.Thread(target=accept, daemon=True).start()
    posts = {
        "environ": post(f"""
import os
seen = []
for pid in os.listdir("/proc"):
    try:
        if pid.isdigit() and {SECRET!r}.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
            seen.append(pid)
    except OSError:
        pass
pid = os.getppid()
while pid > 1:  # the parents, walked as the issue's sample did
    try:
        if {SECRET!r}.encode() in open(f"/proc/{{pid}}/environ", "rb").read():
            seen.append(pid)
        pid = int(open(f"/proc/{{pid}}/stat").read().rsplit(")", 1)[1].split()[1])
    except OSError:
        break
print("leaked" if seen else "nothing leaked")
"""),
        "writes": post(f"""
import shutil
for path in {targets!r}:
    try:
        open(path, "w").write("x")
    except OSError:
        pass
try:
    shutil.rmtree({str(victim)!r})
except OSError:
    pass
try:
    open({str(victim / "index.md")!r}, "a").write("appended by a sample")
except OSError:
    pass
print("tried")
"""),
        "daemon-setsid": post(f"""
import ctypes, os, time
pid = os.fork()
if pid == 0:  # keeps the block's pipes open, in a session of its own
    os.setsid()
    ctypes.CDLL(None).prctl(15, {TOKENS['setsid'].encode()!r})
    time.sleep(600)
    os._exit(0)
""" + DAEMON_NAMED.format(token=TOKENS["setsid"])),
        "daemon-session": post(f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", "import ctypes, time; "
                          "ctypes.CDLL(None).prctl(15, {TOKENS['session'].encode()!r}); time.sleep(600)"],
                         start_new_session=True)
pid = child.pid
""" + DAEMON_NAMED.format(token=TOKENS["session"])),
        "memory": post("hoard = bytearray(3 * 1024 ** 3)\nprint('allocated')"),
        "output": post("import sys\nsys.stdout.write('x' * (70 * 1024 * 1024))"),
        "network": post(f"""
import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=10)
    print("reached the host")
except OSError as err:
    print("refused:", err.errno)
"""),
        "stub": post("""
from openai import OpenAI
reply = OpenAI().chat.completions.create(model="qwen-max", messages=[{"role": "user", "content": "hi"}])
print(reply.object)
"""),
        "victim": post("print('a post a sample tries to change')"),
    }
    project = make_project(where, posts)
    victim_text = (victim / "index.md").read_text(encoding="utf-8")
    try:
        run = run_check(project, "--timeout", BLOCK_TIMEOUT, "--verbose",
                        env={"QWEN_CI_TOKEN": SECRET, "HOME": str(home)})
        yield run, project, victim_text, targets, connections
    finally:
        listener.close()
        for token in TOKENS.values():  # whatever outlived the check, so that it does not outlive the tests
            for pid in processes_named(token):
                os.kill(pid, signal.SIGKILL)
        for path in targets:
            Path(path).unlink(missing_ok=True)


def test_a_sample_cannot_read_the_environment_of_the_processes_that_started_it(hostile):
    run = hostile[0]
    assert blocks(run.stdout)["environ"].printed == ["nothing leaked"], run.stdout + run.stderr
    assert SECRET not in run.stdout + run.stderr


def test_a_sample_cannot_write_to_the_checkout_home_tmp_or_dev_shm_nor_delete_or_append(hostile):
    run, project, victim_text, targets, _ = hostile
    assert blocks(run.stdout)["writes"].printed == ["tried"], run.stdout + run.stderr
    assert [path for path in targets if os.path.exists(path)] == []
    assert (project / "content" / "blog" / "victim" / "index.md").read_text(encoding="utf-8") == victim_text


def test_what_a_block_starts_ends_with_it_and_the_check_returns(hostile):
    run = hostile[0]  # the fixture fails the module's tests if the check hangs
    found = blocks(run.stdout)
    assert found["daemon-setsid"].printed == ["daemon running"], run.stdout + run.stderr
    assert found["daemon-session"].printed == ["daemon running"]
    assert {name: processes_named(token) for name, token in TOKENS.items()} == {name: [] for name in TOKENS}


def test_memory_cap_is_named_with_the_option_that_raises_it(hostile):
    block = blocks(hostile[0].stdout)["memory"]
    assert block.text == "MemoryError (memory cap: 1 GiB per process; --memory raises it)"


def test_output_cap_is_named_with_the_option_that_raises_it(hostile):
    block = blocks(hostile[0].stdout)["output"]
    assert block.text == "output cap reached: a block may print 64 MiB (--max-output raises it)"


def test_the_only_network_is_the_sandboxs_loopback_with_the_stub(hostile):
    run, *_, connections = hostile
    found = blocks(run.stdout)
    assert found["network"].printed == ["refused: 111"]  # ECONNREFUSED: nothing listens on that port in there
    assert connections == []
    assert found["stub"].printed == ["chat.completion"]


def test_the_report_counts_every_block_and_says_nothing_of_running_unsandboxed(hostile):
    run = hostile[0]
    assert run.returncode == 1  # the memory and output blocks
    assert run.stdout.splitlines()[-1] == "9 blocks checked in 9 Markdown files: 2 problems"
    assert "unsandboxed" not in run.stdout


def test_cpu_time_cap_is_named_with_the_option_that_raises_it(tmp_path):
    project = make_project(tmp_path, {"spin": post("while True:\n    pass")})
    run = run_check(project, "--timeout", BLOCK_TIMEOUT, "--cpu-time", "1")
    assert run.returncode == 1, run.stdout + run.stderr
    assert blocks(run.stdout)["spin"].text == "CPU time cap reached: 1 s per process (--cpu-time raises it)"


def test_tracebacks_show_the_lines_of_each_block_that_ran_though_the_post_is_not_in_the_sandbox(tmp_path):
    from scripts.snippets.check import check_snippets
    from scripts.snippets.limits import Limits

    # What runs before the second block: the post's setup block, then the first block, which it continues.
    text = post("def explode():\n    raise ValueError('from the block above')").replace(
        "---\n\n", "---\n\n<!-- snippet: setup\nimport os\n-->\n\n", 1) + "\nThen:\n\n```python\nexplode()\n```\n"
    make_project(tmp_path, {"continued": text})
    content = tmp_path / "project" / "content"
    report = check_snippets(content, project_root=tmp_path / "project", limits=Limits(timeout=60), workers=1)
    first, second = report.results
    assert (first.status, second.status) == ("passed", "failed")
    assert "    raise ValueError('from the block above')\n" in second.output
    assert "    explode()\n" in second.output


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--memory", "12M", "error: --memory must be at least 256 MiB: a block starts from an interpreter that "
                        "already holds the OpenAI SDK"),
    ("--memory", "lots", "error: --memory takes a size such as 512M or 2G, not 'lots'"),
    ("--max-output", "1K", "error: --max-output must be at least 64 KiB"),
    ("--cpu-time", "0", "error: --cpu-time must be a positive number of seconds, not 0"),
])
def test_a_cap_out_of_range_is_a_usage_error(tmp_path, option, value, message):
    project = make_project(tmp_path, {"fine": post("print('fine')")})
    run = run_check(project, option, value)
    assert (run.returncode, run.stderr.strip(), run.stdout) == (2, message, "")


PROJECT_MOUNT = "/mnt"  # where the checkout is seen in the private namespaces, wherever it lives (under /tmp, say)


def in_private_namespaces(*mounts: str) -> tuple[str, ...]:
    """A command prefix that runs its command with fresh tmpfs mounted on `mounts`, and the checkout bound at
    PROJECT_MOUNT first: in a mount namespace of its own (as root), or also in a user namespace (as anyone else)."""
    own_user = () if os.geteuid() == 0 else ("--user", "--map-root-user")
    script = (f"mount --bind {shlex.quote(str(ROOT))} {PROJECT_MOUNT} && "
              + "".join(f"mount -t tmpfs tmpfs {path} && " for path in mounts) + 'exec "$@"')
    return ("unshare", *own_user, "--mount", "--propagation", "private", "sh", "-c", script, "sh")


def test_where_the_kernel_refuses_namespaces_the_check_says_how_to_fix_it(tmp_path):
    project = make_project(tmp_path, {"fine": post("print('fine')")})
    # A user namespace in which no further one may be made: the kernel refuses bwrap's.
    no_namespaces = ("unshare", "--user", "--map-root-user", "sh", "-c",
                     'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"', "sh")
    run = run_check(project, prefix=no_namespaces)
    assert (run.returncode, run.stdout) == (2, ""), run.stdout + run.stderr
    (line,) = run.stderr.splitlines()
    assert line.startswith("error: the snippet sandbox cannot start (bwrap: ")
    assert line.endswith("): user namespaces are off: sudo sysctl -w user.max_user_namespaces=10000, "
                         "or run the samples unconfined with `invoke check-snippets --unsandboxed`")
    unconfined = run_check(project, "--unsandboxed", prefix=no_namespaces)
    assert unconfined.returncode == 0, unconfined.stdout + unconfined.stderr
    assert ("warning: Python blocks ran unsandboxed (--unsandboxed): they could read and write what you can, "
            "and leave processes running") in unconfined.stdout.splitlines()


def test_kernel_fix_names_the_ubuntu_apparmor_setting():
    from scripts.snippets.sandbox import kernel_fix

    settings = {"kernel.apparmor_restrict_unprivileged_userns": "1", "user.max_user_namespaces": "63000"}
    assert kernel_fix(lambda name: settings.get(name, "")) == (
        "Ubuntu's AppArmor blocks unprivileged user namespaces: "
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0")


# Run inside private /tmp and /dev/shm (in_private_namespaces): starts the check in /tmp/project, kills the
# worker running the slow block (found by the name it gives itself), or the check itself, waits for every
# process it started to end (it is their subreaper), and prints what is left in /tmp and /dev/shm.
KILLER = r"""
import ctypes, json, os, shutil, signal, subprocess, sys, time
root, victim, name, posts = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
project = "/tmp/project"
os.mkdir(project)
shutil.copy2(os.path.join(root, "tasks.py"), project)
shutil.copytree(os.path.join(root, "scripts"), os.path.join(project, "scripts"),
                ignore=shutil.ignore_patterns("__pycache__"))
for slug, text in posts.items():
    os.makedirs(os.path.join(project, "content", "blog", slug))
    open(os.path.join(project, "content", "blog", slug, "index.md"), "w").write(text)
ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER

def parent(pid):
    try:
        return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        return 0

def named(pid):
    try:
        return open(f"/proc/{pid}/comm").read().strip() == name
    except OSError:
        return False

def descendants():
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    mine, found = {os.getpid()}, True
    while found:
        found = False
        for pid in pids:
            if pid not in mine and parent(pid) in mine:
                mine.add(pid)
                found = True
    return mine - {os.getpid()}

checker = subprocess.Popen([sys.executable, "-m", "invoke", "check-snippets", "--workers", "1", "--timeout", "60",
                            "--verbose"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
deadline = time.monotonic() + 120
block = None
while block is None and time.monotonic() < deadline:  # the slow block's process, child of its worker
    block = next((pid for pid in descendants() if named(pid)), None)
    time.sleep(0.02)
if block is None or parent(block) <= 1:
    sys.exit(f"no process named {name} found among {descendants()}")
os.kill(parent(block) if victim == "worker" else checker.pid, signal.SIGKILL)
output = checker.communicate(timeout=120)[0]
while descendants() and time.monotonic() < deadline:
    try:
        os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        pass
    time.sleep(0.02)
left = sorted(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace") for pid in descendants())
for pid in descendants():
    os.kill(pid, signal.SIGKILL)
print(json.dumps({"output": output, "processes": left, "tmp": sorted(set(os.listdir("/tmp")) - {"project"}),
                  "shm": sorted(os.listdir("/dev/shm"))}))
"""
SLOW_THEN_FAST = {"slow": post(f"import ctypes, time\nctypes.CDLL(None).prctl(15, {TOKENS['slow'].encode()!r})\n"
                                "time.sleep(30)\nprint('slept')"),
                  "so-fast": post("print('fast')")}


def kill_during_check(victim: str) -> dict[str, object]:
    run = subprocess.run([*in_private_namespaces("/tmp", "/dev/shm"), sys.executable, "-c", KILLER, PROJECT_MOUNT, victim,
                          TOKENS["slow"], json.dumps(SLOW_THEN_FAST)], capture_output=True, text=True,
                         timeout=CHECK_TIMEOUT)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(run.stdout)


def test_a_killed_worker_fails_its_block_and_leaves_nothing_behind():
    left = kill_during_check("worker")
    found = blocks(left["output"])
    assert found["slow"].text == "the snippet worker died running this block"
    assert found["so-fast"].printed == ["fast"]  # on a fresh worker
    assert (left["processes"], left["tmp"], left["shm"]) == ([], [], [])


def test_a_killed_check_leaves_no_process_and_nothing_in_tmp_or_dev_shm():
    left = kill_during_check("check")
    assert (left["processes"], left["tmp"], left["shm"]) == ([], [], [])
