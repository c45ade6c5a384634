"""`scripts.site.hugo.build` against a Hugo that hangs. Hugo 0.168 can hang for good after a template fails
while rendering; a hung Hugo uses no CPU, so build() kills one that has used none for a while and runs
it again. Stopping the real binary with SIGSTOP makes the same state on demand."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scripts.errors import CheckFailed
from scripts.site.hugo import BUILD_ATTEMPTS, BUSY_SECONDS, BuildOptions, _activity_seconds, build
from tests.conftest import copy_project

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="hang detection reads /proc")


def running_hugos() -> set[int]:
    """Hugo processes started by this test process."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if name == "hugo" and int(fields[1]) == os.getpid() and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


class HugoFreezer(threading.Thread):
    """Stops (SIGSTOP) each of the first `count` Hugo processes this test starts, as Hugo's hang would."""

    def __init__(self, count: int):
        super().__init__(daemon=True)
        self.count = count
        self.frozen: list[int] = []
        self.seen: set[int] = set()
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for pid in running_hugos() - self.seen:
                self.seen.add(pid)
                if len(self.frozen) < self.count:
                    os.kill(pid, signal.SIGSTOP)
                    self.frozen.append(pid)
            time.sleep(0.005)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = copy_project(tmp_path / "project", with_content=False)
    (root / "content" / "blog").mkdir()
    (root / "content" / "blog" / "hello.md").write_text(
        "---\ntitle: Hello\ndate: 2024-05-01T10:00:00+08:00\n---\n\nHello.\n", encoding="utf-8")
    return root


def test_a_hugo_that_hangs_is_stopped_and_run_again(project: Path):
    freezer = HugoFreezer(count=1)
    freezer.start()
    try:
        build(BuildOptions(source=project, destination=project / "public", stall_seconds=2))
    finally:
        freezer.done.set()
        freezer.join()
    assert len(freezer.frozen) == 1 and len(freezer.seen) == 2, "the hung Hugo was run again, once"
    assert not Path(f"/proc/{freezer.frozen[0]}").exists(), "the hung Hugo was killed"
    assert "Hello" in (project / "public" / "blog" / "hello" / "index.html").read_text(encoding="utf-8")


def test_a_hugo_that_hangs_every_time_fails_the_build_in_one_line(project: Path):
    freezer = HugoFreezer(count=BUILD_ATTEMPTS)
    freezer.start()
    try:
        with pytest.raises(CheckFailed) as err:
            build(BuildOptions(source=project, destination=project / "public", stall_seconds=1))
    finally:
        freezer.done.set()
        freezer.join()
    assert len(freezer.seen) == BUILD_ATTEMPTS
    assert not any(Path(f"/proc/{pid}").exists() for pid in freezer.frozen), "no hung Hugo left behind"
    message = str(err.value)
    assert "\n" not in message
    assert f"used no CPU for 1 s, {BUILD_ATTEMPTS} times" in message and "hugo build --source" in message


def test_a_hugo_waiting_for_another_builds_lock_is_not_taken_for_hung(project: Path):
    # Another build of the same project holds .hugo_build.lock for longer than all attempts' stall time.
    lock = os.open(project / ".hugo_build.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(lock, fcntl.LOCK_EX)
    release = threading.Timer(BUILD_ATTEMPTS * 1 + 3, fcntl.flock, (lock, fcntl.LOCK_UN))
    release.start()
    try:
        build(BuildOptions(source=project, destination=project / "public", stall_seconds=1))
    finally:
        release.cancel()
        release.join()
        os.close(lock)  # here, not in the timer: a build that failed early must not leave it open
    assert (project / "public" / "blog" / "hello" / "index.html").is_file()


HANGING_SITE_CONFIG = "baseURL: https://example.org/\ndisableKinds: [taxonomy, term, rss, sitemap]\n"


def test_builds_whose_templates_fail_report_the_error_even_when_hugo_hangs(tmp_path: Path):
    # Hugo's own hang, not a simulated one: with every page failing, about half of these builds hang.
    root = tmp_path / "hangs"
    (root / "layouts" / "_shortcodes").mkdir(parents=True)
    (root / "content" / "posts").mkdir(parents=True)
    (root / "hugo.yaml").write_text(HANGING_SITE_CONFIG, encoding="utf-8")
    (root / "layouts" / "_shortcodes" / "boom.html").write_text('{{ int "not a number" }}\n', encoding="utf-8")
    (root / "layouts" / "single.html").write_text("<p>{{ .Content }}</p>\n", encoding="utf-8")
    (root / "layouts" / "list.html").write_text("<p>{{ len .Pages }}</p>\n", encoding="utf-8")
    for n in range(300):
        (root / "content" / "posts" / f"p{n}.md").write_text(f"---\ntitle: P{n}\n---\n{{{{< boom >}}}}\n",
                                                            encoding="utf-8")
    for _ in range(6):
        with pytest.raises(CheckFailed) as err:
            build(BuildOptions(source=root, destination=root / "public", stall_seconds=2))
        assert 'unable to cast "not a number"' in str(err.value)
        assert "shortcodes/boom.html" in str(err.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="raising a process's priority needs root")
def test_a_hugo_starved_of_cpu_is_not_taken_for_hung():
    # On a busy machine a working Hugo may get almost no CPU for seconds, but it waits to run: that counts.
    spin = [sys.executable, "-c", "while True: pass"]
    pin = lambda: os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # noqa: E731
    hog = subprocess.Popen(spin, preexec_fn=lambda: (pin(), os.nice(-20)))
    starved = subprocess.Popen(spin, preexec_fn=pin)
    try:
        time.sleep(0.5)
        cpu_before, activity_before = _cpu(starved.pid), _activity_seconds(starved.pid)
        time.sleep(1.0)
        cpu, activity = _cpu(starved.pid) - cpu_before, _activity_seconds(starved.pid) - activity_before
    finally:
        for process in (hog, starved):
            process.kill()
            process.wait()
    assert cpu < BUSY_SECONDS, "the starved process should barely have run"
    assert activity >= 10 * BUSY_SECONDS


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
