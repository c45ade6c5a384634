"""`invoke serve`, run as a user runs it, stopped the ways a terminal or a supervisor stops it."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_project

WAIT_SECONDS = 120  # for the server to answer, and then for its processes to end: bounds, not measurements


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return response.status == 200
    except OSError:
        return False


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie has ended: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.2)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_a_stop_signal_to_invoke_stops_hugo_too(tmp_path: Path, signum: int):
    project = copy_project(tmp_path / "project")
    shutil.copy2(ROOT / "tasks.py", project / "tasks.py")
    shutil.copytree(ROOT / "scripts", project / "scripts", ignore=shutil.ignore_patterns("__pycache__"))
    port = free_port()
    invoke = subprocess.Popen([sys.executable, "-m", "invoke", "serve", "--port", str(port)], cwd=project,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    hugo: list[int] = []
    try:
        wait_until(lambda: answers(port) or invoke.poll() is not None, "the server to answer")
        assert invoke.poll() is None, invoke.stderr.read().decode()
        hugo = [pid for pid in children(invoke.pid) if b"hugo" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(hugo) == 1

        os.kill(invoke.pid, signum)  # to invoke alone, as a supervisor, a closed terminal or an OOM killer does

        invoke.wait(timeout=WAIT_SECONDS)
        wait_until(lambda: not running(hugo[0]), f"hugo (pid {hugo[0]}) to end")
        assert not answers(port)
        assert b"Traceback" not in invoke.stderr.read()
    finally:
        for pid in hugo:
            if running(pid):
                os.kill(pid, signal.SIGKILL)  # the orphan this test is about, left by a failing run
        if invoke.poll() is None:
            invoke.kill()
            invoke.wait()
        invoke.stderr.close()
