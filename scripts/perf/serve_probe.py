"""Timing a live-reload server as a writer meets it: how long until it serves the site, and how long an edit
to one post takes to show on that post's page.

The server's whole process tree is measured: wall time, CPU time (read from /proc while it runs) and peak
memory. An edit appends a word of its own to the post's Markdown file; it counts as visible when a request
for the post's page returns that word, and its CPU is what the tree used from the write until it fell idle
again (so the whole rebuild, not just the part before the page changed). Edits start at a random moment:
Hugo hands file changes to its rebuild in batches every 500 ms, so an edit waits 0-500 ms for the next
batch, as a writer's does.
"""
from __future__ import annotations

import os
import random
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from scripts.perf.measure import MB, Sample, TreeSampler, finish_orphans, tree_cpu_seconds

READY_TIMEOUT = 600.0
EDIT_TIMEOUT = 60.0
POLL_SECONDS = 0.01
IDLE_SECONDS = 0.5  # the tree counts as idle once it used under IDLE_CPU in this long
IDLE_CPU = 0.02
BATCH_SECONDS = 0.5  # Hugo's watcher delivers file events on a 500 ms tick


@dataclass(frozen=True)
class ServeTiming:
    ready: Sample  # start until the home page is served
    edit: Sample  # the median edit: write until the page shows it (CPU: until the server is idle again)
    edit_seconds: tuple[float, ...]  # every edit's wall time, in order
    edit_cpu_seconds: tuple[float, ...]


@dataclass(frozen=True)
class EditTarget:
    source: Path  # the Markdown file edited
    url_path: str  # its page on the server, e.g. /blog/<slug>/


def probe_server(argv: list[str], *, cwd: Path, base_url: str, target: EditTarget, edits: int = 5,
                 seed: int = 0) -> ServeTiming:
    """Start the server, wait until it serves `base_url`, make `edits` edits to `target`, stop it.
    The file is restored afterwards."""
    original = target.source.read_bytes()
    rng = random.Random(seed)
    sampler = TreeSampler()
    with tempfile.TemporaryFile() as output:
        sampler.start()
        started = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            if _wait_for(base_url, lambda body: True, READY_TIMEOUT, proc) is None:
                output.seek(0)
                tail = output.read()[-4000:].decode("utf-8", "replace")
                ready = Sample(seconds=time.perf_counter() - started, cpu_seconds=tree_cpu_seconds(proc.pid),
                               peak_rss_mb=0.0, exit_code=proc.poll() or 1, output_tail=tail)
                return ServeTiming(ready=ready, edit=ready, edit_seconds=(), edit_cpu_seconds=())
            ready_seconds, ready_cpu = time.perf_counter() - started, tree_cpu_seconds(proc.pid)
            page_url = base_url.rstrip("/") + target.url_path
            _wait_for(page_url, lambda body: True, EDIT_TIMEOUT, proc)  # a page visited, as in a browser
            _wait_until_idle(proc.pid)
            walls, cpus = [], []
            for number in range(edits):
                time.sleep(rng.uniform(0, BATCH_SECONDS))
                word = f"benchedit{number}x{rng.randrange(10 ** 9)}"
                cpu_before, edited = tree_cpu_seconds(proc.pid), time.perf_counter()
                with target.source.open("ab") as f:
                    f.write(f"\n\n{word}\n".encode())
                if _wait_for(page_url, lambda body: word in body, EDIT_TIMEOUT, proc) is None:
                    raise TimeoutError(f"{target.url_path} did not show an edit within {EDIT_TIMEOUT:g} s")
                walls.append(time.perf_counter() - edited)
                cpus.append(_wait_until_idle(proc.pid) - cpu_before)
        finally:
            target.source.write_bytes(original)
            _stop(proc)
            finish_orphans(grace=5.0)
            peak = sampler.stop() / MB
    ready = Sample(seconds=round(ready_seconds, 4), cpu_seconds=round(ready_cpu, 3), peak_rss_mb=round(peak, 1),
                   exit_code=0)
    edit = Sample(seconds=round(statistics.median(walls), 4), cpu_seconds=round(statistics.median(cpus), 3),
                  peak_rss_mb=round(peak, 1), exit_code=0)
    return ServeTiming(ready=ready, edit=edit, edit_seconds=tuple(round(w, 4) for w in walls),
                       edit_cpu_seconds=tuple(round(c, 3) for c in cpus))


def _wait_for(url: str, accept, timeout: float, proc: subprocess.Popen) -> str | None:
    """Poll `url` until its body satisfies `accept`; the body, or None on timeout or if the server exits."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = response.read().decode("utf-8", "replace")
            if accept(body):
                return body
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(POLL_SECONDS)
    return None


def _wait_until_idle(pid: int) -> float:
    """Wait until the tree has used under IDLE_CPU of CPU in IDLE_SECONDS; its CPU time when it went idle."""
    last = tree_cpu_seconds(pid)
    while True:
        time.sleep(IDLE_SECONDS)
        now = tree_cpu_seconds(pid)
        if now - last < IDLE_CPU:
            return last
        last = now


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
