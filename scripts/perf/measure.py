"""Measuring a process tree: wall time, CPU time (user + system of every process in it) and peak memory.

Peak memory: the measuring process makes itself the "child subreaper" (prctl), so every descendant — even
one whose parent exits first — stays in its tree; a sampler thread sums the RSS of all live descendants every
10 ms, and the result is at least the kernel's ru_maxrss of the largest single process (wait4), which
catches a peak between two samples. Summed RSS counts pages shared between processes more than once, so
the figure errs high, never low.
"""
from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
SAMPLE_INTERVAL = 0.01
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
STEP_TIMEOUT = 3600.0
ORPHAN_GRACE = 5.0


@dataclass
class Sample:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    exit_code: int
    output_tail: str = ""
    leftover_processes: int = 0  # still running ORPHAN_GRACE s after the step ended, then killed
    timed_out: bool = False  # stopped at the step's timeout: `seconds` is a lower bound
    largest_rss_mb: float = 0.0  # the peak of the largest single process (the kernel's ru_maxrss)


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to us instead of init, so the sampler still sees them."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
        except OSError:
            pass
    return kids


def descendants(pid: int) -> list[int]:
    found, todo = [], _children(pid)
    while todo:
        child = todo.pop()
        found.append(child)
        todo += _children(child)
    return found


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class TreeSampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self._done = threading.Event()
        self._me = os.getpid()

    def run(self) -> None:
        while not self._done.is_set():
            total = sum(_rss_bytes(pid) for pid in descendants(self._me))
            self.peak = max(self.peak, total)
            self._done.wait(SAMPLE_INTERVAL)

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def measure(argv: list[str] | tuple[str, ...], *, cwd: Path, timeout: float = STEP_TIMEOUT) -> Sample:
    """Run one command to completion; its wall time, CPU time and the peak RSS of its whole process tree."""
    with tempfile.TemporaryFile() as output:
        sampler = TreeSampler()
        sampler.start()
        started = time.perf_counter()
        proc = subprocess.Popen(list(argv), cwd=cwd, stdin=subprocess.DEVNULL, stdout=output,
                                stderr=subprocess.STDOUT)
        deadline = started + timeout
        status, timed_out = None, False
        while status is None:  # wait4 (not Popen.wait) for the child's own rusage
            pid, raw_status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                status = raw_status
                break
            if time.perf_counter() > deadline and not timed_out:
                timed_out = True
                kill([proc.pid, *descendants(proc.pid)])  # LinkChecker and the server it crawls
            time.sleep(0.005)
        seconds = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        # Work a step left behind in the background still counts towards its memory and CPU.
        leftover, orphans_cpu = finish_orphans(ORPHAN_GRACE)
        tree_peak = sampler.stop()
        cpu = usage.ru_utime + usage.ru_stime + orphans_cpu
        peak = max(tree_peak, usage.ru_maxrss * 1024)
        output.seek(0)
        tail = output.read()[-4000:].decode("utf-8", "replace")
    return Sample(seconds=round(seconds, 4), cpu_seconds=round(cpu, 3), peak_rss_mb=round(peak / MB, 1),
                  exit_code=proc.returncode, output_tail=tail if proc.returncode else "",
                  leftover_processes=leftover, timed_out=timed_out,
                  largest_rss_mb=round(usage.ru_maxrss * 1024 / MB, 1))


def kill(pids: list[int]) -> int:
    """SIGKILL each process still there; returns how many were."""
    killed = 0
    for pid in pids:
        try:
            os.kill(pid, 9)
            killed += 1
        except ProcessLookupError:
            pass
    return killed


def finish_orphans(grace: float) -> tuple[int, float]:
    """Wait up to `grace` seconds for descendants that outlived the step (re-parented to us), then kill the
    rest; reap them all. Returns how many had to be killed and the CPU time of those reaped."""
    cpu, deadline, killed = 0.0, time.perf_counter() + grace, 0
    while True:
        try:
            pid, _, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid:
            cpu += usage.ru_utime + usage.ru_stime
            continue
        alive = descendants(os.getpid())
        if time.perf_counter() > deadline and alive:
            killed += kill(alive)
            deadline = float("inf")
        time.sleep(0.01)
    return killed, cpu


def tree_cpu_seconds(pid: int) -> float:
    """CPU time used so far by a running process and its descendants, with the children they have reaped."""
    total = 0
    for each in (pid, *descendants(pid)):
        try:
            with open(f"/proc/{each}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # After the command name (in parentheses, may hold spaces): utime, stime, cutime, cstime are 14-17.
        fields = stat[stat.rindex(")") + 2:].split()
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS
